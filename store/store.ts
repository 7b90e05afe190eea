/**
 * The key/value store every stateful part of berth sits on: IPAM pools, endpoint records,
 * cluster state. Two implementations share this contract: `store/file` (embedded default, files
 * under a data directory) and, later, etcd v3 (cluster scope).
 *
 * The contract is deliberately the intersection of what both can do cheaply: per-key
 * compare-and-swap on a revision, prefix listing, prefix watch, and a read-modify-write helper
 * whose callback may be run more than once (etcd retries it when the compare fails).
 */

/** A JSON value as stored. Values go through JSON on every write, so nothing else survives. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A key with its current value. */
export interface Entry {
  readonly key: string;
  readonly value: JsonValue;
  /**
   * Version of this key's value; changes on every write. Only compare it for equality (pass it
   * back as `expectRevision`): the file store counts per key, etcd counts per cluster.
   */
  readonly revision: number;
}

export interface WriteOptions {
  /**
   * Compare-and-swap: write only if the key's current revision is this one. `0` means the key
   * must not exist. Absent: write unconditionally.
   */
  readonly expectRevision?: number;
}

/** Outcome of a `put`; a failed compare is a normal outcome, not an exception. */
export type PutResult =
  | { readonly ok: true; readonly revision: number }
  /** The compare failed; `current` is what is there now (undefined: the key does not exist). */
  | { readonly ok: false; readonly current: Entry | undefined };

/** Outcome of a `delete`. Deleting a missing key without `expectRevision` succeeds. */
export type DeleteResult = { readonly ok: true; readonly existed: boolean } | { readonly ok: false; readonly current: Entry | undefined };

/**
 * What an `update` callback decides. `value: undefined` deletes the key. Returning the very
 * object the callback was given (`value === current`) leaves the key untouched: no write, no new
 * revision.
 */
export interface UpdateDecision<R> {
  readonly value: JsonValue | undefined;
  readonly result: R;
}

/**
 * The read-modify-write callback of `update`. It must be a pure function of `current`: it may
 * run several times (a store that uses optimistic concurrency calls it again after a conflict),
 * it must not await anything, and it must not modify `current` (build a new value instead; the
 * identity of `current` means "unchanged"). Throwing aborts the update and writes nothing.
 */
export type Updater<R> = (current: JsonValue | undefined) => UpdateDecision<R>;

export type WatchEvent = { readonly type: 'put'; readonly key: string; readonly value: JsonValue; readonly revision: number } | { readonly type: 'delete'; readonly key: string };

/** Stops a watch. Calling it twice is harmless. */
export type Unsubscribe = () => void;

export interface Store {
  /** The key's value and revision, or undefined when it does not exist. */
  get(key: string): Promise<Entry | undefined>;

  /** Writes the value, optionally only if the key is at `expectRevision` (0: absent). */
  put(key: string, value: JsonValue, options?: WriteOptions): Promise<PutResult>;

  /** Removes the key, optionally only if it is at `expectRevision`. Idempotent without it. */
  delete(key: string, options?: WriteOptions): Promise<DeleteResult>;

  /** Every key starting with `prefix` (plain string prefix), sorted by key. */
  list(prefix: string): Promise<Entry[]>;

  /**
   * Read-modify-write under exclusion: nobody else writes the key between the read given to
   * `fn` and the write of its decision. Resolves to the decision's `result`. Errors thrown by
   * `fn` reject the promise and leave the key as it was.
   */
  update<R>(key: string, fn: Updater<R>): Promise<R>;

  /**
   * Calls `cb` for every change under `prefix` made after this call, in the order the store
   * observes them. Rapid successive writes to one key may be reported as one `put` of the
   * latest value (the file store polls); a consumer must treat events as "re-read this key's
   * state", not as a log. Does not keep the process alive.
   */
  watch(prefix: string, cb: (event: WatchEvent) => void): Unsubscribe;
}

/**
 * The synchronous subset used by the CNI path: a plugin process runs one operation and exits,
 * so blocking calls are both simpler and cheaper there. Same semantics as the async methods.
 */
export interface SyncStore {
  getSync(key: string): Entry | undefined;
  updateSync<R>(key: string, fn: Updater<R>): R;
}
