/**
 * The embedded store: one JSON file per key under a data directory, no server.
 *
 * Layout under `dataDir`:
 *   kv/<encoded key>          `{"revision":N,"value":...}`, replaced only by rename
 *   kv/<encoded key>~tmp      the next value while it is being written (stale after a crash)
 *   locks/kv/<encoded key>    flock target serialising writers of that key
 *   locks/named/<name>        flock targets of `withLockSync`
 *
 * Reads take no lock: rename(2) replaces a value atomically, so a reader sees the old or the new
 * file, never a torn one. Writers of a key hold its flock while they read, decide, write the
 * temp file and rename it; the temp name is fixed per key for that reason, so a crashed
 * writer's leftover is simply overwritten by the next writer. See README.md in this folder.
 *
 * All I/O is synchronous: a CNI plugin does one operation and exits, and sync fs calls are the
 * cheapest there. The async methods run the same code; only lock waits yield to the loop.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IoError } from '../../core/errors.js';
import type { DeleteResult, Entry, JsonValue, PutResult, Store, SyncStore, Unsubscribe, Updater, WatchEvent, WriteOptions } from '../store.js';
import { watchDirectory } from './directory-watch.js';
import { decodeKey, encodeKey } from './key-encoding.js';
import { lockFile, lockFileSync, tryLockFile, type FileLock } from './file-lock.js';

/** Where berth keeps local state unless told otherwise. */
export const DEFAULT_DATA_DIR = '/var/lib/berth';

const TEMP_SUFFIX = '~tmp';

export interface FileStoreOptions {
  /** Root directory of the store; created on first write. @default '/var/lib/berth' */
  readonly dataDir?: string;
  /**
   * fsync each value before renaming it into place, so that a power loss leaves the old or the
   * new value rather than an empty file. The directory is not synced: losing the rename after
   * a power cut returns the previous value, which the store's users already tolerate (their
   * containers died with the power). @default true
   */
  readonly fsync?: boolean;
  /** Period of the fallback rescan of `watch` (fs.watch triggers the prompt ones). @default 1000 */
  readonly watchIntervalMs?: number;
}

/** What the stale-file sweep removed. */
export interface SweepReport {
  /** Temp files left by writers that died between writing and renaming. */
  readonly tempFiles: number;
  /** Lock files of keys that no longer exist. */
  readonly lockFiles: number;
}

/** A critical section's result, plus whether the key is gone (its lock file goes too). */
interface Section<R> {
  readonly result: R;
  readonly keyExists: boolean;
}

export class FileStore implements Store, SyncStore {
  readonly dataDir: string;
  private readonly fsync: boolean;
  private readonly watchIntervalMs: number;
  private readonly kvDir: string;
  private readonly keyLockDir: string;
  private readonly namedLockDir: string;

  /** Does no I/O: directories are created when first written. */
  constructor(options: FileStoreOptions = {}) {
    this.dataDir = options.dataDir ?? DEFAULT_DATA_DIR;
    this.fsync = options.fsync ?? true;
    this.watchIntervalMs = options.watchIntervalMs ?? 1000;
    this.kvDir = join(this.dataDir, 'kv');
    this.keyLockDir = join(this.dataDir, 'locks', 'kv');
    this.namedLockDir = join(this.dataDir, 'locks', 'named');
  }

  // ---- synchronous API (the CNI path) ----

  /** {@inheritDoc Store.get} Reads take no lock: values are replaced by rename. */
  getSync(key: string): Entry | undefined {
    return this.read(key, encodeKey(key));
  }

  /** {@inheritDoc Store.put} */
  putSync(key: string, value: JsonValue, options: WriteOptions = {}): PutResult {
    const name = encodeKey(key);
    return this.inSectionSync(name, () => this.putSection(key, name, value, options));
  }

  /** {@inheritDoc Store.delete} */
  deleteSync(key: string, options: WriteOptions = {}): DeleteResult {
    const name = encodeKey(key);
    return this.inSectionSync(name, () => this.deleteSection(key, name, options));
  }

  /** {@inheritDoc Store.list} One readdir plus one read per matching key. */
  listSync(prefix: string): Entry[] {
    const entries: Entry[] = [];
    for (const name of this.kvNames()) {
      if (name.endsWith(TEMP_SUFFIX)) continue;
      const key = decodeKey(name);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const entry = this.read(key, name);
      if (entry) entries.push(entry); // undefined: deleted since readdir
    }
    return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** {@inheritDoc Store.update}, blocking the thread while another process holds the key. */
  updateSync<R>(key: string, fn: Updater<R>): R {
    const name = encodeKey(key);
    return this.inSectionSync(name, () => this.updateSection(key, name, fn));
  }

  /**
   * Runs `fn` while holding the named lock, for exclusion around work that is not a store
   * write (e.g. "delete the bridge when its last port goes" against concurrent ADDs). Blocks
   * until the lock is free; a process that dies holding it releases it. Not re-entrant: taking
   * a lock this process already holds throws instead of deadlocking.
   */
  withLockSync<R>(name: string, fn: () => R): R {
    const lock = lockFileSync(join(this.namedLockDir, encodeKey(name)));
    try {
      return fn();
    } finally {
      lock.release();
    }
  }

  /**
   * Removes what killed writers left behind: temp files of keys nobody is writing and lock
   * files of keys that no longer exist. Safe to run at any time (it only touches files whose
   * lock it can take without waiting); meant for berthd's start-up.
   */
  sweepSync(): SweepReport {
    let tempFiles = 0;
    let lockFiles = 0;
    for (const file of this.kvNames()) {
      if (!file.endsWith(TEMP_SUFFIX)) continue;
      const name = file.slice(0, -TEMP_SUFFIX.length);
      if (decodeKey(name) === undefined) continue;
      const lock = tryLockFile(join(this.keyLockDir, name));
      if (!lock) continue;
      let exists = true;
      try {
        removeIfPresent(join(this.kvDir, file));
        tempFiles++;
        exists = this.exists(name);
      } finally {
        lock.release({ remove: !exists });
      }
    }
    for (const name of readdirOrEmpty(this.keyLockDir)) {
      if (decodeKey(name) === undefined || this.exists(name)) continue;
      const lock = tryLockFile(join(this.keyLockDir, name));
      if (!lock) continue;
      const exists = this.exists(name);
      lock.release({ remove: !exists });
      if (!exists) lockFiles++;
    }
    return { tempFiles, lockFiles };
  }

  // ---- asynchronous API (the Store interface) ----

  /** {@inheritDoc Store.get} */
  async get(key: string): Promise<Entry | undefined> {
    return this.getSync(key);
  }

  /** {@inheritDoc Store.put} Waits for the key's lock without blocking the event loop. */
  async put(key: string, value: JsonValue, options: WriteOptions = {}): Promise<PutResult> {
    const name = encodeKey(key);
    return this.inSection(name, () => this.putSection(key, name, value, options));
  }

  /** {@inheritDoc Store.delete} */
  async delete(key: string, options: WriteOptions = {}): Promise<DeleteResult> {
    const name = encodeKey(key);
    return this.inSection(name, () => this.deleteSection(key, name, options));
  }

  /** {@inheritDoc Store.list} */
  async list(prefix: string): Promise<Entry[]> {
    return this.listSync(prefix);
  }

  /** {@inheritDoc Store.update} Runs `fn` exactly once. */
  async update<R>(key: string, fn: Updater<R>): Promise<R> {
    const name = encodeKey(key);
    return this.inSection(name, () => this.updateSection(key, name, fn));
  }

  /** {@inheritDoc Store.watch} See directory-watch.ts for how changes are found. */
  watch(prefix: string, cb: (event: WatchEvent) => void): Unsubscribe {
    // Values are replaced by rename, so a file whose inode, mtime and size are unchanged holds
    // the value already read: a scan of a large store costs a stat per key, not a read.
    const cache = new Map<string, { readonly stamp: string; readonly entry: Entry }>();
    const readCached = (key: string, name: string): Entry | undefined => {
      let stamp: string;
      try {
        const st = statSync(join(this.kvDir, name));
        stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        cache.delete(name);
        return undefined;
      }
      const hit = cache.get(name);
      if (hit?.stamp === stamp) return hit.entry;
      const entry = this.read(key, name);
      if (entry) cache.set(name, { stamp, entry });
      else cache.delete(name);
      return entry;
    };
    const keyOf = (name: string): string | undefined => {
      if (name.endsWith(TEMP_SUFFIX)) return undefined;
      const key = decodeKey(name);
      return key !== undefined && key.startsWith(prefix) ? key : undefined;
    };
    return watchDirectory({
      dir: this.kvDir,
      intervalMs: this.watchIntervalMs,
      onEvent: cb,
      scan: () => {
        const names = this.kvNames();
        const present = new Set(names);
        for (const n of cache.keys()) if (!present.has(n)) cache.delete(n);
        const out = new Map<string, Entry>();
        for (const name of names) {
          const key = keyOf(name);
          const entry = key === undefined ? undefined : readCached(key, name);
          if (entry) out.set(entry.key, entry);
        }
        return out;
      },
      scanOne: (name) => {
        const key = keyOf(name);
        return key === undefined ? 'ignore' : { key, entry: readCached(key, name) };
      },
    });
  }

  // ---- critical sections: run with the key's lock held; all synchronous ----

  private putSection(key: string, name: string, value: JsonValue, options: WriteOptions): Section<PutResult> {
    const current = this.read(key, name);
    if (options.expectRevision !== undefined && (current?.revision ?? 0) !== options.expectRevision) {
      return { result: { ok: false, current }, keyExists: current !== undefined };
    }
    return { result: { ok: true, revision: this.write(key, name, current, value) }, keyExists: true };
  }

  private deleteSection(key: string, name: string, options: WriteOptions): Section<DeleteResult> {
    const current = this.read(key, name);
    if (options.expectRevision !== undefined && (current?.revision ?? 0) !== options.expectRevision) {
      return { result: { ok: false, current }, keyExists: current !== undefined };
    }
    if (current) this.remove(key, name);
    return { result: { ok: true, existed: current !== undefined }, keyExists: false };
  }

  private updateSection<R>(key: string, name: string, fn: Updater<R>): Section<R> {
    const current = this.read(key, name);
    const decision = fn(current?.value);
    if (decision.value === current?.value) return { result: decision.result, keyExists: current !== undefined };
    if (decision.value === undefined) {
      this.remove(key, name);
      return { result: decision.result, keyExists: false };
    }
    this.write(key, name, current, decision.value);
    return { result: decision.result, keyExists: true };
  }

  private inSectionSync<R>(name: string, section: () => Section<R>): R {
    return finish(lockFileSync(join(this.keyLockDir, name)), section);
  }

  private async inSection<R>(name: string, section: () => Section<R>): Promise<R> {
    return finish(await lockFile(join(this.keyLockDir, name)), section);
  }

  // ---- files ----

  private read(key: string, name: string): Entry | undefined {
    const path = join(this.kvDir, name);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fsError(`Cannot read key ${JSON.stringify(key)}`, `read ${path}`, err);
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      throw new IoError(`Cannot read key ${JSON.stringify(key)}: ${path} is not valid JSON (it was not written by berth, or the disk lost data)`, { operation: `read ${path}` }, { cause: err });
    }
    const { revision, value } = (record ?? {}) as { revision?: unknown; value?: JsonValue };
    if (!Number.isSafeInteger(revision) || (revision as number) < 1 || value === undefined) {
      throw new IoError(`Cannot read key ${JSON.stringify(key)}: ${path} is not a berth store record`, { operation: `read ${path}` });
    }
    return { key, value, revision: revision as number };
  }

  /** Writes the temp file and renames it over the value; returns the new revision. */
  private write(key: string, name: string, current: Entry | undefined, value: JsonValue): number {
    // A key's revisions count up by one while it exists. A (re)created key starts from the
    // clock in microseconds, so it does not reuse the revisions of an earlier life of the same
    // key and a stale expectRevision cannot match by accident.
    const revision = current ? current.revision + 1 : Date.now() * 1000;
    const path = join(this.kvDir, name);
    const temp = path + TEMP_SUFFIX;
    const data = `${JSON.stringify({ revision, value })}\n`;
    try {
      const fd = openForWrite(temp, this.kvDir);
      try {
        writeFileSync(fd, data);
        if (this.fsync) fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
    } catch (err) {
      throw fsError(`Cannot write key ${JSON.stringify(key)}`, `write ${path}`, err);
    }
    return revision;
  }

  private remove(key: string, name: string): void {
    const path = join(this.kvDir, name);
    try {
      removeIfPresent(path);
      removeIfPresent(path + TEMP_SUFFIX);
    } catch (err) {
      throw fsError(`Cannot delete key ${JSON.stringify(key)}`, `unlink ${path}`, err);
    }
  }

  private exists(name: string): boolean {
    return existsSync(join(this.kvDir, name));
  }

  private kvNames(): string[] {
    try {
      return readdirOrEmpty(this.kvDir);
    } catch (err) {
      throw fsError('Cannot list the store', `readdir ${this.kvDir}`, err);
    }
  }
}

/** Runs a critical section and releases the lock, removing the lock file when the key is gone. */
function finish<R>(lock: FileLock, section: () => Section<R>): R {
  let keyExists = true;
  try {
    const done = section();
    keyExists = done.keyExists;
    return done.result;
  } finally {
    lock.release({ remove: !keyExists });
  }
}

function openForWrite(path: string, dir: string): number {
  try {
    return openSync(path, 'w', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openSync(path, 'w', 0o600);
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function fsError(message: string, operation: string, err: unknown): IoError {
  if (err instanceof IoError) return err;
  const e = err as NodeJS.ErrnoException;
  return new IoError(`${message}: ${e.message}`, { ...(e.errno === undefined ? {} : { errno: Math.abs(e.errno) }), operation }, { cause: err });
}
