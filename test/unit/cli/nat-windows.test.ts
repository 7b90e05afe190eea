/**
 * `berth nat ls --format hns|netnat` on a state written to a temporary run directory (the
 * `--run-dir` path: no berthd, no lock, no kernel).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natCommand } from '../../../cli/commands/nat.js';
import { InvalidConfigError } from '../../../core/errors.js';
import { IpAddress } from '../../../core/ip.js';
import { fileNatState, natStateDir } from '../../../drivers/nat/index.js';
import { putInstance, setOwnerMappings } from '../../../winnat/mapping-table.js';
import { DEFAULT_EPHEMERAL_PORTS, EMPTY_STATE, type NatState } from '../../../winnat/model.js';
import { encodeState } from '../../../winnat/state-document.js';
import { DIST_BIN } from '../../support/netns.js';
import { instance, tcp } from '../winnat/helpers.js';

const C1 = '3f1c2a9e8b7d4c6f5a0e1d2c3b4a5968';

function stateWith(loopback: boolean): NatState {
  const s = putInstance(EMPTY_STATE, instance('natnet', '10.233.20.0/24', 'bn-natnet', loopback));
  return setOwnerMappings(s, {
    nat: 'natnet',
    owner: { containerId: C1, endpoint: 'eth0' },
    requests: [tcp(8080, '10.233.20.2', 80), { ...tcp(5353, '10.233.20.2', 53, { externalAddress: IpAddress.parse('192.0.2.7') }), protocol: 'udp' }],
    ephemeral: DEFAULT_EPHEMERAL_PORTS,
  }).state;
}

/** A run directory holding `state` where the nat driver keeps it. */
function runDirWith(t: { teardown(fn: () => void): void }, state: NatState): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-nat-ls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  fileNatState(natStateDir(dir)).transact(() => ({ doc: encodeState(state), result: undefined }));
  return dir;
}

async function berthNat(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await natCommand(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

test('nat ls --format hns: the NAT network and the endpoint with its PortMapping policies, as JSON', async (t) => {
  const dir = runDirWith(t, stateWith(false));
  const r = await berthNat(['ls', '--format', 'hns', '--run-dir', dir]);
  t.is(r.code, 0);
  t.is(r.err, '', 'nothing Windows cannot express');
  const doc = JSON.parse(r.out) as {
    networks: { nat: string; network: { Name: string; Type: string }; endpoints: { containerId: string; endpoint: string; document: { Name: string; Policies: unknown[] } }[] }[];
  };
  t.is(doc.networks.length, 1);
  const [n] = doc.networks;
  t.is(n!.nat, 'natnet');
  t.like(n!.network, { Name: 'natnet', Type: 'NAT' });
  t.deepEqual(
    n!.endpoints.map((e) => [e.containerId, e.endpoint, e.document.Name]),
    [[C1, 'eth0', `${C1}_natnet`]],
  );
  t.deepEqual(n!.endpoints[0]!.document.Policies, [
    { Type: 'PortMapping', Settings: { Protocol: 6, InternalPort: 80, ExternalPort: 8080 } },
    { Type: 'PortMapping', Settings: { Protocol: 17, InternalPort: 53, ExternalPort: 5353, VIP: '192.0.2.7' } },
  ]);
});

test('nat ls --format netnat: one command per line; what Windows lacks goes to stderr', async (t) => {
  const dir = runDirWith(t, stateWith(true));
  const r = await berthNat(['ls', '--format', 'netnat', '--run-dir', dir]);
  t.is(r.code, 0);
  t.is(
    r.out,
    [
      "New-NetNat -Name 'natnet' -InternalIPInterfaceAddressPrefix '10.233.20.0/24'",
      "Add-NetNatStaticMapping -NatName 'natnet' -Protocol TCP -ExternalIPAddress '0.0.0.0' -ExternalPort 8080 -InternalIPAddress '10.233.20.2' -InternalPort 80",
      "Add-NetNatStaticMapping -NatName 'natnet' -Protocol UDP -ExternalIPAddress '192.0.2.7' -ExternalPort 5353 -InternalIPAddress '10.233.20.2' -InternalPort 53",
      '',
    ].join('\n'),
  );
  t.regex(r.err, /^berth: on Windows: NAT instance "natnet" has loopback on/);
});

test('nat ls --format hns|netnat on an empty host: no network, no command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-nat-ls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.deepEqual(JSON.parse((await berthNat(['ls', '--format', 'hns', '--run-dir', dir])).out), { networks: [] });
  t.is((await berthNat(['ls', '--format', 'netnat', '--run-dir', dir])).out, '');
});

test('nat ls: an unknown --format is refused, naming the ones there are', async (t) => {
  const err = await t.throwsAsync(berthNat(['ls', '--format', 'yaml', '--run-dir', tmpdir()]), { instanceOf: InvalidConfigError });
  t.regex(err!.message, /table, json, hns, netnat/);
});

test('the berth executable prints the same (exit 0, stdout only commands)', (t) => {
  const dir = runDirWith(t, stateWith(false));
  const r = spawnSync(process.execPath, [join(DIST_BIN, 'berth'), 'nat', 'ls', '--format', 'netnat', '--run-dir', dir], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.split('\n').filter((l) => l !== '').length, 3);
  t.true(r.stdout.split('\n').every((l) => l === '' || /^(New-NetNat|Add-NetNatStaticMapping) /.test(l)));
  const bad = spawnSync(process.execPath, [join(DIST_BIN, 'berth'), 'nat', 'ls', '--format', 'xml', '--run-dir', dir], { encoding: 'utf8' });
  t.is(bad.status, 2);
});
