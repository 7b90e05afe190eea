import test from 'ava';
import { PortConflictError } from '../../../core/errors.js';
import { WinNat, decodeState, encodeState } from '../../../winnat/index.js';
import { putInstance } from '../../../winnat/mapping-table.js';
import { EMPTY_STATE } from '../../../winnat/model.js';
import { instance, kinds, memoryState, memorySysctl, recordingNftables, tcp } from './helpers.js';

const n1 = instance('n1', '10.1.0.0/24', 'bn-n1');
const a = { containerId: 'ca', endpoint: 'eth0' };
const b = { containerId: 'cb', endpoint: 'eth0' };

function setup(sysctls: string[] = []) {
  const state = memoryState();
  const nft = recordingNftables();
  const sysctl = memorySysctl(sysctls);
  return { state, nft, sysctl, nat: new WinNat({ state, nftables: () => nft, sysctl }) };
}

test('WinNat: the first instance builds the table in one transaction; mappings then touch only elements', (t) => {
  const { nat, nft, state } = setup();
  nat.ensureInstance(n1);
  t.is(nft.runs.length, 1);
  t.deepEqual(kinds(nft.runs[0]!).slice(0, 3), ['add table', 'delete table', 'add table']);
  nat.ensureInstance(n1);
  t.is(nft.runs.length, 1, 'a repeat costs no kernel change');
  t.is(state.writes, 1, 'and no write');
  const [m] = nat.setStaticMappings(n1, a, [tcp(8080, '10.1.0.2', 80)]);
  t.is(m!.externalPort, 8080);
  t.deepEqual(kinds(nft.runs[1]!), ['add element pub-addr', 'add element pub-port']);
  nat.removeStaticMappings('n1', a);
  t.deepEqual(kinds(nft.runs[2]!), ['delete element pub-addr', 'delete element pub-port']);
  t.true(nat.removeInstance('n1'));
  t.deepEqual(kinds(nft.runs[3]!), ['delete table']);
  t.is(state.doc, undefined, 'the document goes with the last instance');
  t.false(nat.removeInstance('n1'), 'removing it again succeeds and does nothing');
  t.is(nft.runs.length, 4);
});

test('WinNat: a conflict changes neither the kernel nor the state', (t) => {
  const { nat, nft, state } = setup();
  nat.setStaticMappings(n1, a, [tcp(8080, '10.1.0.2', 80)]);
  const runs = nft.runs.length;
  const doc = JSON.stringify(state.doc);
  t.throws(() => nat.setStaticMappings(n1, b, [tcp(8080, '10.1.0.3', 80)]), { instanceOf: PortConflictError, message: /published by container ca \(network n1/ });
  t.throws(() => nat.precheck(n1, b, [tcp(8080, '10.1.0.3', 80)]), { instanceOf: PortConflictError });
  t.is(nft.runs.length, runs);
  t.is(JSON.stringify(state.doc), doc);
});

test('WinNat: when the kernel refuses a difference, the table is rebuilt from the state', (t) => {
  const { nat, nft } = setup();
  nat.setStaticMappings(n1, a, [tcp(8080, '10.1.0.2', 80)]);
  nft.failNext = 1;
  nat.setStaticMappings(n1, b, [tcp(8081, '10.1.0.3', 80)]);
  const last = nft.runs.at(-1)!;
  t.deepEqual(kinds(last).slice(0, 2), ['add table', 'delete table']);
  t.regex(JSON.stringify(last), /8080/);
  t.regex(JSON.stringify(last), /8081/);
});

test('WinNat: nothing is written when the kernel refuses even the rebuild', (t) => {
  const { nat, nft, state } = setup();
  nat.ensureInstance(n1);
  const doc = JSON.stringify(state.doc);
  nft.failNext = 2;
  t.throws(() => nat.setStaticMappings(n1, a, [tcp(8080, '10.1.0.2', 80)]));
  t.is(JSON.stringify(state.doc), doc);
});

test('WinNat: loopback sets route_localnet on the internal interface, and removal clears it; a missing interface is skipped', (t) => {
  const key = 'net/ipv4/conf/bn-n1/route_localnet';
  const { nat, sysctl } = setup([key]);
  nat.ensureInstance({ ...n1, loopback: true });
  t.is(sysctl.values.get(key), '1');
  nat.removeInstance('n1');
  t.is(sysctl.values.get(key), '0');
  t.notThrows(() => nat.ensureInstance({ ...instance('n2', '10.2.0.0/24', 'bn-absent'), loopback: true }));
});

test('WinNat: describe shows instances and mappings as Get-NetNat / Get-NetNatStaticMapping', (t) => {
  const { nat } = setup();
  nat.setStaticMappings(n1, a, [tcp(8080, '10.1.0.2', 80), { ...tcp(0, '10.1.0.2', 53), protocol: 'udp' }]);
  const d = nat.describe();
  t.deepEqual(d.nats, [{ name: 'n1', internalIPInterfaceAddressPrefix: '10.1.0.0/24', internalInterface: 'bn-n1', loopback: false, staticMappings: 2 }]);
  t.deepEqual(
    d.staticMappings.map((m) => [m.staticMappingId, m.natName, m.protocol, m.externalIPAddress, m.externalPort, m.internalIPAddress, m.internalPort, m.containerId, m.ephemeral]),
    [
      [1, 'n1', 'TCP', '0.0.0.0', 8080, '10.1.0.2', 80, 'ca', false],
      [2, 'n1', 'UDP', '0.0.0.0', 49152, '10.1.0.2', 53, 'ca', true],
    ],
  );
  t.deepEqual(nat.staticMappingsOf('n1', a).length, 2);
});

test('state document: round trip, and a format this code cannot read is an error, not an empty state', (t) => {
  const s = putInstance(EMPTY_STATE, n1);
  t.deepEqual(encodeState(decodeState(JSON.parse(JSON.stringify(encodeState(s))))), encodeState(s));
  t.deepEqual(decodeState(undefined), EMPTY_STATE);
  t.throws(() => decodeState({ format: 99, instances: [], mappings: [] }), { code: 'io', message: /format 99/ } as never);
  t.throws(() => decodeState({ format: 1, instances: [], mappings: ['n1 tcp'], cursors: {} }), { code: 'io' } as never);
});
