/**
 * One connection to an etcd v3 cluster, shared by the store, its watches and its lease: the
 * etcd3 client (loaded by the caller with import()), keys under the store's prefix, JSON
 * values, the highest cluster revision seen, and the one place where the client's errors
 * become berth's (core/errors).
 *
 * Fault handling is berth's, not the client's: etcd3's default retries every failed call up
 * to three times, which for a compare-and-swap whose answer was lost would apply a write
 * twice (an update callback that allocates would allocate twice). Here no call is retried
 * behind the caller's back; an unreachable cluster is a TryAgainError, said once.
 */
import type * as Etcd3Module from 'etcd3';
import type { Etcd3, IKeyValue, IOptions, IRangeResponse, IRequestOp, IResponseHeader, ITxnResponse } from 'etcd3';
import { BerthError, InvalidConfigError, IoError, TryAgainError } from '../../core/errors.js';
import type { Entry, JsonValue } from '../store.js';

/** The etcd3 module, as `import('etcd3')` gives it. */
export type EtcdLib = typeof Etcd3Module;

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

export interface ConnectionOptions {
  readonly endpoints: readonly string[];
  /** Prefix of every key in etcd (store key `a/b` is etcd key `<prefix>a/b`). */
  readonly prefix: string;
  /** Deadline of one request (not of a stream). */
  readonly requestTimeoutMs: number;
  readonly tls?: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  readonly auth?: { readonly username: string; readonly password: string };
}

/** The entries under a prefix and the cluster revision they were read at. */
export interface Snapshot {
  readonly prefix: string;
  /** Every change after this revision is newer than `entries`. */
  readonly revision: number;
  /** Sorted by key. */
  readonly entries: readonly Entry[];
}

/** A key as etcd holds it: the entry plus the lease it is attached to ('0': none). */
export interface RawEntry extends Entry {
  readonly lease: string;
}

/** Passes every call straight through: no retry, no circuit breaker (see the file comment). */
const passThrough = {
  execute: async (fn: (context: { signal: AbortSignal }) => unknown) => fn({ signal: new AbortController().signal }),
} as unknown as Policy;

export class EtcdConnection {
  readonly lib: EtcdLib;
  readonly client: Etcd3;
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly requestTimeoutMs: number;
  private readonly prefixBytes: Buffer;
  /** Highest cluster revision seen in any response header. */
  private seen = 0;
  private closed = false;

  constructor(lib: EtcdLib, options: ConnectionOptions) {
    if (options.endpoints.length === 0) throw new InvalidConfigError('The etcd store needs at least one endpoint', { field: 'endpoints' });
    this.lib = lib;
    this.endpoints = options.endpoints;
    this.prefix = options.prefix;
    this.prefixBytes = Buffer.from(options.prefix, 'utf8');
    this.requestTimeoutMs = options.requestTimeoutMs;
    const timeout = options.requestTimeoutMs;
    this.client = new lib.Etcd3({
      hosts: [...options.endpoints],
      ...(options.tls
        ? { credentials: { rootCertificate: options.tls.ca, ...(options.tls.key ? { privateKey: options.tls.key } : {}), ...(options.tls.cert ? { certChain: options.tls.cert } : {}) } }
        : {}),
      ...(options.auth ? { auth: { username: options.auth.username, password: options.auth.password } } : {}),
      // Streams (watch, lease keep-alive) live until cancelled; every other call has a deadline.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeout }),
      grpcOptions: {
        // Back quickly after an etcd restart (gRPC's default backoff grows to two minutes).
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 2000,
        // Find a dead peer under an idle watch. etcd refuses pings more frequent than 5 s, and
        // pings without a stream open (so this never pings an idle connection).
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
      },
      faultHandling: { host: () => passThrough, global: passThrough },
    });
  }

  /** The highest cluster revision this connection has seen (0 before the first answer). */
  get revision(): number {
    return this.seen;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  // ---- keys and values ----

  etcdKey(key: string): Buffer {
    return Buffer.concat([this.prefixBytes, Buffer.from(key, 'utf8')]);
  }

  /** The range [key, rangeEnd) holding every etcd key that starts with the store's prefix + `prefix`. */
  range(prefix: string): { key: Buffer; range_end: Buffer } {
    const start = this.etcdKey(prefix);
    if (start.length === 0) return { key: Buffer.from([0]), range_end: Buffer.from([0]) }; // every key
    const end = Buffer.from(start);
    for (let i = end.length - 1; i >= 0; i--) {
      if (end[i]! < 0xff) {
        end[i]!++;
        return { key: start, range_end: end.subarray(0, i + 1) };
      }
    }
    return { key: start, range_end: Buffer.from([0]) }; // all 0xff: up to the end of the keyspace
  }

  storeKey(etcdKey: Buffer): string {
    return etcdKey.subarray(this.prefixBytes.length).toString('utf8');
  }

  encode(value: JsonValue): Buffer {
    return Buffer.from(JSON.stringify(value), 'utf8');
  }

  decode(kv: IKeyValue): RawEntry {
    const key = this.storeKey(kv.key);
    let value: JsonValue;
    try {
      value = JSON.parse(kv.value.toString('utf8')) as JsonValue;
    } catch (err) {
      throw new IoError(
        `Cannot read key ${JSON.stringify(key)}: etcd key ${JSON.stringify(kv.key.toString('utf8'))} does not hold JSON (it was not written by berth)`,
        { operation: `etcdctl get ${kv.key.toString('utf8')}` },
        { cause: err },
      );
    }
    return { key, value, revision: revisionOf(kv.mod_revision), lease: kv.lease };
  }

  /** `decode` without the lease, for the store's callers. */
  entry(kv: IKeyValue): Entry {
    const { key, value, revision } = this.decode(kv);
    return { key, value, revision };
  }

  // ---- calls ----

  /** Runs one request, notes the revision of its answer, and turns its failure into a BerthError. */
  async call<T extends { header?: IResponseHeader }>(operation: string, run: () => Promise<T>): Promise<T> {
    let res: T;
    try {
      res = await run();
    } catch (err) {
      throw this.error(err, operation);
    }
    this.observe(res.header);
    return res;
  }

  observe(header: IResponseHeader | undefined): void {
    if (!header) return;
    const revision = Number(header.revision);
    if (Number.isSafeInteger(revision) && revision > this.seen) this.seen = revision;
  }

  /** One cheap request (counts the store's keys): does etcd answer? */
  async ping(): Promise<void> {
    await this.call('etcdctl endpoint health', () => this.client.kv.range({ ...this.range(''), count_only: true }));
  }

  /** Reads one key. */
  async get(key: string): Promise<RawEntry | undefined> {
    const k = this.etcdKey(key);
    const res = await this.call(`etcdctl get ${k.toString('utf8')}`, () => this.client.kv.range({ key: k }));
    const kv = res.kvs[0];
    return kv ? this.decode(kv) : undefined;
  }

  /**
   * Reads every key under `prefix`, now or at `atRevision`. Undefined when `atRevision` is
   * already compacted away.
   */
  async snapshot(prefix: string, atRevision?: number): Promise<Snapshot | undefined> {
    const range = this.range(prefix);
    const what = `etcdctl get --prefix ${range.key.toString('utf8')}${atRevision === undefined ? '' : ` --rev=${atRevision}`}`;
    let res: IRangeResponse;
    try {
      res = await this.call(what, () => this.client.kv.range({ ...range, ...(atRevision === undefined ? {} : { revision: atRevision }) }));
    } catch (err) {
      if (atRevision !== undefined && this.isCompacted(err)) return undefined;
      throw err;
    }
    const entries = res.kvs.map((kv) => this.entry(kv)).sort(byKey);
    return { prefix, revision: atRevision ?? revisionOf(res.header.revision), entries };
  }

  /**
   * Writes `value` (attached to `lease` when given), only if the key is at `expectRevision`
   * (0: absent) when that is given. Answers the new revision, or what is there instead.
   */
  async put(key: string, value: JsonValue, expectRevision: number | undefined, lease?: string): Promise<{ ok: true; revision: number } | { ok: false; current: RawEntry | undefined }> {
    const k = this.etcdKey(key);
    const put = { key: k, value: this.encode(value), ...(lease === undefined ? {} : { lease }) };
    const what = `etcdctl put ${k.toString('utf8')}${lease === undefined ? '' : ` --lease=${lease}`}`;
    if (expectRevision === undefined) {
      const res = await this.call(what, () => this.client.kv.put(put));
      return { ok: true, revision: revisionOf(res.header.revision) };
    }
    const res = await this.txn(what, k, expectRevision, [{ request_put: put }]);
    if (res.succeeded) return { ok: true, revision: revisionOf(res.header.revision) };
    return { ok: false, current: this.currentOf(res) };
  }

  /** Deletes the key, only if it is at `expectRevision` when that is given. */
  async delete(key: string, expectRevision: number | undefined): Promise<{ ok: true; existed: boolean } | { ok: false; current: RawEntry | undefined }> {
    const k = this.etcdKey(key);
    const what = `etcdctl del ${k.toString('utf8')}`;
    if (expectRevision === undefined) {
      const res = await this.call(what, () => this.client.kv.deleteRange({ key: k }));
      return { ok: true, existed: res.deleted !== '0' };
    }
    // Expecting absence: nothing to delete, only the compare.
    const res = await this.txn(what, k, expectRevision, expectRevision === 0 ? [] : [{ request_delete_range: { key: k } }]);
    if (res.succeeded) return { ok: true, existed: expectRevision !== 0 };
    return { ok: false, current: this.currentOf(res) };
  }

  /** `if key is at expectRevision then ops else get key`. */
  private txn(what: string, k: Buffer, expectRevision: number, success: IRequestOp[]): Promise<ITxnResponse> {
    const compare =
      expectRevision === 0
        ? { key: k, target: 'Create' as const, result: 'Equal' as const, create_revision: 0 }
        : { key: k, target: 'Mod' as const, result: 'Equal' as const, mod_revision: expectRevision };
    return this.call(`${what} if the revision is ${expectRevision}`, () => this.client.kv.txn({ compare: [compare], success, failure: [{ request_range: { key: k } }] }));
  }

  private currentOf(res: ITxnResponse): RawEntry | undefined {
    const kv = res.responses[0]?.response_range?.kvs[0];
    return kv ? this.decode(kv) : undefined;
  }

  // ---- errors ----

  /** The BerthError for a failed call: TryAgainError when etcd cannot be reached or is overloaded. */
  error(raw: unknown, operation: string): BerthError {
    if (raw instanceof BerthError) return raw;
    const lib = this.lib;
    // Errors of streams arrive as gRPC's plain errors (a status code, no class): type them.
    const err = raw instanceof Error ? lib.castGrpcError(raw) : raw;
    const message = (err instanceof Error ? err.message : String(err)).replace(/\s*Resolution note:\s*$/, '');
    const at = this.endpoints.join(', ');
    if (err instanceof lib.ClientClosedError || this.closed) {
      return new IoError(`The etcd store (${at}) is closed: ${operation} was not sent`, { operation }, { cause: err });
    }
    if (err instanceof Error && lib.isRecoverableError(err)) {
      return new TryAgainError(
        `etcd at ${at} did not answer (${operation}): ${message}`,
        { operation, details: 'Check that etcd is running and reachable from this node; the request can be repeated once it is.' },
        { cause: err },
      );
    }
    return new IoError(`etcd at ${at} refused ${operation}: ${message}`, { operation }, { cause: err });
  }

  /** The requested revision has been compacted away (a read or a watch too far in the past). */
  isCompacted(err: unknown): boolean {
    const cause = err instanceof BerthError ? err.cause : err;
    return cause instanceof Error && /required revision has been compacted/.test(cause.message);
  }

  /** A write named a lease that etcd no longer has (expired or revoked). */
  isLeaseGone(err: unknown): boolean {
    const cause = err instanceof BerthError ? err.cause : err;
    return cause instanceof this.lib.EtcdLeaseInvalidError || (cause instanceof Error && /requested lease not found/.test(cause.message));
  }
}

/** etcd's int64 revisions arrive as decimal strings. */
export function revisionOf(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new IoError(`etcd answered a revision berth cannot represent: ${text}`);
  return n;
}

export function byKey(a: { readonly key: string }, b: { readonly key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
