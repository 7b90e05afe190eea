// The file store's watch scans a directory of keys; a quiet directory must cost a stat of the
// directory per period, not a stat per key (berthd holds thousands of keys).
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchDirectory } from '../../../store/file/directory-watch.js';
import type { Entry, WatchEvent } from '../../../store/store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A directory of `n` files whose last change is older than the watch's racy window (1 s). */
async function quietDirectory(n: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-watch-'));
  for (let i = 0; i < n; i++) writeFileSync(join(dir, `k${i}`), String(i));
  await sleep(1100);
  return dir;
}

/**
 * A quiet directory of `n` files under a watch (a 20 ms period) that counts its scans; both
 * undone when the test ends.
 */
async function watchedQuietDirectory(t: ExecutionContext, n: number) {
  const dir = await quietDirectory(n);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const events: WatchEvent[] = [];
  let scans = 0;
  let revision = 0;
  const unwatch = watchDirectory({
    dir,
    intervalMs: 20,
    onEvent: (e) => events.push(e),
    scan: () => {
      scans++;
      revision++;
      // Every scan reads new revisions: a scan that ran would report every key as changed.
      return new Map<string, Entry>([['k', { key: 'k', value: revision, revision }]]);
    },
  });
  t.teardown(unwatch);
  return { dir, events, scans: () => scans };
}

test('directory watch: a quiet directory is not scanned again by the periodic look', async (t) => {
  const { events, scans } = await watchedQuietDirectory(t, 50);
  await sleep(400);
  t.is(scans(), 1, 'only the first scan ran');
  t.deepEqual(events, []);
});

test('directory watch: a file added to a quiet directory is found by the next look', async (t) => {
  const { dir, events, scans } = await watchedQuietDirectory(t, 5);
  writeFileSync(join(dir, 'new'), 'x');
  const deadline = Date.now() + 3000;
  while (events.length === 0 && Date.now() < deadline) await sleep(10);
  t.true(scans() >= 2, 'the change caused a scan');
  t.is(events[0]?.key, 'k');
});

test('directory watch: a directory made after the watch began is scanned whole once it exists', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'berth-watch-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const dir = join(parent, 'kv');
  const events: WatchEvent[] = [];
  // What the directory holds, as the file store's scan reads it.
  const files = (): Map<string, Entry> => new Map((existsSync(dir) ? readdirSync(dir) : []).map((name) => [name, { key: name, value: name, revision: 1 }]));
  const unwatch = watchDirectory({ dir, intervalMs: 20, onEvent: (e) => events.push(e), scan: files });
  t.teardown(unwatch);
  await sleep(60);
  mkdirSync(dir);
  writeFileSync(join(dir, 'k'), 'x');
  const deadline = Date.now() + 3000;
  while (events.length === 0 && Date.now() < deadline) await sleep(10);
  t.deepEqual(
    events.map((e) => e.key),
    ['k'],
    'the file made before inotify watched the directory was found',
  );
});
