import test from 'ava';
import { parseIpWithPrefix } from '../../../core/ip.js';
import { closeFd, openNetnsFd } from '../../../dataplane/linux/index.js';
import { shOk } from '../../support/netns.js';
import { indexOf, namespaces } from './helpers/ip.js';
import type { TestNetns } from './helpers/ip.js';

/** Plugs `ctr` into the bridge of `host` with a veth whose peer is made inside `ctr`. */
function plug(host: TestNetns, bridge: number, ctr: TestNetns, hostEnd: string, address: string): void {
  const fd = openNetnsFd(ctr.path);
  try {
    host.nl.addLink({ kind: 'veth', name: hostEnd, master: bridge, up: true, peer: { name: 'eth0', netnsFd: fd } });
  } finally {
    closeFd(fd);
  }
  const eth0 = indexOf(ctr.nl, 'eth0');
  ctr.nl.addAddress(eth0, parseIpWithPrefix(address));
  ctr.nl.addAddress(eth0, parseIpWithPrefix(address.replace(/^10\.90\.0\.(\d+)\/24$/, 'fd00:90::$1/64')), { noDad: true });
  ctr.nl.setLink(eth0, { up: true });
}

test('two namespaces ping each other over a bridge built only with this module', (t) => {
  const [host, c1, c2] = namespaces(t, 3);
  if (!host || !c1 || !c2) return t.fail();
  host.nl.addLink({ kind: 'bridge', name: 'br0', up: true });
  const br = indexOf(host.nl, 'br0');
  plug(host, br, c1, 'veth-c1', '10.90.0.1/24');
  plug(host, br, c2, 'veth-c2', '10.90.0.2/24');
  t.true(shOk('ip', ['netns', 'exec', c1.name, 'ping', '-c', '1', '-W', '2', '10.90.0.2']), 'IPv4 ping c1 -> c2');
  t.true(shOk('ip', ['netns', 'exec', c2.name, 'ping', '-6', '-c', '1', '-W', '2', 'fd00:90::1']), 'IPv6 ping c2 -> c1');
  // Port isolation on both ports cuts them off from each other (bridge link set ... isolated on).
  host.nl.setBridgePort(indexOf(host.nl, 'veth-c1'), { isolated: true });
  host.nl.setBridgePort(indexOf(host.nl, 'veth-c2'), { isolated: true });
  t.false(shOk('ip', ['netns', 'exec', c1.name, 'ping', '-c', '1', '-W', '1', '10.90.0.2']), 'isolated ports do not forward to each other');
});
