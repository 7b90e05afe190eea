import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressTakenError, BerthError, InvalidConfigError, PoolExhaustedError } from '../../../core/errors.js';
import { IpAddress } from '../../../core/ip.js';
import type { AssignedAddress } from '../../../core/model.js';
import { Ipam, IpamSync, poolKey, type AllocateRequest } from '../../../ipam/allocator.js';
import { parseIpamConfig } from '../../../ipam/config.js';
import type { RangeSet } from '../../../ipam/range-set.js';
import { FileStore } from '../../../store/file/file-store.js';

function setup(t: ExecutionContext): { ipam: IpamSync; store: FileStore } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipam-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = new FileStore({ dataDir: dir, fsync: false });
  return { ipam: new IpamSync(store), store };
}

const sets = (...ranges: unknown[][]): readonly RangeSet[] => parseIpamConfig({ ipam: { ranges } }).rangeSets;
const show = (a: readonly AssignedAddress[]) => a.map((x) => `${x.address.address}/${x.address.length}${x.gateway ? ` gw ${x.gateway}` : ''}`);
const ips = (...text: string[]) => text.map((s) => IpAddress.parse(s));

function request(rangeSets: readonly RangeSet[], containerId: string, extra: Partial<AllocateRequest> = {}): AllocateRequest {
  return { network: 'net', containerId, ifname: 'eth0', rangeSets, ...extra };
}

test('allocate: IPv4 starts at network+2 (the gateway network+1 is skipped) with the prefix length and gateway', (t) => {
  const { ipam } = setup(t);
  const v4 = sets([{ subnet: '10.1.0.0/24' }]);
  t.deepEqual(show(ipam.allocate(request(v4, 'c1'))), ['10.1.0.2/24 gw 10.1.0.1']);
  t.deepEqual(show(ipam.allocate(request(v4, 'c2'))), ['10.1.0.3/24 gw 10.1.0.1']);
});

test('allocate: IPv6 /64', (t) => {
  const { ipam } = setup(t);
  const v6 = sets([{ subnet: 'fd00:1::/64' }]);
  t.deepEqual(show(ipam.allocate(request(v6, 'c1'))), ['fd00:1::2/64 gw fd00:1::1']);
  t.deepEqual(show(ipam.allocate(request(v6, 'c2'))), ['fd00:1::3/64 gw fd00:1::1']);
  t.deepEqual(ipam.usage('net', v6), { used: 2, capacity: (1n << 64n) - 2n, rangeSets: [{ used: 2, capacity: (1n << 64n) - 2n }] });
});

test('allocate: dual stack takes one address per range set, in order', (t) => {
  const { ipam } = setup(t);
  const dual = sets([{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]);
  t.deepEqual(show(ipam.allocate(request(dual, 'c1'))), ['10.1.0.2/24 gw 10.1.0.1', 'fd00::2/64 gw fd00::1']);
  t.deepEqual(show(ipam.get('net', 'c1', 'eth0')), ['10.1.0.2/24 gw 10.1.0.1', 'fd00::2/64 gw fd00::1']);
  t.deepEqual(show(ipam.get('net', 'c1', 'eth1')), []);
});

test('allocate: /30 hands out exactly one address (network, gateway and broadcast are never handed out)', (t) => {
  const { ipam } = setup(t);
  const tiny = sets([{ subnet: '10.9.0.0/30' }]);
  t.deepEqual(show(ipam.allocate(request(tiny, 'c1'))), ['10.9.0.2/30 gw 10.9.0.1']);
  const err = t.throws(() => ipam.allocate(request(tiny, 'c2')), { instanceOf: PoolExhaustedError });
  t.is(err?.message, 'Cannot allocate an address from range set 10.9.0.0/30: all 1 addresses are in use');
});

test('allocate: explicit ranges that include network, broadcast and gateway still skip them', (t) => {
  const { ipam } = setup(t);
  const s = sets([{ subnet: '10.9.0.0/29', rangeStart: '10.9.0.0', rangeEnd: '10.9.0.7', gateway: '10.9.0.3' }]);
  const got = Array.from({ length: 5 }, (_, i) => String(ipam.allocate(request(s, `c${i}`))[0]?.address.address));
  t.deepEqual(got, ['10.9.0.1', '10.9.0.2', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
  t.throws(() => ipam.allocate(request(s, 'c9')), { instanceOf: PoolExhaustedError, message: /all 5 addresses are in use/ });
});

test('allocate: rotates like host-local: after the last reservation, across the ranges of a set, wrapping to the start', (t) => {
  const { ipam } = setup(t);
  const s = sets([
    { subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.11' },
    { subnet: '10.1.1.0/24', rangeStart: '10.1.1.20', rangeEnd: '10.1.1.21' },
  ]);
  const next = (id: string) => String(ipam.allocate(request(s, id))[0]?.address.address);
  t.is(next('a'), '10.1.0.10');
  t.is(next('b'), '10.1.0.11');
  t.is(next('c'), '10.1.1.20');
  ipam.release('net', 'a', 'eth0');
  ipam.release('net', 'b', 'eth0');
  // A crash-looping pod does not get its old address straight back: the cursor moves on.
  t.is(next('d'), '10.1.1.21');
  t.is(next('a'), '10.1.0.10');
  ipam.release('net', 'c', 'eth0');
  t.is(next('e'), '10.1.0.11');
  t.is(next('f'), '10.1.1.20');
  t.throws(() => next('g'), {
    instanceOf: PoolExhaustedError,
    message: /^Cannot allocate an address from range set 10\.1\.0\.10-10\.1\.0\.11 \(10\.1\.0\.0\/24\), 10\.1\.1\.20-10\.1\.1\.21 \(10\.1\.1\.0\/24\): all 4 addresses are in use$/,
  });
});

test('allocate: a released address is not reused until the range has cycled', (t) => {
  const { ipam } = setup(t);
  const s = sets([{ subnet: '10.1.0.0/28' }]); // .2 to .14 allocatable: 13 addresses
  const first = String(ipam.allocate(request(s, 'pod-1'))[0]?.address.address);
  const seen = [first];
  for (let i = 2; i <= 13; i++) {
    ipam.release('net', `pod-${i - 1}`, 'eth0');
    seen.push(String(ipam.allocate(request(s, `pod-${i}`))[0]?.address.address));
  }
  t.deepEqual(
    seen,
    ['2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14'].map((n) => `10.1.0.${n}`),
  );
  ipam.release('net', 'pod-13', 'eth0');
  t.is(String(ipam.allocate(request(s, 'pod-14'))[0]?.address.address), '10.1.0.2', 'wraps to the start');
});

test('allocate: an exhausted /24 says how many addresses it has, and a failing second set keeps nothing of the first', (t) => {
  const { ipam } = setup(t);
  const v4 = sets([{ subnet: '10.1.0.0/24' }]);
  for (let i = 0; i < 253; i++) ipam.allocate(request(v4, `fill-${i}`));
  const err = t.throws(() => ipam.allocate(request(v4, 'one-more')), { instanceOf: PoolExhaustedError });
  t.is(err?.message, 'Cannot allocate an address from range set 10.1.0.0/24: all 253 addresses are in use');
  t.is(err?.fields.value, '10.1.0.0/24');

  // Dual stack where the v6 set is fine and the v4 set is full: nothing is kept.
  const dual = sets([{ subnet: 'fd00::/64' }], [{ subnet: '10.1.0.0/24' }]);
  t.throws(() => ipam.allocate(request(dual, 'dual')), { instanceOf: PoolExhaustedError });
  t.deepEqual(ipam.get('net', 'dual', 'eth0'), []);
  t.is(ipam.usage('net', dual).used, 253);
});

test('allocate: idempotent for the same (containerId, ifname): a retried ADD gets the same addresses', (t) => {
  const { ipam, store } = setup(t);
  const dual = sets([{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]);
  const first = show(ipam.allocate(request(dual, 'c1')));
  const revision = store.getSync(poolKey('net'))?.revision;
  t.deepEqual(show(ipam.allocate(request(dual, 'c1'))), first);
  t.is(store.getSync(poolKey('net'))?.revision, revision, 'nothing was written');
  // Another interface of the same container is another attachment.
  t.deepEqual(show(ipam.allocate(request(dual, 'c1', { ifname: 'net1' }))), ['10.1.0.3/24 gw 10.1.0.1', 'fd00::3/64 gw fd00::1']);
  // A retry that asks for the address it holds is fine; asking for another is not.
  t.deepEqual(show(ipam.allocate(request(dual, 'c1', { requested: ips('10.1.0.2') }))), first);
  const err = t.throws(() => ipam.allocate(request(dual, 'c1', { requested: ips('10.1.0.50') })), { instanceOf: BerthError });
  t.is(err?.code, 'duplicate-allocation');
});

test('allocate: requested addresses — free, taken, outside every set, the gateway, two in one set', (t) => {
  const { ipam } = setup(t);
  const dual = sets([{ subnet: '10.1.0.0/24', rangeEnd: '10.1.0.100' }], [{ subnet: 'fd00::/64' }]);
  t.deepEqual(show(ipam.allocate(request(dual, 'c1', { requested: ips('10.1.0.50') }))), ['10.1.0.50/24 gw 10.1.0.1', 'fd00::2/64 gw fd00::1']);
  t.deepEqual(show(ipam.allocate(request(dual, 'c2', { requested: ips('fd00::77', '10.1.0.60') }))), ['10.1.0.60/24 gw 10.1.0.1', 'fd00::77/64 gw fd00::1']);
  // The cursor moved to the requested address, as host-local's does.
  t.deepEqual(show(ipam.allocate(request(dual, 'c3'))), ['10.1.0.61/24 gw 10.1.0.1', 'fd00::78/64 gw fd00::1']);

  const taken = t.throws(() => ipam.allocate(request(dual, 'c4', { requested: ips('10.1.0.50') })), { instanceOf: AddressTakenError });
  t.is(taken?.message, 'The requested address 10.1.0.50 is in use by container c1 (interface eth0)');
  t.deepEqual(ipam.get('net', 'c4', 'eth0'), [], 'the v6 address it would have got is not kept');

  const outside = t.throws(() => ipam.allocate(request(dual, 'c4', { requested: ips('10.1.0.200') })), { instanceOf: InvalidConfigError });
  t.regex(outside?.message ?? '', /10\.1\.0\.200 is not in any range set \(10\.1\.0\.1-10\.1\.0\.100 \(10\.1\.0\.0\/24\); fd00::\/64\)/);
  const gateway = t.throws(() => ipam.allocate(request(dual, 'c4', { requested: ips('10.1.0.1') })), { instanceOf: InvalidConfigError });
  t.is(gateway?.message, 'The requested address 10.1.0.1 is the gateway of 10.1.0.0/24 and is never handed out');
  t.is(gateway?.fields.field, 'ips');
  const two = t.throws(() => ipam.allocate(request(dual, 'c4', { requested: ips('10.1.0.7', '10.1.0.8') })), { instanceOf: InvalidConfigError });
  t.regex(two?.message ?? '', /both in range set/);
  t.deepEqual(ipam.get('net', 'c4', 'eth0'), []);
});

test('allocate: argument checks', (t) => {
  const { ipam } = setup(t);
  const v4 = sets([{ subnet: '10.1.0.0/24' }]);
  t.throws(() => ipam.allocate(request(v4, '')), { instanceOf: InvalidConfigError });
  t.throws(() => ipam.allocate(request(v4, 'has space')), { instanceOf: InvalidConfigError });
  t.throws(() => ipam.allocate(request(v4, 'c', { ifname: '' })), { instanceOf: InvalidConfigError });
  t.throws(() => ipam.allocate(request([], 'c')), { instanceOf: InvalidConfigError });
  t.throws(() => ipam.allocate(request([[]], 'c')), { instanceOf: InvalidConfigError });
  t.throws(() => ipam.allocate(request(v4, 'c', { network: '' })), { instanceOf: InvalidConfigError });
});

test('release: returns what was released; a second release (or a release of nothing) succeeds with nothing', (t) => {
  const { ipam, store } = setup(t);
  const dual = sets([{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]);
  ipam.allocate(request(dual, 'c1'));
  ipam.allocate(request(dual, 'c2'));
  t.deepEqual(show(ipam.release('net', 'c1', 'eth0')), ['10.1.0.2/24 gw 10.1.0.1', 'fd00::2/64 gw fd00::1']);
  const revision = store.getSync(poolKey('net'))?.revision;
  t.deepEqual(ipam.release('net', 'c1', 'eth0'), []);
  t.deepEqual(ipam.release('net', 'never', 'eth0'), []);
  t.deepEqual(ipam.release('other-net', 'c1', 'eth0'), []);
  t.is(store.getSync(poolKey('net'))?.revision, revision, 'releasing nothing writes nothing');
  t.deepEqual(show(ipam.get('net', 'c2', 'eth0')), ['10.1.0.3/24 gw 10.1.0.1', 'fd00::3/64 gw fd00::1']);
});

test('gc: releases every attachment not in the valid list, and returns them with their owners', (t) => {
  const { ipam } = setup(t);
  const v4 = sets([{ subnet: '10.1.0.0/24' }]);
  for (const id of ['a', 'b', 'c', 'd']) ipam.allocate(request(v4, id));
  ipam.allocate(request(v4, 'a', { ifname: 'net1' }));
  const released = ipam.gc('net', [
    { containerId: 'b', ifname: 'eth0' },
    { containerId: 'a', ifname: 'net1' },
    { containerId: 'zz', ifname: 'eth0' },
  ]);
  t.deepEqual(released.map((r) => `${r.containerId}/${r.ifname} ${r.address.address.address}`).sort(), ['a/eth0 10.1.0.2', 'c/eth0 10.1.0.4', 'd/eth0 10.1.0.5']);
  t.deepEqual(
    ipam.list('net').map((r) => `${r.containerId}/${r.ifname} ${r.address.address.address}`),
    ['b/eth0 10.1.0.3', 'a/net1 10.1.0.6'],
  );
  t.deepEqual(
    ipam.gc('net', [
      { containerId: 'b', ifname: 'eth0' },
      { containerId: 'a', ifname: 'net1' },
    ]),
    [],
  );
  t.deepEqual(ipam.gc('empty-net', []), []);
});

test('usage: counts per range set, capacity without the reserved addresses', (t) => {
  const { ipam } = setup(t);
  const s = sets([{ subnet: '10.1.0.0/24' }], [{ subnet: '10.2.0.0/30' }]);
  t.deepEqual(ipam.usage('net', s), {
    used: 0,
    capacity: 254n,
    rangeSets: [
      { used: 0, capacity: 253n },
      { used: 0, capacity: 1n },
    ],
  });
  ipam.allocate(request(s, 'a'));
  ipam.allocate(request(sets([{ subnet: '10.1.0.0/24' }]), 'b'));
  t.deepEqual(ipam.usage('net', s), {
    used: 3,
    capacity: 254n,
    rangeSets: [
      { used: 2, capacity: 253n },
      { used: 1, capacity: 1n },
    ],
  });
});

test('Ipam (async, over Store) runs the same operations', async (t) => {
  const { store } = setup(t);
  const ipam = new Ipam(store);
  const dual = sets([{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]);
  const got = await Promise.all(['a', 'b', 'c'].map((id) => ipam.allocate(request(dual, id))));
  t.is(new Set(got.flatMap((g) => show(g))).size, 6);
  t.deepEqual(show(await ipam.get('net', 'b', 'eth0')), show(got[1] ?? []));
  t.is((await ipam.release('net', 'b', 'eth0')).length, 2);
  t.is((await ipam.gc('net', [{ containerId: 'a', ifname: 'eth0' }])).length, 2);
  t.is((await ipam.usage('net', dual)).used, 2);
  t.is((await ipam.list('net')).length, 2);
});
