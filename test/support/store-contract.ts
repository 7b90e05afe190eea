/**
 * The Store contract (store/store.ts), written once and run against every implementation:
 * the file store (test/unit/store/file-store-contract.test.ts) and etcd (test/netns/store/etcd-store.test.ts).
 */
import test, { type ExecutionContext } from 'ava';
import type { JsonValue, Store, WatchEvent } from '../../store/store.js';

export interface ContractStores {
  /** An empty store of its own for this test. */
  readonly store: Store;
  /** A second client on the same data (another process, another node). */
  readonly other: Store;
}

export interface ContractSubject {
  open(t: ExecutionContext): Promise<ContractStores>;
}

/** Waits until `done()` holds (or the time is up, and the caller's assertion says what is missing). */
export async function until(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

const summary = (events: readonly WatchEvent[]) => events.map((e) => [e.type, e.key, e.type === 'put' ? e.value : null]);

export function storeContract(name: string, subject: ContractSubject): void {
  test(`${name}: put, get, list by prefix, delete; revisions move on every write; delete is idempotent`, async (t) => {
    const { store } = await subject.open(t);
    t.is(await store.get('a/1'), undefined);
    const first = await store.put('a/1', { n: 1 });
    t.true(first.ok);
    const e1 = await store.get('a/1');
    t.deepEqual(e1?.value, { n: 1 });
    t.is(first.ok ? first.revision : undefined, e1?.revision, 'put answers the revision get then shows');
    const second = await store.put('a/1', { n: 2 });
    t.true(second.ok && e1 !== undefined && second.revision !== e1.revision);
    await store.put('a/2', 'two');
    await store.put('b/1', [1, 2]);
    t.deepEqual(
      (await store.list('a/')).map((e) => [e.key, e.value]),
      [
        ['a/1', { n: 2 }],
        ['a/2', 'two'],
      ],
    );
    t.deepEqual(await store.delete('a/1'), { ok: true, existed: true });
    t.deepEqual(await store.delete('a/1'), { ok: true, existed: false });
    t.is(await store.get('a/1'), undefined);
    t.deepEqual(
      (await store.list('')).map((e) => e.key),
      ['a/2', 'b/1'],
    );
  });

  test(`${name}: compare-and-swap on expectRevision (0 = must not exist)`, async (t) => {
    const { store, other } = await subject.open(t);
    const created = await store.put('k', 1, { expectRevision: 0 });
    t.true(created.ok);
    const again = await other.put('k', 2, { expectRevision: 0 });
    t.false(again.ok);
    t.is(!again.ok && again.current?.value, 1);
    t.is(!again.ok && created.ok && again.current?.revision, created.ok && created.revision);
    if (!created.ok) return t.fail();
    const swapped = await other.put('k', 3, { expectRevision: created.revision });
    t.true(swapped.ok);
    const stale = await store.put('k', 4, { expectRevision: created.revision });
    t.false(stale.ok);
    t.is(!stale.ok && stale.current?.value, 3);
    const staleDelete = await store.delete('k', { expectRevision: created.revision });
    t.false(staleDelete.ok);
    t.is((await store.get('k'))?.value, 3);
    if (!swapped.ok) return t.fail();
    t.deepEqual(await store.delete('k', { expectRevision: swapped.revision }), { ok: true, existed: true });
    // A missing key: a compare on a revision fails (current undefined), a compare on absence holds.
    t.deepEqual(await store.put('k', 9, { expectRevision: swapped.revision }), { ok: false, current: undefined });
    t.deepEqual(await store.delete('k', { expectRevision: swapped.revision }), { ok: false, current: undefined });
    t.deepEqual(await store.delete('k', { expectRevision: 0 }), { ok: true, existed: false });
    // A re-created key does not reuse the revisions of its earlier life.
    const reborn = await store.put('k', 5, { expectRevision: 0 });
    t.true(reborn.ok && reborn.revision !== created.revision && reborn.revision !== swapped.revision);
    const present = await store.delete('k', { expectRevision: 0 });
    t.false(present.ok);
    t.is(!present.ok && present.current?.value, 5);
  });

  test(`${name}: update is read-modify-write; returning the current value writes nothing; undefined deletes; a throw writes nothing`, async (t) => {
    const { store } = await subject.open(t);
    t.is(await store.update('counter', (cur) => ({ value: ((cur as number | undefined) ?? 0) + 1, result: 'made' })), 'made');
    await store.update('counter', (cur) => ({ value: (cur as number) + 1, result: undefined }));
    const before = await store.get('counter');
    t.is(before?.value, 2);
    t.is(await store.update('counter', (cur) => ({ value: cur, result: 'same' })), 'same');
    t.is((await store.get('counter'))?.revision, before?.revision);
    await t.throwsAsync(
      store.update('counter', () => {
        throw new Error('no');
      }),
      { message: 'no' },
    );
    t.is((await store.get('counter'))?.value, 2);
    t.is(await store.update('counter', () => ({ value: undefined, result: 'gone' })), 'gone');
    t.is(await store.get('counter'), undefined);
    t.is(await store.update('never', (cur) => ({ value: cur, result: cur === undefined })), true);
    t.is(await store.get('never'), undefined);
  });

  test(`${name}: updates from two clients at once are all applied, each once`, async (t) => {
    const { store, other } = await subject.open(t);
    const increment = (s: Store, who: string) =>
      s.update('n', (cur) => {
        const c = (cur ?? { total: 0, by: {} }) as { total: number; by: Record<string, number> };
        return { value: { total: c.total + 1, by: { ...c.by, [who]: (c.by[who] ?? 0) + 1 } }, result: c.total + 1 };
      });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? increment(store, 'a') : increment(other, 'b'))));
    t.deepEqual((await store.get('n'))?.value, { total: 40, by: { a: 20, b: 20 } });
    // Every update saw a different state: the results are 1..40, each once.
    t.deepEqual(
      [...results].sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });

  test(`${name}: list takes a plain string prefix and sorts by key`, async (t) => {
    const { store } = await subject.open(t);
    for (const key of ['b', 'a/2', 'a/10', 'a/1', 'ab', 'a', 'é/x', 'a-z']) await store.put(key, key);
    t.deepEqual(
      (await store.list('a')).map((e) => e.key),
      ['a', 'a-z', 'a/1', 'a/10', 'a/2', 'ab'],
    );
    t.deepEqual(
      (await store.list('a/')).map((e) => e.key),
      ['a/1', 'a/10', 'a/2'],
    );
    t.deepEqual(
      (await store.list('')).map((e) => e.key),
      ['a', 'a-z', 'a/1', 'a/10', 'a/2', 'ab', 'b', 'é/x'],
    );
    t.deepEqual(await store.list('zzz'), []);
    t.deepEqual(
      (await store.list('é')).map((e) => e.value),
      ['é/x'],
    );
  });

  test(`${name}: values go through JSON and come back equal`, async (t) => {
    const { store } = await subject.open(t);
    const values: JsonValue[] = [null, true, 0, -1.5, '', 'ünïcødé ✓', [], [1, [2, [3]]], {}, { a: { b: [null, { c: 'd' }] } }];
    for (const [i, v] of values.entries()) await store.put(`v/${i}`, v);
    t.deepEqual(
      (await store.list('v/')).map((e) => e.value),
      values,
    );
  });

  test(`${name}: watch reports puts and deletes under the prefix, from any client, and stops when unsubscribed`, async (t) => {
    const { store, other } = await subject.open(t);
    await store.put('w/before', 0);
    await store.put('w/kept', 0);
    const events: WatchEvent[] = [];
    const unsubscribe = store.watch('w/', (e) => events.push(e));
    t.teardown(unsubscribe);
    await store.put('w/a', 1);
    await store.put('other', 1);
    await until(() => events.length >= 1);
    await other.delete('w/before');
    await until(() => events.length >= 2);
    await other.put('w/b', { from: 'other' });
    await until(() => events.length >= 3);
    t.deepEqual(summary(events), [
      ['put', 'w/a', 1],
      ['delete', 'w/before', null],
      ['put', 'w/b', { from: 'other' }],
    ]);
    const put = events[0];
    t.is(put?.type === 'put' ? put.revision : undefined, (await store.get('w/a'))?.revision, 'a put event carries the revision of the write');
    unsubscribe();
    unsubscribe(); // twice is harmless
    await store.put('w/late', 1);
    await new Promise((r) => setTimeout(r, 300));
    t.is(events.length, 3);
  });
}
