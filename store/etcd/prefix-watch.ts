/**
 * One watch of a prefix on etcd, on its own gRPC watch stream, that never loses the final
 * state of a key.
 *
 * It keeps the mod revision of every key under the prefix that it knows of (`known`) and the
 * first revision it has not seen (`next`):
 * - when the stream breaks (etcd restarted, the connection dropped), it opens a new one that
 *   starts at `next`, so etcd replays what happened meanwhile, event by event;
 * - when etcd can no longer replay from `next` (the history was compacted: the watch is
 *   cancelled with a compact revision), it reads the prefix again and reports the difference:
 *   a `put` for every key that is new or has another revision, a `delete` for every key it
 *   knew that is gone; then it watches from the revision of that read.
 *
 * `next` only moves past revisions whose events were delivered: the revision in the header of
 * a watch response can be ahead of events still to come (etcd sends catch-up events in
 * batches), and progress notifications are not trusted (etcd before 3.4.24 could send one
 * ahead of pending events), so neither is used.
 */
import type { IDuplexStream, IWatchRequest, IWatchResponse } from 'etcd3';
import { TryAgainError, type BerthError } from '../../core/errors.js';
import type { WatchEvent } from '../store.js';
import { byKey, revisionOf, type EtcdConnection, type Snapshot } from './connection.js';

export interface RetryDelay {
  /** First pause after a failure. */
  readonly minMs: number;
  /** Longest pause (the pause doubles on every failure in a row). */
  readonly maxMs: number;
}

export interface PrefixWatchOptions {
  readonly prefix: string;
  readonly onEvent: (event: WatchEvent) => void;
  /** Failures that the watch recovers from by itself (reported, then retried). */
  readonly onError: (err: BerthError) => void;
  readonly retry: RetryDelay;
}

/** Where a watch starts. */
export type WatchStart =
  /** The state at this revision is read from etcd, and changes after it are reported. */
  | { readonly revision: number }
  /** The caller holds this state; changes after its revision are reported. */
  | { readonly snapshot: Snapshot };

type Stream = IDuplexStream<IWatchRequest, IWatchResponse>;

export class PrefixWatch {
  private readonly conn: EtcdConnection;
  private readonly options: PrefixWatchOptions;
  /** Mod revision of every key under the prefix this watch knows to exist. */
  private known = new Map<string, number>();
  /** First revision whose events have not been delivered. */
  private next = 0;
  private stream: Stream | undefined;
  /** Bumped whenever a stream is abandoned, so its late events and errors are ignored. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private delay: number;
  private stopped = false;
  /** Times the watch had to read the prefix again because etcd could not replay (tests, logs). */
  resyncs = 0;

  constructor(conn: EtcdConnection, options: PrefixWatchOptions) {
    this.conn = conn;
    this.options = options;
    this.delay = options.retry.minMs;
  }

  start(from: WatchStart): void {
    if ('snapshot' in from) {
      const entries = from.snapshot.entries.filter((e) => e.key.startsWith(this.options.prefix));
      this.known = new Map(entries.map((e) => [e.key, e.revision]));
      this.next = from.snapshot.revision + 1;
      this.open();
    } else {
      void this.baseline(from.revision);
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abandonStream();
  }

  /** Reads the state at `revision` as the starting point, then watches from there. */
  private async baseline(revision: number): Promise<void> {
    let snapshot: Snapshot | undefined;
    try {
      snapshot = await this.conn.snapshot(this.options.prefix, revision);
    } catch (err) {
      return this.failed(err, 'read the watched prefix', () => void this.baseline(revision));
    }
    if (this.stopped) return;
    // Compacted already: the state at `revision` is gone. Everything there is now is reported
    // (as puts; what was deleted since cannot be known), then the changes after it.
    if (!snapshot) return this.resync();
    this.known = new Map(snapshot.entries.map((e) => [e.key, e.revision]));
    this.next = snapshot.revision + 1;
    this.open();
  }

  /** Reads the prefix again, reports the difference from what was known, watches on from there. */
  private async resync(): Promise<void> {
    let snapshot: Snapshot | undefined;
    try {
      snapshot = await this.conn.snapshot(this.options.prefix);
    } catch (err) {
      return this.failed(err, 'read the watched prefix again', () => void this.resync());
    }
    if (this.stopped || !snapshot) return;
    this.resyncs++;
    const events: WatchEvent[] = [];
    const now = new Map<string, number>();
    for (const e of snapshot.entries) {
      now.set(e.key, e.revision);
      if (this.known.get(e.key) !== e.revision) events.push({ type: 'put', key: e.key, value: e.value, revision: e.revision });
    }
    for (const key of this.known.keys()) if (!now.has(key)) events.push({ type: 'delete', key });
    events.sort(byKey);
    this.known = now;
    this.next = snapshot.revision + 1;
    for (const event of events) {
      if (this.stopped) return;
      this.emit(event);
    }
    this.open();
  }

  /** Opens a watch stream from `next`. */
  private open(): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    const range = this.conn.range(this.options.prefix);
    this.conn.client.watchClient.watch().then(
      (stream) => {
        if (this.stopped || generation !== this.generation) {
          stream.on('error', () => {});
          stream.cancel();
          return;
        }
        this.stream = stream;
        stream.on('data', (res) => {
          if (generation === this.generation) this.onResponse(res);
        });
        stream.on('error', (err) => {
          if (generation === this.generation) this.broken(err);
        });
        stream.on('end', () => {
          if (generation === this.generation) this.broken(new TryAgainError('etcd ended the watch stream'));
        });
        stream.write({ create_request: { ...range, start_revision: this.next } });
      },
      (err: unknown) => {
        if (generation === this.generation) this.broken(err);
      },
    );
  }

  private onResponse(res: IWatchResponse): void {
    this.conn.observe(res.header);
    if (res.canceled) {
      this.abandonStream();
      if (res.compact_revision !== '0' || /compacted/.test(res.cancel_reason)) {
        // etcd cannot replay from `next`: read the state instead.
        this.delay = this.options.retry.minMs;
        void this.resync();
        return;
      }
      this.failed(new Error(`etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`), 'watch', () => void this.resync());
      return;
    }
    if (res.created) {
      this.delay = this.options.retry.minMs; // connected again
      return;
    }
    for (const ev of res.events) {
      if (this.stopped) return;
      const revision = revisionOf(ev.kv.mod_revision);
      const key = this.conn.storeKey(ev.kv.key);
      // The client's typings say 'Delete'; on the wire (proto enum names) it is 'DELETE'.
      if (String(ev.type).toUpperCase() === 'DELETE') {
        this.known.delete(key);
        this.next = revision + 1;
        this.emit({ type: 'delete', key });
        continue;
      }
      this.known.set(key, revision);
      this.next = revision + 1;
      let value;
      try {
        value = this.conn.decode(ev.kv).value;
      } catch (err) {
        this.options.onError(this.conn.error(err, 'watch'));
        continue;
      }
      this.emit({ type: 'put', key, value, revision });
    }
  }

  /** The stream failed: report it, and reopen it from `next` after a pause. */
  private broken(err: unknown): void {
    this.abandonStream();
    this.failed(err, 'watch', () => this.open());
  }

  private failed(err: unknown, what: string, retry: () => void): void {
    if (this.stopped) return;
    this.options.onError(this.conn.error(err, `${what} ${this.conn.range(this.options.prefix).key.toString('utf8')}`));
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.options.retry.maxMs);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) retry();
    }, delay);
    this.timer.unref();
  }

  private abandonStream(): void {
    this.generation++;
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      stream.on('error', () => {}); // the cancel itself arrives as an error
      stream.cancel();
    }
  }

  /** A callback that throws does not break the watch; its error surfaces as uncaught. */
  private emit(event: WatchEvent): void {
    try {
      this.options.onEvent(event);
    } catch (err) {
      setImmediate(() => {
        throw err;
      });
    }
  }
}
