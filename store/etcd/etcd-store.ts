/**
 * The cluster store: `Store` on etcd v3, for berthd (see README.md in this folder).
 *
 * The etcd client (the `etcd3` package, on @grpc/grpc-js) is loaded by `openEtcdStore` with
 * import(), so importing this module costs nothing and CNI plugins never load gRPC.
 *
 * Revisions are etcd's: `Entry.revision` is the key's mod revision (the cluster revision of
 * its last write), `expectRevision` compares against it (0: the key must not exist).
 */
import { InvalidConfigError, IoError, TryAgainError, type BerthError } from '../../core/errors.js';
import type { DeleteResult, Entry, JsonValue, PutResult, Store, Unsubscribe, Updater, WatchEvent, WriteOptions } from '../store.js';
import { EtcdConnection, type EtcdLib, type Snapshot } from './connection.js';
import { NodeLease } from './node-lease.js';
import { PrefixWatch, type RetryDelay, type WatchStart } from './prefix-watch.js';
import { runUpdate, strip } from './update-loop.js';

export type { Snapshot } from './connection.js';
export type { NodeLease } from './node-lease.js';

/** The prefix of berth's keys in etcd unless told otherwise. */
export const DEFAULT_ETCD_PREFIX = '/berth/';

export interface EtcdStoreOptions {
  /** Client URLs of the cluster's members (`http://10.0.0.1:2379`; `https://` uses TLS). */
  readonly endpoints: readonly string[];
  /** Prefix of every key in etcd: store key `a/b` is `<prefix>a/b`. @default '/berth/' */
  readonly prefix?: string;
  /** Deadline of one request; a request that misses it fails with TryAgainError. @default 5000 */
  readonly requestTimeoutMs?: number;
  /** Pauses between attempts of a watch to come back after a failure. @default { minMs: 100, maxMs: 5000 } */
  readonly retryDelay?: RetryDelay;
  /** TLS: the CA that signed the members' certificates, and a client certificate if they ask for one. */
  readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** etcd's own user/password authentication. */
  readonly auth?: { readonly username: string; readonly password: string };
  /**
   * Failures the store recovers from by itself (a watch that lost its stream, a lease
   * keep-alive that etcd did not answer, a value in etcd that is not JSON); for the log.
   * @default ignore them
   */
  readonly onError?: (err: BerthError) => void;
}

export interface EtcdWatchOptions {
  /**
   * Report the changes after this point instead of after the call: a revision (the state at
   * that revision is read from etcd) or a `Snapshot` the caller already holds (from
   * `snapshot()`; its prefix must cover the watched one).
   */
  readonly after?: number | Snapshot;
}

/**
 * Connects to etcd and checks that it answers. Rejects with TryAgainError when no endpoint
 * answers within `requestTimeoutMs`.
 */
export async function openEtcdStore(options: EtcdStoreOptions): Promise<EtcdStore> {
  if (options.endpoints.length === 0) throw new InvalidConfigError('The etcd store needs at least one endpoint', { field: 'endpoints' });
  const prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
  const requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  if (!Number.isFinite(requestTimeoutMs) || requestTimeoutMs <= 0)
    throw new InvalidConfigError('requestTimeoutMs must be a positive number of milliseconds', { field: 'requestTimeoutMs', value: String(requestTimeoutMs) });
  const lib: EtcdLib = await import('etcd3');
  const conn = new EtcdConnection(lib, {
    endpoints: options.endpoints,
    prefix,
    requestTimeoutMs,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.auth ? { auth: options.auth } : {}),
  });
  try {
    await conn.ping();
  } catch (err) {
    conn.close();
    throw err;
  }
  return new EtcdStore(conn, options);
}

export class EtcdStore implements Store {
  private readonly conn: EtcdConnection;
  private readonly retry: RetryDelay;
  private readonly onError: (err: BerthError) => void;
  private readonly watches = new Set<PrefixWatch>();
  private lease: NodeLease | undefined;
  private closed = false;

  /** Use `openEtcdStore`. */
  constructor(conn: EtcdConnection, options: EtcdStoreOptions) {
    this.conn = conn;
    this.retry = options.retryDelay ?? { minMs: 100, maxMs: 5000 };
    this.onError = options.onError ?? (() => {});
  }

  /** The prefix of this store's keys in etcd. */
  get prefix(): string {
    return this.conn.prefix;
  }

  /** The highest cluster revision this store has seen in an answer. */
  get revision(): number {
    return this.conn.revision;
  }

  /** {@inheritDoc Store.get} */
  async get(key: string): Promise<Entry | undefined> {
    return strip(await this.conn.get(key));
  }

  /** {@inheritDoc Store.put} */
  async put(key: string, value: JsonValue, options: WriteOptions = {}): Promise<PutResult> {
    const outcome = await this.conn.put(key, value, options.expectRevision);
    return outcome.ok ? outcome : { ok: false, current: strip(outcome.current) };
  }

  /** {@inheritDoc Store.delete} */
  async delete(key: string, options: WriteOptions = {}): Promise<DeleteResult> {
    const outcome = await this.conn.delete(key, options.expectRevision);
    return outcome.ok ? outcome : { ok: false, current: strip(outcome.current) };
  }

  /** {@inheritDoc Store.list} One range request. */
  async list(prefix: string): Promise<Entry[]> {
    return [...(await this.snapshot(prefix)).entries];
  }

  /** The keys under `prefix` and the revision they were read at: the starting point of `watch(..., { after })`. */
  async snapshot(prefix: string): Promise<Snapshot> {
    const snapshot = await this.conn.snapshot(prefix);
    if (!snapshot) throw new TryAgainError('etcd answered no snapshot'); // only a read at a past revision can be compacted
    return snapshot;
  }

  /**
   * {@inheritDoc Store.update} Optimistic: `fn` runs again whenever another writer changed the
   * key between the read and the write (see update-loop.ts).
   */
  async update<R>(key: string, fn: Updater<R>): Promise<R> {
    return runUpdate(this.conn, key, fn);
  }

  /**
   * {@inheritDoc Store.watch}
   *
   * "After this call" is after the latest revision this store has seen in an answer: a change
   * another client made just before the call, which this store has not read yet, is reported
   * too (never the other way round: nothing made after the call is missed). Read first, or
   * pass `after`, to draw the line exactly.
   *
   * Every change is reported, in revision order; after the stream broke, etcd replays what was
   * missed. When it cannot (the history was compacted meanwhile), the watch reads the prefix
   * again and reports the difference: a `put` for every key that is new or changed and a
   * `delete` for every key it knew of that is gone, so the final state is never missed.
   *
   * Unlike the file store's, an etcd watch holds a gRPC stream, which keeps the process alive
   * until the watch is stopped or the store closed.
   */
  watch(prefix: string, cb: (event: WatchEvent) => void, options: EtcdWatchOptions = {}): Unsubscribe {
    if (this.closed) throw new IoError(`The etcd store is closed: cannot watch ${JSON.stringify(prefix)}`);
    let start: WatchStart;
    const after = options.after;
    if (after === undefined) start = { revision: this.conn.revision };
    else if (typeof after === 'number') start = { revision: after };
    else if (prefix.startsWith(after.prefix)) start = { snapshot: after };
    else throw new InvalidConfigError(`A watch of ${JSON.stringify(prefix)} cannot start from a snapshot of ${JSON.stringify(after.prefix)}`, { field: 'after' });
    const watch = new PrefixWatch(this.conn, { prefix, onEvent: cb, onError: this.onError, retry: this.retry });
    this.watches.add(watch);
    watch.start(start);
    return () => {
      watch.stop();
      this.watches.delete(watch);
    };
  }

  /**
   * The node's lease, granted on first use and kept alive while the store is open: keys
   * written through it vanish when this node stops keeping it alive. One per store: asking
   * again gives the same lease (with another TTL, an error).
   */
  leaseFor(ttlSeconds: number): NodeLease {
    if (this.closed) throw new IoError('The etcd store is closed: cannot grant a lease');
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new InvalidConfigError('A lease TTL is a whole number of seconds, at least 1', { field: 'ttlSeconds', value: String(ttlSeconds) });
    if (this.lease) {
      if (this.lease.ttlSeconds !== ttlSeconds)
        throw new InvalidConfigError(`This node already holds a lease with a TTL of ${this.lease.ttlSeconds} s (asked: ${ttlSeconds} s)`, { field: 'ttlSeconds', value: String(ttlSeconds) });
      return this.lease;
    }
    const lease: NodeLease = new NodeLease(ttlSeconds, {
      conn: this.conn,
      store: this,
      onError: this.onError,
      onRevoked: () => {
        if (this.lease === lease) this.lease = undefined;
      },
    });
    this.lease = lease;
    return lease;
  }

  /**
   * Stops every watch, stops keeping the lease alive (its keys go when its TTL runs out; call
   * `revoke()` on it first to remove them now) and closes the connection. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const watch of this.watches) watch.stop();
    this.watches.clear();
    this.lease?.release();
    this.lease = undefined;
    this.conn.close();
  }
}
