// The file store's own cases; the Store contract (put/get/list/delete, compare-and-swap, update,
// watch) is held by file-store-contract.test.ts, written once for every store.
import test, { type ExecutionContext } from 'ava';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BerthError, IoError } from '../../../core/errors.js';
import { FileStore } from '../../../store/file/file-store.js';
import { lockFileSync, tryLockFile } from '../../../store/file/file-lock.js';
import type { WatchEvent } from '../../../store/store.js';

function tempStore(t: ExecutionContext, options: { watchIntervalMs?: number } = {}): { store: FileStore; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { store: new FileStore({ dataDir: dir, fsync: false, ...options }), dir };
}

const holder = new URL('./fixtures/lock-holder.js', import.meta.url);

/** Forks lock-holder.js and resolves once it holds its lock. */
async function holdInChild(t: ExecutionContext, dir: string, mode: 'named' | 'key', name: string, holdMs: number) {
  const marker = join(dir, `marker-${mode}`);
  const child = fork(holder, [dir, mode, name, marker, String(holdMs)], { stdio: 'inherit' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 5));
  return { child, exited };
}

test('file store: update is read-modify-write; returning the current value writes nothing; undefined deletes', (t) => {
  const { store, dir } = tempStore(t);
  t.is(
    store.updateSync('counter', (cur) => ({ value: ((cur as number | undefined) ?? 0) + 1, result: 'made' })),
    'made',
  );
  store.updateSync('counter', (cur) => ({ value: (cur as number) + 1, result: undefined }));
  const before = store.getSync('counter');
  t.is(before?.value, 2);
  t.is(
    store.updateSync('counter', (cur) => ({ value: cur, result: 'same' })),
    'same',
  );
  t.is(store.getSync('counter')?.revision, before?.revision);
  t.throws(
    () =>
      store.updateSync('counter', () => {
        throw new Error('no');
      }),
    { message: 'no' },
  );
  t.is(store.getSync('counter')?.value, 2);
  store.updateSync('counter', () => ({ value: undefined, result: undefined }));
  t.is(store.getSync('counter'), undefined);
  // The key's lock file goes with the key.
  t.deepEqual(readdirSync(join(dir, 'locks', 'kv')), []);
});

test('file store: the async update serialises with itself', async (t) => {
  const { store } = tempStore(t);
  await Promise.all(Array.from({ length: 50 }, () => store.update('n', (cur) => ({ value: ((cur as number | undefined) ?? 0) + 1, result: undefined }))));
  t.is((await store.get('n'))?.value, 50);
});

test('file store: a stale temp file is ignored, overwritten by the next write, and swept', (t) => {
  const { store, dir } = tempStore(t);
  store.putSync('x/y', 'good');
  const name = 'x%2Fy';
  writeFileSync(join(dir, 'kv', `${name}~tmp`), '{"revision":1,"val'); // a writer killed mid-write
  t.is(store.getSync('x/y')?.value, 'good');
  t.deepEqual(
    store.listSync('x/').map((e) => e.value),
    ['good'],
  );
  t.deepEqual(store.sweepSync(), { tempFiles: 1, lockFiles: 0 });
  t.false(existsSync(join(dir, 'kv', `${name}~tmp`)));
  writeFileSync(join(dir, 'kv', `${name}~tmp`), 'torn');
  store.putSync('x/y', 'newer');
  t.is(store.getSync('x/y')?.value, 'newer');
  t.false(existsSync(join(dir, 'kv', `${name}~tmp`)));
  // A lock file left for a key that does not exist is swept too.
  lockFileSync(join(dir, 'locks', 'kv', 'gone')).release();
  t.deepEqual(store.sweepSync(), { tempFiles: 0, lockFiles: 1 });
});

test('file store: a damaged value file is an IoError, not an empty value', (t) => {
  const { store, dir } = tempStore(t);
  store.putSync('k', 1);
  writeFileSync(join(dir, 'kv', 'k'), '');
  t.throws(() => store.getSync('k'), { instanceOf: IoError, message: /not valid JSON/ });
  writeFileSync(join(dir, 'kv', 'k'), '{"value":1}');
  t.throws(() => store.getSync('k'), { instanceOf: IoError, message: /not a berth store record/ });
});

test('file store: values are written whole (temp file + rename) and stay valid JSON', (t) => {
  const { store, dir } = tempStore(t);
  const big = { list: Array.from({ length: 10_000 }, (_, i) => `item-${i}`) };
  store.putSync('big', big);
  const record = JSON.parse(readFileSync(join(dir, 'kv', 'big'), 'utf8')) as { value: unknown };
  t.deepEqual(record.value, big);
  t.deepEqual(readdirSync(join(dir, 'kv')), ['big']);
});

test('file store: watch follows the files inotify names, without the periodic scan', async (t) => {
  // A minute between whole scans: whatever arrives within the test came from a targeted look.
  const { store } = tempStore(t, { watchIntervalMs: 60_000 });
  for (let i = 0; i < 200; i++) await store.put(`w/${i}`, i);
  const events: WatchEvent[] = [];
  const unsubscribe = store.watch('w/', (e) => events.push(e));
  t.teardown(unsubscribe);
  const settle = async (n: number) => {
    const deadline = Date.now() + 3000;
    while (events.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  await store.put('w/7', 'seven');
  await settle(1);
  await store.delete('w/8');
  await settle(2);
  await store.put('w/new', true);
  await store.put('elsewhere', 1);
  await settle(3);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(
    events.map((e) => [e.type, e.key, e.type === 'put' ? e.value : null]),
    [
      ['put', 'w/7', 'seven'],
      ['delete', 'w/8', null],
      ['put', 'w/new', true],
    ],
  );
});

test('withLockSync: excludes another process, and a holder killed with SIGKILL frees the lock', async (t) => {
  const { store, dir } = tempStore(t);
  const { child, exited } = await holdInChild(t, dir, 'named', 'bridge-br0', 60_000);
  const lockPath = join(dir, 'locks', 'named', 'bridge-br0');
  t.is(tryLockFile(lockPath), undefined, 'the child holds the lock');
  child.kill('SIGKILL');
  await exited;
  const started = Date.now();
  t.is(
    store.withLockSync('bridge-br0', () => 'mine'),
    'mine',
  );
  t.true(Date.now() - started < 5000, 'the dead holder did not wedge the lock');
});

test('withLockSync: waits for another process to finish', async (t) => {
  const { store, dir } = tempStore(t);
  const { exited } = await holdInChild(t, dir, 'named', 'n', 300);
  // The child writes marker.done while it still holds the lock, so seeing it proves the wait.
  t.true(store.withLockSync('n', () => existsSync(join(dir, 'marker-named.done'))));
  t.is(await exited, 0);
});

test('withLockSync: taking a lock this process already holds throws instead of deadlocking', (t) => {
  const { store } = tempStore(t);
  const err = t.throws(() => store.withLockSync('a', () => store.withLockSync('a', () => 1)), { instanceOf: BerthError });
  t.is(err?.code, 'internal');
  t.is(
    store.withLockSync('a', () => store.withLockSync('b', () => 2)),
    2,
  );
});

test('file store: a writer waiting on a key whose holder deletes it (and its lock file) retries on a fresh lock', async (t) => {
  const { store, dir } = tempStore(t);
  store.putSync('k', 'old');
  const { exited } = await holdInChild(t, dir, 'key', 'k', 300);
  const result = store.putSync('k', 'new', { expectRevision: 0 }); // blocks until the child deleted k
  t.true(existsSync(join(dir, 'marker-key.done')));
  t.true(result.ok);
  t.is(store.getSync('k')?.value, 'new');
  t.true(existsSync(join(dir, 'locks', 'kv', 'k')));
  t.is(await exited, 0);
});
