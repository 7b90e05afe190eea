/**
 * Watch for the file store: rescan the keys under a prefix and report what differs from the
 * last scan. fs.watch (inotify) only says *when* to rescan, promptly; a slow periodic rescan
 * covers whatever it cannot see (the directory not existing yet, inotify queue overflow,
 * filesystems without inotify). Comparing scans instead of trusting event payloads is what
 * keeps this correct: a missed or coalesced notification costs latency, never an update.
 * When inotify names the files that changed, only those are looked at (`scanOne`): a write in
 * a store of thousands of keys costs one read, not thousands.
 *
 * The periodic scan is whole, but it first looks at the directory itself: the store only ever
 * creates, renames and removes files in it, each of which moves the directory's change time.
 * While that stamp is the one the last whole scan started from, nothing came, went or was
 * replaced, and the scan is skipped. While inotify works, the changes it named were looked at
 * already, and the whole scan is only a safety net: it runs at most every SAFETY_NET_MS. Without this, a store of thousands of keys cost a stat per
 * key per watcher every second: a tenth of a CPU at idle, and event-loop stalls of 100 ms that
 * every request waiting behind them paid.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
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

/**
 * A directory stamp is trusted to show the next change only once it is this much older than
 * the moment it was read: file times advance in clock ticks, so a change in the same tick as
 * the one before it could leave the stamp as it was ("racy" timestamps).
 */
const RACY_MS = 1000;

/** While inotify works, the whole scan runs at most this often (it only catches missed events). */
const SAFETY_NET_MS = 10_000;

/** The directory's identity and change times; undefined when it cannot be read. */
function directoryStamp(dir: string): { readonly text: string; readonly changedMs: number } | undefined {
  try {
    const st = statSync(dir);
    return { text: `${st.ino}:${st.mtimeMs}:${st.ctimeMs}`, changedMs: Math.max(st.mtimeMs, st.ctimeMs) };
  } catch {
    return undefined;
  }
}

/** Starts watching; the first scan happens now, so only later changes are reported. */
export function watchDirectory(options: DirectoryWatchOptions): Unsubscribe {
  const { dir, scan, onEvent } = options;
  let known = new Map<string, Entry>();
  let watcher: FSWatcher | undefined;
  let pending: NodeJS.Timeout | undefined;
  let closed = false;
  /** Files inotify named since the last look; undefined: a whole scan is due. */
  let named: Set<string> | undefined = new Set();
  /** The directory's stamp when the last whole scan began, if old enough to trust (RACY_MS). */
  let scannedAt: string | undefined;
  let lastWholeScan = Date.now();

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

  /** A whole scan, noting the directory's stamp and the time for the periodic look to skip by. */
  const scanWhole = (): ReadonlyMap<string, Entry> => {
    // Read before the scan: a change while it runs moves the stamp, and the next look rescans.
    const stamp = directoryStamp(dir);
    scannedAt = undefined;
    lastWholeScan = Date.now();
    const now = scan();
    if (stamp && Date.now() - stamp.changedMs > RACY_MS) scannedAt = stamp.text;
    return now;
  };

  const lookAtAll = (): WatchEvent[] => {
    const now = scanWhole();
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
    // A watcher made just now has seen nothing of what came before it: this look scans whole.
    const watched = watcher !== undefined;
    ensureWatcher();
    if (whole && named?.size === 0) {
      // The periodic look: nothing to do while the directory is as the last whole scan found
      // it, nor, while inotify reports, until the safety net is due.
      if (scannedAt !== undefined && directoryStamp(dir)?.text === scannedAt) return;
      if (watched && watcher && Date.now() - lastWholeScan < SAFETY_NET_MS) return;
    }
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

  // inotify first, then the first scan: a change made in between is seen by one or the other.
  ensureWatcher();
  known = new Map(scanWhole());
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
