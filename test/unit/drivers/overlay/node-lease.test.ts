import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError, PoolExhaustedError } from '../../../../core/errors.js';
import { NodeLeases, type LeaseRequest, type NodeLeasesOptions } from '../../../../drivers/overlay/node-lease.js';
import { FileStore } from '../../../../store/file/file-store.js';
import type { JsonValue, PutResult, Store, WriteOptions } from '../../../../store/store.js';

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-overlay-lease-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const openStore = (dir: string) => new FileStore({ dataDir: dir, fsync: false });

/** A clock the test moves by hand. */
function manualClock(start = '2025-01-01T00:00:00.000Z') {
  let now = Date.parse(start);
  return {
    clock: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
    now: () => new Date(now),
  };
}

function request(node: number, overrides: Partial<LeaseRequest> = {}): LeaseRequest {
  return { subnet: '10.244.0.0/16', subnetLen: 24, vtep: `192.168.50.${node}`, vtepMac: `0e:2a:00:00:00:${node.toString(16).padStart(2, '0')}`, ...overrides };
}

/** Counts compare-and-swap puts that lost, to show a race really happened. */
class CountingStore implements Store {
  lostPuts = 0;
  constructor(private readonly inner: Store) {}
  get = (key: string) => this.inner.get(key);
  delete = (key: string, options?: WriteOptions) => this.inner.delete(key, options);
  list = (prefix: string) => this.inner.list(prefix);
  update: Store['update'] = (key, fn) => this.inner.update(key, fn);
  watch: Store['watch'] = (prefix, cb) => this.inner.watch(prefix, cb);
  async put(key: string, value: JsonValue, options?: WriteOptions): Promise<PutResult> {
    const r = await this.inner.put(key, value, options);
    if (!r.ok) this.lostPuts++;
    return r;
  }
}

test('node leases: two nodes get the two lowest blocks; the store holds a lease per node and a claim per subnet', async (t) => {
  const store = openStore(tempDir(t));
  const { clock } = manualClock();
  const leases = new NodeLeases(store, 'pods', { clock });
  const a = await leases.acquire('node-a', request(1));
  const b = await leases.acquire('node-b', request(2));
  t.deepEqual(a, { node: 'node-a', subnet: '10.244.0.0/24', vtep: '192.168.50.1', vtepMac: '0e:2a:00:00:00:01', updated: '2025-01-01T00:00:00.000Z' });
  t.is(b.subnet, '10.244.1.0/24');
  t.deepEqual(
    (await store.list('overlay/pods/')).map((e) => [e.key, e.value]),
    [
      ['overlay/pods/nodes/node-a', { ...a }],
      ['overlay/pods/nodes/node-b', { ...b }],
      ['overlay/pods/subnets/10.244.0.0-24', { node: 'node-a', subnet: '10.244.0.0/24', claimedAt: '2025-01-01T00:00:00.000Z' }],
      ['overlay/pods/subnets/10.244.1.0-24', { node: 'node-b', subnet: '10.244.1.0/24', claimedAt: '2025-01-01T00:00:00.000Z' }],
    ],
  );
  t.deepEqual(await leases.list(), [a, b]);
  t.deepEqual(await leases.get('node-b'), b);
  t.is(await leases.get('node-c'), undefined);
});

test('node leases: a node gets its lease back after a restart (new store and instance), without a write', async (t) => {
  const dir = tempDir(t);
  const first = await new NodeLeases(openStore(dir), 'pods').acquire('node-a', request(1));
  await new NodeLeases(openStore(dir), 'pods').acquire('node-b', request(2));
  const before = await openStore(dir).get('overlay/pods/nodes/node-a');

  const again = await new NodeLeases(openStore(dir), 'pods').acquire('node-a', request(1));
  t.deepEqual(again, first);
  t.is((await openStore(dir).get('overlay/pods/nodes/node-a'))?.revision, before?.revision, 'an unchanged lease is not rewritten (peers see no event)');
  // Networks are separate pools.
  t.is((await new NodeLeases(openStore(dir), 'other').acquire('node-b', request(2))).subnet, '10.244.0.0/24');
});

test('node leases: 20 nodes acquiring at once, each through its own store instance, get 20 distinct subnets', async (t) => {
  const dir = tempDir(t);
  const stores = Array.from({ length: 20 }, () => new CountingStore(openStore(dir)));
  const got = await Promise.all(stores.map((store, i) => new NodeLeases(store, 'pods').acquire(`node-${i}`, request(i + 1))));
  const subnets = got.map((l) => l.subnet);
  t.is(new Set(subnets).size, 20, 'no subnet was handed out twice');
  t.deepEqual(
    [...subnets].sort((x, y) => Number(x.split('.')[2]) - Number(y.split('.')[2])),
    Array.from({ length: 20 }, (_, i) => `10.244.${i}.0/24`),
    'and they are the 20 lowest',
  );
  t.true(stores.reduce((n, s) => n + s.lostPuts, 0) > 0, 'the acquires really raced');
  const leases = new NodeLeases(openStore(dir), 'pods');
  t.deepEqual((await leases.list()).map((l) => [l.node, l.subnet]).sort(), got.map((l) => [l.node, l.subnet]).sort());
  t.is((await openStore(dir).list('overlay/pods/subnets/')).length, 20, 'one claim per lease, none left over');
});

test('node leases: two acquires of one node at once leave one lease and one claim', async (t) => {
  const dir = tempDir(t);
  const [x, y] = await Promise.all([new NodeLeases(openStore(dir), 'pods').acquire('node-a', request(1)), new NodeLeases(openStore(dir), 'pods').acquire('node-a', request(1))]);
  t.is(x?.subnet, y?.subnet);
  t.is((await openStore(dir).list('overlay/pods/subnets/')).length, 1);
});

test('node leases: an exhausted pool is a PoolExhaustedError; holders still get their leases', async (t) => {
  const leases = new NodeLeases(openStore(tempDir(t)), 'small');
  const small = (i: number) => request(i, { subnet: '10.9.0.0/28', subnetLen: 30 });
  for (let i = 1; i <= 4; i++) await leases.acquire(`node-${i}`, small(i));
  const err = await t.throwsAsync(leases.acquire('node-5', small(5)), { instanceOf: PoolExhaustedError });
  t.is(err?.code, 'pool-exhausted');
  t.regex(err?.message ?? '', /Cannot lease a \/30 of 10\.9\.0\.0\/28 to node node-5 on overlay network small: all 4 are leased/);
  t.is(err?.fields.value, '10.9.0.0/28');
  t.is((await leases.acquire('node-3', small(3))).subnet, '10.9.0.8/30');
  t.is(await leases.get('node-5'), undefined);
});

test('node leases: a released subnet stays taken for the grace period, then reclaimExpired frees it', async (t) => {
  const store = openStore(tempDir(t));
  const time = manualClock();
  const leases = new NodeLeases(store, 'pods', { clock: time.clock, graceMs: 60_000 });
  const a = await leases.acquire('node-a', request(1));
  await leases.acquire('node-b', request(2));

  time.advance(1000);
  const released = await leases.release('node-a');
  t.deepEqual(released, { ...a, releasedAt: '2025-01-01T00:00:01.000Z' });
  time.advance(5000);
  t.deepEqual(await leases.release('node-a'), released, 'releasing twice keeps the first time');
  t.is(await leases.release('node-z'), undefined);
  t.deepEqual(
    (await leases.list()).map((l) => l.releasedAt),
    ['2025-01-01T00:00:01.000Z', undefined],
    'listed, marked released',
  );

  t.is((await leases.acquire('node-c', request(3))).subnet, '10.244.2.0/24', 'not handed out during the grace period');
  t.deepEqual(await leases.reclaimExpired(new Date(Date.parse('2025-01-01T00:01:00.999Z'))), [], 'one ms short of the grace');
  t.deepEqual(await leases.reclaimExpired(new Date(Date.parse('2025-01-01T00:01:01.000Z'))), [{ node: 'node-a', subnet: '10.244.0.0/24', reason: 'released' }]);
  t.is(await leases.get('node-a'), undefined);
  t.is(await store.get('overlay/pods/subnets/10.244.0.0-24'), undefined);
  t.is((await leases.acquire('node-d', request(4))).subnet, '10.244.0.0/24', 'the lowest free block again');
  t.deepEqual(await leases.reclaimExpired(new Date(Date.parse('2030-01-01T00:00:00.000Z'))), [], 'live leases and their claims are never reclaimed');
});

test('node leases: a node that comes back within the grace period (or before the reclaim) keeps its subnet', async (t) => {
  const time = manualClock();
  const leases = new NodeLeases(openStore(tempDir(t)), 'pods', { clock: time.clock, graceMs: 60_000 });
  const a = await leases.acquire('node-a', request(1));
  await leases.release('node-a');
  time.advance(10_000);
  const back = await leases.acquire('node-a', request(1));
  t.is(back.subnet, a.subnet);
  t.is(back.releasedAt, undefined);

  await leases.release('node-a');
  time.advance(120_000);
  t.is((await leases.acquire('node-a', request(1))).subnet, a.subnet, 'grace over but not reclaimed yet');
  t.deepEqual(await leases.reclaimExpired(), []);
});

test('node leases: a changed VTEP address or MAC updates the lease in place', async (t) => {
  const time = manualClock();
  const leases = new NodeLeases(openStore(tempDir(t)), 'pods', { clock: time.clock });
  const a = await leases.acquire('node-a', request(1));
  time.advance(1000);
  const moved = await leases.acquire('node-a', request(1, { vtep: '192.168.60.1', vtepMac: '0E:2A:00:00:00:AA' }));
  t.deepEqual(moved, { ...a, vtep: '192.168.60.1', vtepMac: '0e:2a:00:00:00:aa', updated: '2025-01-01T00:00:01.000Z' });
  t.deepEqual(await leases.get('node-a'), moved);
  t.is((await leases.list()).length, 1);
});

test('node leases: a changed subnetLen gives the node a block of the new size and frees the old claim', async (t) => {
  const store = openStore(tempDir(t));
  const leases = new NodeLeases(store, 'pods');
  await leases.acquire('node-a', request(1));
  const b = await leases.acquire('node-b', request(2));
  const resized = await leases.acquire('node-a', request(1, { subnetLen: 25 }));
  // 10.244.1.0/24 (node-b) still blocks both /25 halves of it; 10.244.0.0/24 was node-a's own.
  t.is(resized.subnet, '10.244.0.0/25');
  t.deepEqual(
    (await store.list('overlay/pods/subnets/')).map((e) => e.key),
    ['overlay/pods/subnets/10.244.0.0-25', 'overlay/pods/subnets/10.244.1.0-24'],
  );
  t.is((await leases.acquire('node-c', request(3, { subnetLen: 25 }))).subnet, '10.244.0.128/25');
  t.is((await leases.get('node-b'))?.subnet, b.subnet);
});

test('node leases: a claim left by an acquire that died before writing the lease is adopted by its node, or reclaimed a grace period after a reclaim first found it orphaned', async (t) => {
  const store = openStore(tempDir(t));
  const time = manualClock();
  const leases = new NodeLeases(store, 'pods', { clock: time.clock, graceMs: 60_000 });
  const claim = (node: string, subnet: string) => ({ node, subnet, claimedAt: time.now().toISOString() });
  await store.put('overlay/pods/subnets/10.244.0.0-24', claim('ghost', '10.244.0.0/24'));
  await store.put('overlay/pods/subnets/10.244.5.0-24', claim('node-a', '10.244.5.0/24'));

  t.is((await leases.acquire('node-a', request(1))).subnet, '10.244.5.0/24', 'its own claim, not the lowest free');
  t.is((await leases.acquire('node-b', request(2))).subnet, '10.244.1.0/24', "the ghost's claim is respected");
  t.deepEqual(await leases.reclaimExpired(), [], 'first seen orphaned: stamped');
  t.truthy((await store.get('overlay/pods/subnets/10.244.0.0-24'))?.value && ((await store.get('overlay/pods/subnets/10.244.0.0-24'))!.value as { orphanedAt?: string }).orphanedAt);
  time.advance(59_999);
  t.deepEqual(await leases.reclaimExpired(), []);
  time.advance(1);
  t.deepEqual(await leases.reclaimExpired(), [{ node: 'ghost', subnet: '10.244.0.0/24', reason: 'orphan-claim' }]);
  t.is((await leases.acquire('node-c', request(3))).subnet, '10.244.0.0/24');
});

test('node leases: node keys written through a node store (etcd: the node lease) vanish with it; the claim stays, is stamped orphaned, and the node gets its block back', async (t) => {
  const store = openStore(tempDir(t));
  const time = manualClock();
  // A second view of the same keys stands in for the lease-bound store: deleting the node key is what the lease expiry does.
  const leases = new NodeLeases(store, 'pods', { clock: time.clock, graceMs: 60_000, nodeStore: store });
  const a = await leases.acquire('node-a', request(1));
  await store.delete('overlay/pods/nodes/node-a');
  t.deepEqual(await leases.list(), []);
  t.deepEqual(await leases.reclaimExpired(), []);
  time.advance(30_000);
  t.is((await leases.acquire('node-a', request(1))).subnet, a.subnet, 'back within the grace: same block');
  t.is(((await store.get('overlay/pods/subnets/10.244.0.0-24'))!.value as { orphanedAt?: string }).orphanedAt, undefined, 'adopted: no longer orphaned');
});

test('node leases: a lease whose claim went to another node is replaced by a fresh block', async (t) => {
  const store = openStore(tempDir(t));
  const leases = new NodeLeases(store, 'pods');
  await leases.acquire('node-a', request(1));
  await store.put('overlay/pods/subnets/10.244.0.0-24', { node: 'node-x', subnet: '10.244.0.0/24', claimedAt: '2025-01-01T00:00:00.000Z' });
  t.is((await leases.acquire('node-a', request(1))).subnet, '10.244.1.0/24');
  await store.delete('overlay/pods/subnets/10.244.1.0-24');
  t.is((await leases.acquire('node-a', request(1))).subnet, '10.244.1.0/24', 'a missing claim is re-created');
  t.like((await store.get('overlay/pods/subnets/10.244.1.0-24'))?.value, { node: 'node-a', subnet: '10.244.1.0/24' });
});

test('node leases: bad input is an InvalidConfigError naming the field', async (t) => {
  const leases = new NodeLeases(openStore(tempDir(t)), 'pods');
  const cases: [string, LeaseRequest, string][] = [
    ['node/a', request(1), 'node'],
    ['', request(1), 'node'],
    ['node-a', request(1, { subnet: '10.244.0.1/16' }), 'subnet'],
    ['node-a', request(1, { subnetLen: 31 }), 'subnetLen'],
    ['node-a', request(1, { vtep: '192.168.50' }), 'vtep'],
    ['node-a', request(1, { vtepMac: '01:00:5e:00:00:01' }), 'vtepMac'],
    ['node-a', request(1, { vtepMac: '00:00:00:00:00:00' }), 'vtepMac'],
    ['node-a', request(1, { vtepMac: '0e2a00000001' }), 'vtepMac'],
  ];
  for (const [node, req, field] of cases) {
    const err = await t.throwsAsync(leases.acquire(node, req), { instanceOf: InvalidConfigError });
    t.is(err?.fields.field, field, `${node} ${JSON.stringify(req)}`);
  }
  t.throws(() => new NodeLeases(openStore(tempDir(t)), 'a/b'), { instanceOf: InvalidConfigError });
  const opts: NodeLeasesOptions = { graceMs: -1 };
  t.throws(() => new NodeLeases(openStore(tempDir(t)), 'pods', opts), { instanceOf: InvalidConfigError });
});

test('node leases: a reclaim racing the released node coming back never leaves a lease without its claim', async (t) => {
  const dir = tempDir(t);
  const time = manualClock();
  const opts = { clock: time.clock, graceMs: 1000 };
  for (let round = 0; round < 10; round++) {
    const leases = new NodeLeases(openStore(dir), 'pods', opts);
    await leases.acquire('node-a', request(1));
    await leases.release('node-a');
    time.advance(1000);
    const [back] = await Promise.all([new NodeLeases(openStore(dir), 'pods', opts).acquire('node-a', request(1)), new NodeLeases(openStore(dir), 'pods', opts).reclaimExpired()]);
    const stored = await leases.get('node-a');
    t.deepEqual(stored, back, `round ${round}`);
    t.like((await openStore(dir).get(`overlay/pods/subnets/${back.subnet.replace('/', '-')}`))?.value, { node: 'node-a' }, `round ${round}`);
    t.is((await openStore(dir).list('overlay/pods/subnets/')).length, 1, `round ${round}`);
  }
});
