/**
 * Watch for the file store: rescan the keys under a prefix and report what differs from the
 * last scan. fs.watch (inotify) only says *when* to rescan, promptly; a slow periodic rescan
 * covers whatever it cannot see (the directory not existing yet, inotify queue overflow,
 * filesystems without inotify). Comparing scans instead of trusting event payloads is what
 * keeps this correct: a missed or coalesced notification costs latency, never an update.
 * When inotify names the files that changed, only those are looked at (`scanOne`): a write in
 * a store of thousands of keys costs one read, not thousands; the periodic scan stays whole.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Entry, Unsubscribe, WatchEvent } from '../store.js';

export interface DirectoryWatchOptions {
  /** Directory whose changes trigger a rescan. It may not exist yet. */
  readonly dir: string;
  /** Reads the current entries under the watched prefix. */
  readonly scan: () => ReadonlyMap<string, Entry>;
  /**
   * Reads the entry behind one file name: `ignore` for files outside the prefix (temp files,
   * other keys), `entry: undefined` when the key is gone. Without it every event rescans.
   */
  readonly scanOne?: (name: string) => { readonly key: string; readonly entry: Entry | undefined } | 'ignore';
  /** Period of the fallback rescan. */
  readonly intervalMs: number;
  readonly onEvent: (event: WatchEvent) => void;
}

/** Pause after a notification, so that one write's create+rename costs one rescan. */
const SETTLE_MS = 2;

/** Starts watching; the first scan happens now, so only later changes are reported. */
export function watchDirectory(options: DirectoryWatchOptions): Unsubscribe {
  const { dir, scan, onEvent } = options;
  let known = new Map(scan());
  let watcher: FSWatcher | undefined;
  let pending: NodeJS.Timeout | undefined;
  let closed = false;
  /** Files inotify named since the last look; undefined: a whole scan is due. */
  let named: Set<string> | undefined = new Set();

  /** Only the named files: their keys' events, or undefined when a whole scan is needed. */
  const lookAtNamed = (names: ReadonlySet<string>): WatchEvent[] | undefined => {
    const scanOne = options.scanOne;
    if (!scanOne || names.size === 0) return undefined;
    const events: WatchEvent[] = [];
    for (const name of names) {
      const r = scanOne(name);
      if (r === 'ignore') continue;
      const was = known.get(r.key);
      if (r.entry && was?.revision !== r.entry.revision) {
        known.set(r.key, r.entry);
        events.push({ type: 'put', key: r.key, value: r.entry.value, revision: r.entry.revision });
      } else if (!r.entry && was) {
        known.delete(r.key);
        events.push({ type: 'delete', key: r.key });
      }
    }
    return events;
  };

  const lookAtAll = (): WatchEvent[] => {
    const now = scan();
    const events: WatchEvent[] = [];
    for (const [key, entry] of now) {
      if (known.get(key)?.revision !== entry.revision) {
        events.push({ type: 'put', key, value: entry.value, revision: entry.revision });
      }
    }
    for (const key of known.keys()) if (!now.has(key)) events.push({ type: 'delete', key });
    known = new Map(now);
    return events;
  };

  const rescan = (whole = false): void => {
    pending = undefined;
    if (closed) return;
    ensureWatcher();
    const names = named;
    named = new Set();
    let events: WatchEvent[];
    try {
      events = (!whole && names && lookAtNamed(names)) || lookAtAll();
    } catch {
      named = undefined;
      return; // Unreadable right now (permissions, a corrupt file being fixed): next scan.
    }
    events.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const event of events) {
      if (closed) return;
      onEvent(event);
    }
  };

  const schedule = (_event: string, filename: string | Buffer | null): void => {
    if (closed) return;
    if (filename === null || filename === undefined) named = undefined;
    else named?.add(filename.toString());
    if (pending) return;
    pending = setTimeout(rescan, SETTLE_MS);
    pending.unref();
  };

  const ensureWatcher = (): void => {
    if (watcher) return;
    try {
      watcher = watch(dir, { persistent: false }, schedule);
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // Directory missing: the periodic rescan retries.
    }
  };

  ensureWatcher();
  const timer = setInterval(() => rescan(true), options.intervalMs);
  timer.unref();

  return () => {
    closed = true;
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    watcher?.close();
    watcher = undefined;
  };
}
