import test from 'ava';
import { firewallSection } from '../../../cli/commands/status.js';
import type { StatusMessage } from '../../../daemon/grpc/messages.js';

const passage = (present: boolean) => ({
  owner: 'docker',
  backend: 'nftables',
  family: 'ip',
  table: 'filter',
  chain: 'DOCKER-USER',
  reason: "Docker's ip filter FORWARD drops forwarded traffic it does not accept (policy drop)",
  present,
});
const status = (firewall: Pick<StatusMessage, 'firewallDevices' | 'firewallPassages' | 'firewallError'>) => firewall as StatusMessage;

test('berth status, firewall: added rows while the re-check works; MISSING and the error when it failed', (t) => {
  const ok = firewallSection(status({ firewallDevices: ['bn-a'], firewallPassages: [passage(true)], firewallError: '' }));
  t.regex(ok, /^docker\s+ip filter DOCKER-USER\s+added\s+Docker's/m);
  t.notRegex(ok, /FAILED/);
  const failed = firewallSection(status({ firewallDevices: ['bn-a'], firewallPassages: [passage(false)], firewallError: 'nft: Operation not permitted' }));
  t.regex(failed, /^Firewall:\s+re-check FAILED, .*: nft: Operation not permitted$/m);
  t.regex(failed, /^docker\s+ip filter DOCKER-USER\s+MISSING\s+Docker's/m);
  const first = firewallSection(status({ firewallDevices: [], firewallPassages: [], firewallError: 'nft: Operation not permitted' }));
  t.regex(first, /re-check FAILED/);
  t.notRegex(first, /no other firewall drops/, 'a failure is not reported as a clean host');
});
