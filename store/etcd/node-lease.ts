/**
 * The node's lease: keys written through it vanish when this node stops keeping it alive
 * (the process died, the node lost etcd for longer than the TTL). The overlay's "this host
 * is here, its VTEP is that" records are such keys.
 *
 * The lease is granted when the NodeLease is made and kept alive every TTL/3 on one keep-alive
 * stream. While etcd cannot be reached the keep-alives fail and are tried again; nothing is
 * concluded from a failure alone. Only etcd saying the lease is gone (TTL 0, or a write
 * refused with "lease not found") counts as a loss: then a new lease is granted and every key
 * this NodeLease wrote and that is now missing is written again under it (a key somebody else
 * created meanwhile is left to them). `onRenewed` listeners hear of it.
 *
 * Reads and watches are the store's; `put` and `update` attach the lease; `delete` is the
 * store's delete (and the key is no longer restored).
 */
import type { ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, IDuplexStream } from 'etcd3';
import { IoError, TryAgainError, type BerthError } from '../../core/errors.js';
import type { DeleteResult, Entry, JsonValue, PutResult, Store, Unsubscribe, Updater, WatchEvent, WriteOptions } from '../store.js';
import type { EtcdConnection } from './connection.js';
import { runUpdate, strip } from './update-loop.js';

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

interface PendingKeepAlive {
  readonly resolve: (ttl: number) => void;
  readonly reject: (err: unknown) => void;
}

export interface NodeLeaseDeps {
  readonly conn: EtcdConnection;
  /** The store reads and watches go to. */
  readonly store: Store;
  readonly onError: (err: BerthError) => void;
  /** Called once the lease is revoked (the store forgets it). */
  readonly onRevoked: () => void;
}

export class NodeLease implements Store {
  readonly ttlSeconds: number;
  private readonly deps: NodeLeaseDeps;
  private grant: Promise<string> | undefined;
  /** Keys written through this lease, with their last value: what is restored after a loss. */
  private readonly owned = new Map<string, JsonValue>();
  private readonly listeners = new Set<(leaseId: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private keepAlive: { readonly stream: KeepAliveStream; readonly pending: PendingKeepAlive[] } | undefined;
  private renewing: Promise<void> | undefined;
  /** A renewal granted a lease but could not restore every key yet. */
  private restoreDue = false;
  private failing = false;
  private closed = false;

  constructor(ttlSeconds: number, deps: NodeLeaseDeps) {
    this.ttlSeconds = ttlSeconds;
    this.deps = deps;
    void this.leaseId().catch(() => {}); // granted now; a failure is retried by the first user or tick
    this.timer = setInterval(() => void this.tick(), (ttlSeconds * 1000) / 3);
    this.timer.unref();
  }

  /** The current lease's ID (decimal), granting one if there is none. */
  async leaseId(): Promise<string> {
    if (this.closed) throw new IoError('The node lease was released', { operation: 'etcdctl lease grant' });
    if (!this.grant) {
      const grant = this.deps.conn
        .call(`etcdctl lease grant ${this.ttlSeconds}`, () => this.deps.conn.client.leaseClient.leaseGrant({ TTL: this.ttlSeconds }))
        .then((res) => {
          if (res.error) throw new IoError(`etcd refused a lease of ${this.ttlSeconds} s: ${res.error}`, { operation: `etcdctl lease grant ${this.ttlSeconds}` });
          return res.ID;
        });
      this.grant = grant;
      grant.catch(() => {
        if (this.grant === grant) this.grant = undefined;
      });
    }
    return this.grant;
  }

  /** Calls `cb` with the new lease's ID whenever a lost lease was replaced and its keys restored. */
  onRenewed(cb: (leaseId: string) => void): Unsubscribe {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  // ---- Store: reads and watches are the store's ----

  get(key: string): Promise<Entry | undefined> {
    return this.deps.store.get(key);
  }

  list(prefix: string): Promise<Entry[]> {
    return this.deps.store.list(prefix);
  }

  watch(prefix: string, cb: (event: WatchEvent) => void): Unsubscribe {
    return this.deps.store.watch(prefix, cb);
  }

  // ---- Store: writes attach the lease ----

  /** {@inheritDoc Store.put} The key is attached to the lease (a key of another lease moves to this one). */
  async put(key: string, value: JsonValue, options: WriteOptions = {}): Promise<PutResult> {
    return this.withLease(async (lease) => {
      const outcome = await this.deps.conn.put(key, value, options.expectRevision, lease);
      if (!outcome.ok) return { ok: false, current: strip(outcome.current) };
      this.owned.set(key, value);
      return outcome;
    });
  }

  /** {@inheritDoc Store.delete} The key is no longer restored after a loss of the lease. */
  async delete(key: string, options: WriteOptions = {}): Promise<DeleteResult> {
    const outcome = await this.deps.store.delete(key, options);
    if (outcome.ok) this.owned.delete(key);
    return outcome;
  }

  /** {@inheritDoc Store.update} A written value is attached to the lease. */
  async update<R>(key: string, fn: Updater<R>): Promise<R> {
    return this.withLease((lease) =>
      runUpdate(this.deps.conn, key, fn, {
        lease,
        written: (value) => (value === undefined ? this.owned.delete(key) : this.owned.set(key, value)),
      }),
    );
  }

  // ---- lifetime ----

  /** Ends the lease now: etcd deletes every key attached to it. */
  async revoke(): Promise<void> {
    const grant = this.grant;
    this.stop();
    this.owned.clear();
    this.deps.onRevoked();
    if (!grant) return;
    const id = await grant.catch(() => undefined);
    if (id === undefined) return;
    await this.deps.conn
      .call(`etcdctl lease revoke ${id}`, () => this.deps.conn.client.leaseClient.leaseRevoke({ ID: id }))
      .catch((err: unknown) => {
        if (!this.deps.conn.isLeaseGone(err)) throw err;
      });
  }

  /** Stops keeping the lease alive without revoking it: its keys go when the TTL runs out. */
  release(): void {
    this.stop();
  }

  private stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.dropKeepAlive(new IoError('The node lease was released'));
  }

  // ---- keeping it alive ----

  /** Runs a write with the current lease; a write refused because the lease is gone renews it and runs again. */
  private async withLease<T>(write: (lease: string) => Promise<T>): Promise<T> {
    const lease = await this.leaseId();
    try {
      return await write(lease);
    } catch (err) {
      if (!this.deps.conn.isLeaseGone(err)) throw err;
      await this.renew(lease);
      return write(await this.leaseId());
    }
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.renewing) return;
      if (this.restoreDue) return await this.restore(await this.leaseId());
      const lease = await this.leaseId();
      const ttl = await this.keepAliveOnce(lease);
      if (ttl <= 0) await this.renew(lease);
      this.failing = false;
    } catch (err) {
      if (this.closed) return;
      // Said once per outage, not every TTL/3.
      if (!this.failing) this.deps.onError(this.deps.conn.error(err, `etcdctl lease keep-alive (TTL ${this.ttlSeconds} s)`));
      this.failing = true;
    }
  }

  /** Replaces the lease `lost` (once, however many callers saw it go) and restores the keys. */
  private renew(lost: string): Promise<void> {
    if (this.renewing) return this.renewing;
    const renewing = (async () => {
      const current = await this.grant?.catch(() => undefined);
      if (current !== undefined && current !== lost) return; // already replaced
      this.grant = undefined;
      this.dropKeepAlive(new TryAgainError('the lease was replaced'));
      const lease = await this.leaseId();
      this.restoreDue = true;
      await this.restore(lease);
    })();
    this.renewing = renewing;
    return renewing.finally(() => {
      if (this.renewing === renewing) this.renewing = undefined;
    });
  }

  /** Writes again every owned key that is missing, under `lease`; then tells the listeners. */
  private async restore(lease: string): Promise<void> {
    for (const [key, value] of [...this.owned]) {
      if (this.closed) return;
      const outcome = await this.deps.conn.put(key, value, 0, lease);
      // Taken by somebody else since it vanished: theirs now. (Ours under the new lease: a
      // write that raced the renewal.)
      if (!outcome.ok && outcome.current?.lease !== lease) this.owned.delete(key);
    }
    this.restoreDue = false;
    for (const cb of this.listeners) {
      try {
        cb(lease);
      } catch (err) {
        setImmediate(() => {
          throw err;
        });
      }
    }
  }

  /** One keep-alive on the lease's stream: the TTL etcd answers (0: the lease is gone). */
  private async keepAliveOnce(lease: string): Promise<number> {
    const ka = this.keepAlive ?? (await this.openKeepAlive());
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.dropKeepAlive(new TryAgainError(`etcd did not answer a lease keep-alive within ${this.deps.conn.requestTimeoutMs} ms`));
      }, this.deps.conn.requestTimeoutMs);
      timer.unref();
      ka.pending.push({
        resolve: (ttl) => {
          clearTimeout(timer);
          resolve(ttl);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      ka.stream.write({ ID: lease });
    });
  }

  private async openKeepAlive(): Promise<{ readonly stream: KeepAliveStream; readonly pending: PendingKeepAlive[] }> {
    const stream = await this.deps.conn.client.leaseClient.leaseKeepAlive();
    const ka = { stream, pending: [] as PendingKeepAlive[] };
    stream.on('data', (res) => {
      this.deps.conn.observe(res.header);
      ka.pending.shift()?.resolve(Number(res.TTL));
    });
    stream.on('error', (err) => {
      if (this.keepAlive === ka) this.dropKeepAlive(err);
    });
    stream.on('end', () => {
      if (this.keepAlive === ka) this.dropKeepAlive(new TryAgainError('etcd ended the lease keep-alive stream'));
    });
    if (this.closed) {
      stream.cancel();
      throw new IoError('The node lease was released');
    }
    this.keepAlive = ka;
    return ka;
  }

  private dropKeepAlive(err: unknown): void {
    const ka = this.keepAlive;
    if (!ka) return;
    this.keepAlive = undefined;
    for (const p of ka.pending.splice(0)) p.reject(err);
    ka.stream.cancel();
  }
}
