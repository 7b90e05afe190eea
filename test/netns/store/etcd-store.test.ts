// store/etcd against a real etcd (Debian's etcd-server), started by the test inside the run's
// private network namespace on 127.0.0.1 (etcd-server.ts). The Store contract runs on it as on
// the file store; then what only etcd has: cluster revisions, the node lease, watches from a
// revision, compaction, a restarted etcd, an unreachable one.
import test, { type ExecutionContext } from 'ava';
import { Etcd3 } from 'etcd3';
import { createServer, type Socket } from 'node:net';
import { IoError, TryAgainError } from '../../../core/errors.js';
import { openEtcdStore, type EtcdStore, type EtcdStoreOptions } from '../../../store/etcd/etcd-store.js';
import type { Store, WatchEvent } from '../../../store/store.js';
import { EtcdServer, freePort } from './etcd-server.js';
import { storeContract, until } from '../../support/store-contract.js';

let shared: EtcdServer | undefined;
test.before(async () => {
  shared = await EtcdServer.start();
});
test.after.always(async () => {
  await shared?.remove();
});

function server(): EtcdServer {
  if (!shared) throw new Error('etcd did not start');
  return shared;
}

let prefixes = 0;
/** A prefix of its own for one test, so the tests share one etcd without seeing each other. */
const newPrefix = () => `/berth-test/${++prefixes}/`;

async function open(t: ExecutionContext, options: Partial<EtcdStoreOptions> & { prefix: string }, on = server()): Promise<EtcdStore> {
  const store = await openEtcdStore({ endpoints: [on.endpoint], requestTimeoutMs: 3000, ...options });
  t.teardown(() => store.close());
  return store;
}

/** etcd's own client, for what a test does behind the store's back (compact, revoke, raw reads). */
function raw(t: ExecutionContext, on = server()): Etcd3 {
  const client = new Etcd3({ hosts: on.endpoint });
  t.teardown(() => client.close());
  return client;
}

/** Keeps the state a watcher's events describe: what a consumer of `watch` would hold. */
function follow(store: Store, prefix: string): { state: Map<string, unknown>; events: WatchEvent[]; stop: () => void } {
  const state = new Map<string, unknown>();
  const events: WatchEvent[] = [];
  const stop = store.watch(prefix, (e) => {
    events.push(e);
    if (e.type === 'put') state.set(e.key, e.value);
    else state.delete(e.key);
  });
  return { state, events, stop };
}

async function asMap(store: Store, prefix: string): Promise<Map<string, unknown>> {
  return new Map((await store.list(prefix)).map((e) => [e.key, e.value]));
}

/** Repeats `fn` while etcd is not back yet (TryAgainError), for up to 20 s. */
async function whenBack<T>(fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof TryAgainError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const summary = (events: readonly WatchEvent[]) => events.map((e) => [e.type, e.key, e.type === 'put' ? e.value : null]);

storeContract('etcd store', {
  async open(t) {
    const prefix = newPrefix();
    return { store: await open(t, { prefix }), other: await open(t, { prefix }) };
  },
});

test('etcd store: Entry.revision is the key mod revision, counted by the cluster', async (t) => {
  const prefix = newPrefix();
  const store = await open(t, { prefix });
  const client = raw(t);
  const a = await store.put('a', 1);
  const b = await store.put('b', 2);
  if (!a.ok || !b.ok) return t.fail();
  t.true(b.revision > a.revision, 'one counter for the whole cluster');
  const kv = await client.get(`${prefix}a`).exec();
  t.is(Number(kv.kvs[0]?.mod_revision), a.revision);
  t.is((await store.get('a'))?.revision, a.revision);
  t.true(store.revision >= b.revision, 'the store knows the latest revision it saw');
  t.deepEqual(JSON.parse(kv.kvs[0]?.value.toString() ?? ''), 1, 'values are JSON in etcd');
});

test('etcd store: update runs the callback again when another writer got there first, and the result is consistent', async (t) => {
  const prefix = newPrefix();
  const store = await open(t, { prefix });
  const other = await open(t, { prefix });
  let calls = 0;
  const add = (s: Store) =>
    s.update('n', (cur) => {
      calls++;
      return { value: ((cur as number | undefined) ?? 0) + 1, result: undefined };
    });
  // Fifty at once: all read the same revision, one write wins per round, the others go again.
  await Promise.all(Array.from({ length: 50 }, (_, i) => add(i % 2 ? store : other)));
  t.is((await store.get('n'))?.value, 50);
  t.true(calls > 50, `the callback ran ${calls} times for 50 updates: conflicts were retried`);
});

test('etcd store: stores with different prefixes do not see each other; a value that is not JSON is an IoError', async (t) => {
  const one = await open(t, { prefix: newPrefix() });
  const prefix = newPrefix();
  const two = await open(t, { prefix });
  await one.put('k', 'one');
  t.is(await two.get('k'), undefined);
  t.deepEqual(await two.list(''), []);
  await raw(t).put(`${prefix}bad`).value('not json');
  await t.throwsAsync(two.get('bad'), { instanceOf: IoError, message: /does not hold JSON/ });
  await t.throwsAsync(two.list(''), { instanceOf: IoError });
});

test('etcd store: a watch from a revision or from a snapshot reports exactly the changes after it', async (t) => {
  const prefix = newPrefix();
  const store = await open(t, { prefix });
  await store.put('f/0', 0);
  const snapshot = await store.snapshot('f/');
  t.deepEqual(
    snapshot.entries.map((e) => e.key),
    ['f/0'],
  );
  await store.put('f/1', 1);
  await store.put('f/1', 'one');
  await store.delete('f/0');
  await store.put('g/1', 'elsewhere');
  const fromSnapshot: WatchEvent[] = [];
  const fromRevision: WatchEvent[] = [];
  t.teardown(store.watch('f/', (e) => fromSnapshot.push(e), { after: snapshot }));
  t.teardown(store.watch('f/', (e) => fromRevision.push(e), { after: snapshot.revision }));
  const expected = [
    ['put', 'f/1', 1],
    ['put', 'f/1', 'one'],
    ['delete', 'f/0', null],
  ];
  await until(() => fromSnapshot.length >= 3 && fromRevision.length >= 3);
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(summary(fromSnapshot), expected, 'etcd replays the history after the snapshot, event by event');
  t.deepEqual(summary(fromRevision), expected);
  t.throws(() => store.watch('g/', () => {}, { after: snapshot }), { message: /cannot start from a snapshot/ });
});

test('etcd store: the node lease keeps its keys while the node lives; they vanish when it dies, and watchers see it', async (t) => {
  const prefix = newPrefix();
  const nodeA = await open(t, { prefix });
  const nodeB = await openEtcdStore({ endpoints: [server().endpoint], prefix });
  t.teardown(() => nodeB.close());
  const lease = nodeB.leaseFor(2);
  t.is(nodeB.leaseFor(2), lease, 'one lease per node');
  t.throws(() => nodeB.leaseFor(5), { message: /already holds a lease with a TTL of 2 s/ });
  t.true((await lease.put('nodes/b', { vtep: '192.0.2.2' })).ok);
  t.is(await lease.update('nodes/b-extra', () => ({ value: 'x', result: 'ok' })), 'ok');
  await nodeB.put('permanent/b', 'stays');
  const leaseId = await lease.leaseId();
  t.is((await raw(t).get(`${prefix}nodes/b`).exec()).kvs[0]?.lease, leaseId);
  // Node A reads before it watches: a watch starts from the latest revision its store has seen
  // (writes of other clients it has not seen yet would be reported as well).
  t.is((await nodeA.list('nodes/')).length, 2);
  const watched = follow(nodeA, 'nodes/');
  t.teardown(watched.stop);
  // Three TTLs later the keys are still there: the lease is kept alive.
  await new Promise((r) => setTimeout(r, 6000));
  t.deepEqual([...(await asMap(nodeA, 'nodes/')).keys()], ['nodes/b', 'nodes/b-extra']);
  // The node dies: nobody keeps the lease alive any more.
  nodeB.close();
  await until(() => watched.events.length >= 2, 15_000);
  t.deepEqual(summary(watched.events).sort(), [
    ['delete', 'nodes/b', null],
    ['delete', 'nodes/b-extra', null],
  ]);
  t.deepEqual(await nodeA.list('nodes/'), []);
  t.is((await nodeA.get('permanent/b'))?.value, 'stays', 'keys written without the lease stay');
});

test('etcd store: a lost lease is replaced and its keys written again; a key somebody else took meanwhile stays theirs', async (t) => {
  const prefix = newPrefix();
  const node = await open(t, { prefix });
  const other = await open(t, { prefix });
  const client = raw(t);
  const lease = node.leaseFor(2);
  await lease.put('nodes/n', 'mine');
  await lease.put('nodes/taken', 'mine too');
  await lease.put('nodes/dropped', 'deleted by me');
  await lease.delete('nodes/dropped');
  const first = await lease.leaseId();
  const renewed = new Promise<string>((resolve) => lease.onRenewed(resolve));
  // The lease is lost behind the node's back (as when etcd expired it during a partition).
  await client.leaseClient.leaseRevoke({ ID: first });
  await other.put('nodes/taken', 'theirs');
  // A write through the lease now is refused by etcd ("lease not found") unless the keep-alive
  // noticed first; either way it renews the lease (once) and lands under the new one.
  await lease.put('nodes/racer', 'r');
  const second = await renewed;
  t.not(second, first);
  t.deepEqual(
    [...(await asMap(other, 'nodes/'))],
    [
      ['nodes/n', 'mine'],
      ['nodes/racer', 'r'],
      ['nodes/taken', 'theirs'],
    ],
  );
  t.is((await client.get(`${prefix}nodes/racer`).exec()).kvs[0]?.lease, second);
  t.is((await client.get(`${prefix}nodes/n`).exec()).kvs[0]?.lease, second, 'restored under the new lease');
  t.is((await client.get(`${prefix}nodes/taken`).exec()).kvs[0]?.lease, '0');
  // A write through the lease after the loss uses the new one.
  await lease.put('nodes/later', 1);
  t.is((await client.get(`${prefix}nodes/later`).exec()).kvs[0]?.lease, second);
});

test('etcd store: revoking the lease removes its keys now; a new lease can be had after', async (t) => {
  const prefix = newPrefix();
  const node = await open(t, { prefix });
  const lease = node.leaseFor(30);
  await lease.put('nodes/x', 1);
  await lease.revoke();
  t.deepEqual(await node.list('nodes/'), []);
  await t.throwsAsync(lease.put('nodes/x', 2), { instanceOf: IoError, message: /released/ });
  const again = node.leaseFor(10);
  t.not(again, lease);
  await again.put('nodes/x', 3);
  t.is((await node.get('nodes/x'))?.value, 3);
});

test('etcd store: an unreachable etcd is a TryAgainError, whether nothing listens or nothing answers', async (t) => {
  const port = await freePort();
  const refused = await t.throwsAsync(openEtcdStore({ endpoints: [`http://127.0.0.1:${port}`], requestTimeoutMs: 2000 }), { instanceOf: TryAgainError });
  t.regex(refused?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${port}`));
  // A listener that never speaks gRPC: the request's deadline ends it.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const address = silent.address();
  if (address === null || typeof address === 'string') return t.fail();
  const started = Date.now();
  await t.throwsAsync(openEtcdStore({ endpoints: [`http://127.0.0.1:${address.port}`], requestTimeoutMs: 500 }), { instanceOf: TryAgainError });
  t.true(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms`);
});

// ---- compaction and restarts: an etcd of their own ----

let stormy: EtcdServer | undefined;
async function ownServer(): Promise<EtcdServer> {
  stormy ??= await EtcdServer.start();
  return stormy;
}
test.after.always(async () => {
  await stormy?.remove();
});

async function compact(client: Etcd3): Promise<number> {
  const now = Number((await client.get('anything').exec()).header.revision);
  await client.kv.compact({ revision: now, physical: true });
  return now;
}

test.serial('etcd store: after a compaction, a watch that fell behind gets the current state: puts for what changed, deletes for what it knew and is gone', async (t) => {
  const on = await ownServer();
  const prefix = newPrefix();
  const store = await open(t, { prefix }, on);
  const client = raw(t, on);
  for (const key of ['c/keep', 'c/change', 'c/gone']) await store.put(key, 'old');
  const snapshot = await store.snapshot('c/');
  for (const v of [1, 2, 3]) await store.put('c/change', v);
  await store.delete('c/gone');
  await store.put('c/new', 'new');
  await store.put('c/tmp', 'tmp');
  await store.delete('c/tmp');
  await compact(client);
  // etcd cannot replay from the snapshot any more: the watch reads the state instead.
  const fromSnapshot: WatchEvent[] = [];
  t.teardown(store.watch('c/', (e) => fromSnapshot.push(e), { after: snapshot }));
  await until(() => fromSnapshot.length >= 3);
  t.deepEqual(summary(fromSnapshot), [
    ['put', 'c/change', 3],
    ['delete', 'c/gone', null],
    ['put', 'c/new', 'new'],
  ]);
  // From a bare revision there is no known state to compare with: everything there is, as puts.
  const fromRevision: WatchEvent[] = [];
  t.teardown(store.watch('c/', (e) => fromRevision.push(e), { after: snapshot.revision }));
  await until(() => fromRevision.length >= 3);
  t.deepEqual(summary(fromRevision), [
    ['put', 'c/change', 3],
    ['put', 'c/keep', 'old'],
    ['put', 'c/new', 'new'],
  ]);
  // Both go on from there.
  await store.put('c/after', 'a');
  await until(() => fromSnapshot.length >= 4 && fromRevision.length >= 4);
  t.deepEqual(summary(fromSnapshot.slice(3)), [['put', 'c/after', 'a']]);
  t.deepEqual(summary(fromRevision.slice(3)), [['put', 'c/after', 'a']]);
});

test.serial('etcd store: a watch survives an etcd restart, and does not miss the final state when the history was compacted meanwhile; the lease survives too', async (t) => {
  const on = await ownServer();
  const prefix = newPrefix();
  // The watcher comes back 3 s after its stream broke: by then the writer has changed things
  // and compacted the history, so etcd cannot replay and the watcher must read the state.
  const errors: Error[] = [];
  const watcher = await open(t, { prefix, retryDelay: { minMs: 3000, maxMs: 3000 }, onError: (e) => errors.push(e) }, on);
  const writer = await open(t, { prefix }, on);
  const lease = watcher.leaseFor(2);
  await lease.put('r/node', 'watcher');
  const renewals: string[] = [];
  lease.onRenewed((id) => renewals.push(id));
  const watched = follow(watcher, 'r/');
  t.teardown(watched.stop);
  for (const n of [1, 2, 3]) await writer.put(`r/${n}`, n);
  await until(() => watched.state.size === 3);
  t.deepEqual(
    [...watched.state],
    [
      ['r/1', 1],
      ['r/2', 2],
      ['r/3', 3],
    ],
  );

  await on.kill();
  const down = await t.throwsAsync(watcher.get('r/1'), { instanceOf: TryAgainError });
  t.true(down?.message.includes(on.endpoint), down?.message);
  await t.throwsAsync(writer.put('r/1', 'lost'), { instanceOf: TryAgainError });
  await on.restart();

  const eventsBefore = watched.events.length;
  for (const v of ['x', 'y', 'z']) await whenBack(() => writer.put('r/1', v));
  await writer.delete('r/3');
  await writer.put('r/4', 4);
  await compact(raw(t, on));
  // The watcher's view is the store's: everything it was told adds up to what is there.
  const want = [
    ['r/1', 'z'],
    ['r/2', 2],
    ['r/4', 4],
  ];
  const seen = () => [...watched.state].filter(([k]) => k !== 'r/node').sort();
  await until(() => JSON.stringify(seen()) === JSON.stringify(want), 20_000);
  t.deepEqual(seen(), want);
  t.deepEqual(
    [...(await asMap(writer, 'r/'))].filter(([k]) => k !== 'r/node'),
    want,
  );
  const after = watched.events.slice(eventsBefore);
  t.is(after.filter((e) => e.key === 'r/1').length, 1, 'one put with the final value of r/1, not three: the state was read, not replayed');
  t.true(
    errors.some((e) => e instanceof TryAgainError),
    'the lost stream was reported',
  );

  // And it goes on watching.
  await writer.put('r/5', 5);
  await until(() => watched.state.has('r/5'));
  t.is(watched.state.get('r/5'), 5);

  // The lease outlived the restart: kept alive again, never lost, its key still there.
  await new Promise((r) => setTimeout(r, 3000));
  t.deepEqual(renewals, []);
  t.is((await writer.get('r/node'))?.value, 'watcher');
});
