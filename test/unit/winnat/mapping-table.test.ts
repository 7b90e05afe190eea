import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { PortConflictError } from '../../../core/errors.js';
import { putInstance, removeInstance, removeOwnerMappings, retainOwners, setOwnerMappings } from '../../../winnat/mapping-table.js';
import { EMPTY_STATE, type MappingRequest, type NatState } from '../../../winnat/model.js';
import { instance, tcp } from './helpers.js';

const EPH = { start: 49152, end: 65535 };
const base = putInstance(EMPTY_STATE, instance('n1', '10.1.0.0/24', 'bn-n1'));
const a = { containerId: 'ca', endpoint: 'eth0' };
const b = { containerId: 'cb', endpoint: 'eth0' };
const set = (s: NatState, owner = a, requests: MappingRequest[] = [], nat = 'n1', ephemeral = EPH) => setOwnerMappings(s, { nat, owner, requests, ephemeral });

test('setOwnerMappings: a fixed port is published, and a repeat changes nothing', (t) => {
  const r = set(base, a, [tcp(8080, '10.1.0.2', 80)]);
  t.is(r.mappings[0]!.externalPort, 8080);
  t.false(r.mappings[0]!.ephemeral);
  const again = set(r.state, a, [tcp(8080, '10.1.0.2', 80)]);
  t.is(again.state, r.state, 'the very same state: no write, no kernel change');
});

test('setOwnerMappings: a port held by another container is refused, naming network, container and mapping', (t) => {
  const s = set(base, a, [tcp(8080, '10.1.0.2', 80)]).state;
  const err = t.throws(() => set(s, b, [tcp(8080, '10.1.0.3', 80)]), { instanceOf: PortConflictError });
  t.is(err?.code, 'port-conflict');
  t.regex(err!.message, /container ca/);
  t.regex(err!.message, /network n1/);
  t.regex(err!.message, /tcp 0\.0\.0\.0:8080 -> 10\.1\.0\.2:80/);
});

test('setOwnerMappings: any-address and one-address mappings compete; two addresses and two protocols do not', (t) => {
  const s = set(base, a, [tcp(8080, '10.1.0.2', 80, { externalAddress: IpAddress.parse('10.9.0.1') })]).state;
  t.throws(() => set(s, b, [tcp(8080, '10.1.0.3', 80)]), { instanceOf: PortConflictError });
  t.notThrows(() => set(s, b, [tcp(8080, '10.1.0.3', 80, { externalAddress: IpAddress.parse('10.9.0.2') })]));
  t.notThrows(() => set(s, b, [{ ...tcp(8080, '10.1.0.3', 80), protocol: 'udp' }]));
  const zero = set(base, a, [tcp(8080, '10.1.0.2', 80, { externalAddress: IpAddress.parse('0.0.0.0') })]);
  t.is(zero.mappings[0]!.externalAddress, undefined, '0.0.0.0 means every address');
});

test('setOwnerMappings: one request publishing a port twice is refused', (t) => {
  t.throws(() => set(base, a, [tcp(8080, '10.1.0.2', 80), tcp(8080, '10.1.0.2', 81)]), { instanceOf: PortConflictError, message: /same request/ });
});

test('setOwnerMappings: port 0 gets ephemeral ports in rotation, skipping held ones, and keeps them on a repeat', (t) => {
  const s1 = set(base, b, [tcp(49153, '10.1.0.3', 80)]).state;
  const r1 = set(s1, a, [tcp(0, '10.1.0.2', 80), tcp(0, '10.1.0.2', 81)]);
  t.deepEqual(
    r1.mappings.map((m) => m.externalPort),
    [49152, 49154],
  );
  t.true(r1.mappings.every((m) => m.ephemeral));
  const again = set(r1.state, a, [tcp(0, '10.1.0.2', 80), tcp(0, '10.1.0.2', 81)]);
  t.is(again.state, r1.state);
  t.deepEqual(
    again.mappings.map((m) => m.externalPort),
    [49152, 49154],
  );
  const c = set(r1.state, { containerId: 'cc', endpoint: 'eth0' }, [tcp(0, '10.1.0.4', 80)]);
  t.is(c.mappings[0]!.externalPort, 49155, 'the cursor moves on');
});

test('setOwnerMappings: fixed ports are placed before ephemeral ones pick theirs', (t) => {
  const r = set(base, a, [tcp(0, '10.1.0.2', 80), tcp(49152, '10.1.0.2', 81)], 'n1');
  t.deepEqual(
    r.mappings.map((m) => m.externalPort),
    [49153, 49152],
  );
});

test('setOwnerMappings: an exhausted ephemeral range is pool-exhausted', (t) => {
  const small = { start: 50000, end: 50001 };
  const s = set(base, a, [tcp(0, '10.1.0.2', 80), tcp(0, '10.1.0.2', 81)], 'n1', small).state;
  t.throws(() => set(s, b, [tcp(0, '10.1.0.3', 80)], 'n1', small), { message: /all 2 ports of the ephemeral range 50000-50001/ });
});

test('setOwnerMappings: a range maps 1:1 and conflicts as a whole', (t) => {
  const r = set(base, a, [tcp(8000, '10.1.0.2', 9000, { externalPortEnd: 8002 })]);
  t.is(r.mappings[0]!.externalPortEnd, 8002);
  t.throws(() => set(r.state, b, [tcp(8002, '10.1.0.3', 80)]), { instanceOf: PortConflictError, message: /ports 8000-8002|port 8002/ });
  t.notThrows(() => set(r.state, b, [tcp(8003, '10.1.0.3', 80)]));
});

test("setOwnerMappings: the owner's set replaces what it held", (t) => {
  const s = set(base, a, [tcp(8080, '10.1.0.2', 80), tcp(8081, '10.1.0.2', 81)]).state;
  const r = set(s, a, [tcp(8081, '10.1.0.2', 81)]);
  t.deepEqual(
    r.state.mappings.map((m) => m.externalPort),
    [8081],
  );
  t.is(set(r.state, a, []).state.mappings.length, 0);
});

const invalid: [string, MappingRequest, RegExp][] = [
  ['sctp', { ...tcp(80, '10.1.0.2', 80), protocol: 'sctp' as 'tcp' }, /TCP and UDP only/],
  ['port above 65535', tcp(70000, '10.1.0.2', 80), /externalPort 70000 is out of range/],
  ['internal port 0', tcp(80, '10.1.0.2', 0), /internalPort 0 is out of range/],
  ['range end below start', tcp(8000, '10.1.0.2', 80, { externalPortEnd: 7999 }), /below the range's start/],
  ['range with port 0', tcp(0, '10.1.0.2', 80, { externalPortEnd: 10 }), /needs a non-zero externalPort/],
  ['range past 65535 inside', tcp(8000, '10.1.0.2', 65535, { externalPortEnd: 8001 }), /leaves no room/],
  ['internal address outside the prefix', tcp(80, '10.2.0.2', 80), /outside 10\.1\.0\.0\/24/],
  ['IPv6 external address', tcp(80, '10.1.0.2', 80, { externalAddress: IpAddress.parse('fd00::1') }), /IPv4 only/],
];
for (const [name, request, message] of invalid) {
  test(`setOwnerMappings: refuses ${name}`, (t) => {
    t.throws(() => set(base, a, [request]), { code: 'invalid-config', message } as never);
  });
}

test('setOwnerMappings: an unknown instance is not-found', (t) => {
  t.throws(() => set(base, a, [], 'nope'), { code: 'not-found', message: /NAT instance "nope": it does not exist/ } as never);
});

test('putInstance: overlapping prefixes, a shared interface and IPv6 are refused; the same spec changes nothing', (t) => {
  t.is(putInstance(base, instance('n1', '10.1.0.0/24', 'bn-n1')), base);
  t.throws(() => putInstance(base, instance('n2', '10.1.0.128/25', 'bn-n2')), { message: /overlaps 10\.1\.0\.0\/24 of NAT instance "n1"/ });
  t.throws(() => putInstance(base, instance('n2', '10.2.0.0/24', 'bn-n1')), { message: /already serves NAT instance "n1"/ });
  t.throws(() => putInstance(base, instance('n2', 'fd00::/64', 'bn-n2')), { message: /IPv4 only/ });
  const two = putInstance(base, instance('n2', '10.2.0.0/24', 'bn-n2'));
  t.is(two.instances.length, 2);
  t.true(putInstance(two, instance('n2', '10.2.0.0/24', 'bn-n2', true)).instances.find((i) => i.name === 'n2')!.loopback);
});

test("removeInstance takes the instance's mappings; removeOwnerMappings and retainOwners take an owner's", (t) => {
  let s = putInstance(base, instance('n2', '10.2.0.0/24', 'bn-n2'));
  s = set(s, a, [tcp(8080, '10.1.0.2', 80)]).state;
  s = set(s, b, [tcp(8081, '10.1.0.3', 80)]).state;
  s = set(s, a, [tcp(9090, '10.2.0.2', 80)], 'n2').state;
  t.deepEqual(
    removeInstance(s, 'n1').mappings.map((m) => m.externalPort),
    [9090],
  );
  t.is(removeInstance(s, 'nope'), s);
  t.deepEqual(
    removeOwnerMappings(s, 'n1', a)
      .mappings.map((m) => m.externalPort)
      .sort(),
    [8081, 9090],
  );
  t.is(removeOwnerMappings(s, 'n1', { containerId: 'zz', endpoint: 'eth0' }), s);
  t.deepEqual(
    retainOwners(s, 'n1', (o) => o.containerId === 'cb')
      .mappings.map((m) => m.externalPort)
      .sort(),
    [8081, 9090],
  );
});
