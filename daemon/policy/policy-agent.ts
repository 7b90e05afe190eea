/**
 * berthd's policy agent: keeps the kernel's policy table (policy/'s PolicyEnforcer) in step
 * with the policy objects and with the pods berth's CNI plugins record.
 *
 * Objects come from the store (`berth policy apply` through the API, or written by a direct
 * CLI) or, with a kubeconfig, from the Kubernetes API (kube-source.ts); pods recorded by the
 * plugins come from the run directory's workload records. Any change schedules one sync;
 * changes that arrive while a sync runs are folded into the next one. A failed sync is retried
 * with backoff, and the retry replaces the whole table.
 */
import { InvalidConfigError, asBerthError } from '../../core/errors.js';
import type { WorkloadRecord } from '../../core/workload.js';
import type { Nftables } from '../../dataplane/linux/ports.js';
import {
  POLICY_STORE_PREFIX,
  PolicyEnforcer,
  storePolicyManifests,
  deletePolicyObject,
  parsePolicyObject,
  parsePolicyObjects,
  policyStoreKey,
  type PolicyObjectRef,
  type PolicyObject,
  type SyncReport,
} from '../../policy/index.js';
import type { Store, Unsubscribe } from '../../store/store.js';
import { errorFields, type Log } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PolicyKind, PolicyObjectSink, PolicySource } from './policy-source.js';

export interface PolicyAgentOptions {
  /** Where applied objects are kept (store mode). */
  readonly store: Store;
  readonly runDir: string;
  readonly nftables: () => Nftables;
  readonly log: Log;
  readonly metrics?: Metrics;
  /** Kubernetes mode: the objects come from this source instead of the store. */
  readonly source?: (sink: PolicyObjectSink) => PolicySource | Promise<PolicySource>;
}

export type PolicyRef = PolicyObjectRef;

const RETRY_MS = [200, 1000, 5000, 30000];

export class PolicyAgent {
  readonly #opts: PolicyAgentOptions;
  readonly #enforcer: PolicyEnforcer;
  readonly #kube = new Map<PolicyKind, Map<string, unknown>>();
  /**
   * Store mode: every stored object, parsed once and kept until its key changes, so that a
   * sync reads no files and hands the enforcer the same objects for what did not change.
   */
  readonly #stored = new Map<string, { readonly revision: number; readonly object: PolicyObject | undefined }>();
  #source: PolicySource | undefined;
  #unwatch: Unsubscribe[] = [];
  #running: Promise<SyncReport | undefined> = Promise.resolve(undefined);
  #queued: Promise<SyncReport | undefined> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;
  #stopped = false;
  /** Kubernetes mode: false until every kind has been listed once (a partial view would open pods). */
  #listed = false;
  #last: SyncReport | undefined;
  readonly #badKeys = new Set<string>();

  constructor(opts: PolicyAgentOptions) {
    this.#opts = opts;
    // From the API, a recorded pod whose Pod object has not arrived yet has no labels: keep it closed.
    // berthd syncs again and again: the standby copy is paid for at the start, not at the first change.
    this.#enforcer = new PolicyEnforcer({ runDir: opts.runDir, nftables: opts.nftables, openKnownPodsOnly: !!opts.source, warmStandby: true });
    opts.metrics?.gauge('berth_policy_objects', 'Policy objects the agent enforces, by kind.', async () => {
      const counts = { Namespace: 0, Pod: 0, NetworkPolicy: 0 };
      for (const o of await this.#objects()) counts[o.kind]++;
      return Object.entries(counts).map(([kind, value]) => ({ labels: { kind }, value }));
    });
    opts.metrics?.gauge('berth_policy_last_sync_milliseconds', 'Duration of the last policy sync.', async () => [{ labels: {}, value: this.#last?.ms ?? 0 }]);
  }

  /** `store` or `kubernetes`: where the objects come from. */
  get mode(): 'store' | 'kubernetes' {
    return this.#opts.source ? 'kubernetes' : 'store';
  }

  /** Loads the objects, programs them once, then follows changes. */
  async start(): Promise<SyncReport | undefined> {
    if (this.#opts.source) {
      this.#source = await this.#opts.source(this.#sink());
      await this.#source.start();
      this.#listed = true;
    } else {
      this.#unwatch.push(
        this.#opts.store.watch(POLICY_STORE_PREFIX, (e) => {
          // The watch also reports apply's own writes, which apply has synced already.
          const changed = e.type === 'put' ? this.#remember(e.key, e.value, e.revision) : this.#stored.delete(e.key);
          if (changed) void this.schedule().catch(() => undefined);
        }),
      );
      for (const e of await this.#opts.store.list(POLICY_STORE_PREFIX)) this.#remember(e.key, e.value, e.revision);
    }
    this.#unwatch.push(this.#enforcer.watchWorkloads(() => void this.schedule()));
    return this.schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const u of this.#unwatch) u();
    this.#unwatch = [];
    if (this.#retry) clearTimeout(this.#retry);
    await this.#source?.stop();
    await this.#running.catch(() => undefined);
  }

  /**
   * Runs a sync after the one in progress; callers arriving while one is queued share it.
   * Resolves with its report (undefined once stopped); rejects when it failed.
   */
  schedule(): Promise<SyncReport | undefined> {
    if (this.#queued) return this.#queued;
    const next = this.#running
      .catch(() => undefined)
      .then(async () => {
        this.#queued = undefined;
        if (this.#stopped) return undefined;
        if (this.#opts.source && !this.#listed) return undefined;
        return this.#syncOnce();
      });
    this.#queued = next;
    this.#running = next;
    return next;
  }

  async #syncOnce(): Promise<SyncReport> {
    try {
      const report = this.#enforcer.sync(await this.#objects());
      this.#last = report;
      if (this.#failures) this.#opts.log.info('policy: sync succeeded again', { failures: this.#failures });
      this.#failures = 0;
      if (report.mode !== 'none') this.#opts.log.info('policy: synced', { ...report, ms: Math.round(report.ms * 10) / 10 });
      return report;
    } catch (err) {
      const delay = RETRY_MS[Math.min(this.#failures, RETRY_MS.length - 1)]!;
      if (this.#failures === 0) this.#opts.log.error('policy: sync failed; retrying', { ...errorFields(asBerthError(err)), retryMs: delay });
      this.#failures++;
      if (!this.#stopped && !this.#retry) {
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          void this.schedule().catch(() => undefined);
        }, delay);
        this.#retry.unref();
      }
      throw err;
    }
  }

  /** Stores and programs manifests (all or nothing on validation); store mode only. */
  async apply(manifests: readonly unknown[], sources?: readonly string[]): Promise<{ objects: PolicyObject[]; sync: SyncReport | undefined }> {
    this.#storeModeOnly('apply');
    const stored = await storePolicyManifests(this.#opts.store, manifests, sources ? { sources } : {});
    // Known now, not when the store's watch reports the writes (it then finds them known).
    for (const s of stored) this.#stored.set(s.key, { revision: s.revision, object: s.object });
    return { objects: stored.map((s) => s.object), sync: await this.schedule() };
  }

  async delete(refs: readonly PolicyRef[], mustExist: boolean): Promise<{ deleted: PolicyRef[]; missing: PolicyRef[]; sync: SyncReport | undefined }> {
    this.#storeModeOnly('delete');
    const deleted: PolicyRef[] = [];
    const missing: PolicyRef[] = [];
    for (const r of refs) {
      const existed = await deletePolicyObject(this.#opts.store, r.kind, r.namespace, r.name);
      this.#stored.delete(policyStoreKey(r.kind, r.namespace, r.name));
      (existed ? deleted : missing).push(r);
    }
    if (mustExist && missing.length && !deleted.length) return { deleted, missing, sync: undefined };
    return { deleted, missing, sync: await this.schedule() };
  }

  /** The objects enforced now (manifests) and the recorded workloads. */
  async list(): Promise<{ manifests: unknown[]; workloads: WorkloadRecord[] }> {
    const manifests = this.#opts.source ? [...this.#kube.values()].flatMap((m) => [...m.values()]) : (await this.#opts.store.list(POLICY_STORE_PREFIX)).map((e) => e.value);
    return { manifests, workloads: this.#enforcer.workloads() };
  }

  #storeModeOnly(what: string): void {
    if (this.#opts.source) {
      throw new InvalidConfigError(`berthd takes its policies from the Kubernetes API (--kubeconfig): ${what} them with kubectl`, { field: 'kubeconfig' });
    }
  }

  /**
   * Parses a stored manifest once per revision; an invalid one is logged and left out.
   * Returns false when the revision was known already.
   */
  #remember(key: string, value: unknown, revision: number): boolean {
    if (this.#stored.get(key)?.revision === revision) return false;
    let object: PolicyObject | undefined;
    try {
      [object] = parsePolicyObjects([value], { sources: [key] });
    } catch (err) {
      this.#opts.log.warn('policy: stored object skipped', { key, ...errorFields(asBerthError(err)) });
    }
    this.#stored.set(key, { revision, object });
    return true;
  }

  async #objects(): Promise<PolicyObject[]> {
    if (!this.#opts.source) return [...this.#stored.values()].flatMap((e) => (e.object ? [e.object] : []));
    const out: PolicyObject[] = [];
    for (const [kind, byKey] of this.#kube) {
      for (const [key, manifest] of byKey) {
        try {
          out.push(parsePolicyObject(manifest));
          this.#badKeys.delete(key);
        } catch (err) {
          // The API server validated it; berth may not read every field. Say so once.
          if (!this.#badKeys.has(key)) this.#opts.log.warn('policy: object skipped', { kind, key, ...errorFields(asBerthError(err)) });
          this.#badKeys.add(key);
        }
      }
    }
    return out;
  }

  #sink(): PolicyObjectSink {
    const of = (kind: PolicyKind) => {
      let m = this.#kube.get(kind);
      if (!m) this.#kube.set(kind, (m = new Map()));
      return m;
    };
    const keyOf = (manifest: unknown): string => {
      const meta = (manifest as { metadata?: { namespace?: string; name?: string } }).metadata ?? {};
      return `${meta.namespace ?? ''}/${meta.name ?? ''}`;
    };
    return {
      replaceAll: (kind, manifests) => {
        this.#kube.set(kind, new Map(manifests.map((m) => [keyOf(m), m])));
        void this.schedule().catch(() => undefined);
      },
      upsert: (kind, manifest) => {
        of(kind).set(keyOf(manifest), manifest);
        void this.schedule().catch(() => undefined);
      },
      remove: (kind, namespace, name) => {
        of(kind).delete(`${namespace}/${name}`);
        void this.schedule().catch(() => undefined);
      },
    };
  }
}
