/**
 * `Store.update` on etcd: optimistic concurrency. Read the key, run the callback, write its
 * decision only if the key is still at the revision that was read; when another writer got
 * there first, the failed compare brings the current value back and the callback runs again
 * on it. The callback is pure by contract, so running it several times is harmless.
 */
import { TryAgainError } from '../../core/errors.js';
import type { Entry, JsonValue, Updater } from '../store.js';
import type { EtcdConnection, RawEntry } from './connection.js';

/** Attempts before giving up under contention (each one lost to a writer that succeeded). */
export const MAX_UPDATE_ATTEMPTS = 100;

export interface UpdateWrite {
  /** Lease to attach the written value to. */
  readonly lease?: string;
  /** Called after the decision was written (`undefined`: the key was deleted). */
  readonly written?: (value: JsonValue | undefined) => void;
}

export async function runUpdate<R>(conn: EtcdConnection, key: string, fn: Updater<R>, how: UpdateWrite = {}): Promise<R> {
  let current = strip(await conn.get(key));
  for (let attempt = 1; ; attempt++) {
    const decision = fn(current?.value);
    if (decision.value === current?.value) return decision.result;
    const expect = current?.revision ?? 0;
    const outcome = decision.value === undefined ? await conn.delete(key, expect) : await conn.put(key, decision.value, expect, how.lease);
    if (outcome.ok) {
      how.written?.(decision.value);
      return decision.result;
    }
    current = strip(outcome.current);
    if (attempt >= MAX_UPDATE_ATTEMPTS) {
      throw new TryAgainError(`Gave up updating key ${JSON.stringify(key)}: other writers changed it ${attempt} times in a row`, { operation: `etcdctl txn (update ${conn.prefix}${key})` });
    }
    // A little jitter once a key is contended, so that the writers do not collide in lockstep.
    if (attempt >= 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** attempt)));
  }
}

/** The entry without what only etcd knows (its lease). */
export function strip(raw: RawEntry | undefined): Entry | undefined {
  return raw ? { key: raw.key, value: raw.value, revision: raw.revision } : undefined;
}
