/**
 * Watch for the file store: rescan the keys under a prefix and report what differs from the
 * last scan. fs.watch (inotify) only says *when* to rescan, promptly; a slow periodic rescan
 * covers whatever it cannot see (the directory not existing yet, inotify queue overflow,
 * filesystems without inotify). Comparing scans instead of trusting event payloads is what
 * keeps this correct: a missed or coalesced notification costs latency, never an update.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Entry, Unsubscribe, WatchEvent } from '../store.js';

export interface DirectoryWatchOptions {
  /** Directory whose changes trigger a rescan. It may not exist yet. */
  readonly dir: string;
  /** Reads the current entries under the watched prefix. */
  readonly scan: () => ReadonlyMap<string, Entry>;
  /** Period of the fallback rescan. */
  readonly intervalMs: number;
  readonly onEvent: (event: WatchEvent) => void;
}

/** Pause after a notification, so that one write's create+rename costs one rescan. */
const SETTLE_MS = 2;

/** Starts watching; the first scan happens now, so only later changes are reported. */
export function watchDirectory(options: DirectoryWatchOptions): Unsubscribe {
  const { dir, scan, onEvent } = options;
  let known = scan();
  let watcher: FSWatcher | undefined;
  let pending: NodeJS.Timeout | undefined;
  let closed = false;

  const rescan = (): void => {
    pending = undefined;
    if (closed) return;
    ensureWatcher();
    let now: ReadonlyMap<string, Entry>;
    try {
      now = scan();
    } catch {
      return; // Unreadable right now (permissions, a corrupt file being fixed): next scan.
    }
    const events: WatchEvent[] = [];
    for (const [key, entry] of now) {
      if (known.get(key)?.revision !== entry.revision) {
        events.push({ type: 'put', key, value: entry.value, revision: entry.revision });
      }
    }
    for (const key of known.keys()) if (!now.has(key)) events.push({ type: 'delete', key });
    known = now;
    events.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const event of events) {
      if (closed) return;
      onEvent(event);
    }
  };

  const schedule = (): void => {
    if (pending || closed) return;
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
  const timer = setInterval(rescan, options.intervalMs);
  timer.unref();

  return () => {
    closed = true;
    clearInterval(timer);
    if (pending) clearTimeout(pending);
    watcher?.close();
    watcher = undefined;
  };
}
