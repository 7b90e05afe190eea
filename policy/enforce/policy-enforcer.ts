/**
 * Keeps the kernel's policy table equal to a set of policy objects plus the workloads berth's
 * CNI plugins recorded (core/workload.ts), and opens guarded pods once they are programmed.
 *
 * One `sync()` = one read of the records and one libnftables transaction, under the sync lock
 * that the drivers also take to record and guard a pod: a pod is either in the records the
 * sync read (then it is programmed and opened in that transaction) or it was guarded after
 * the transaction (and stays closed until the next sync). With no NetworkPolicy at all the
 * table is removed, and with it the per-pod guard work in every ADD.
 *
 * Long-lived (berthd): the compiler and the applied state carry over, so a sync sends only
 * what changed. Short-lived (the CLI): the first sync replaces the whole table.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { POLICY_ACTIVE_MARKER, POLICY_RUN_SUBDIR, POLICY_SYNC_LOCK, POLICY_TABLE, WORKLOAD_PREFIX, guardSetCommands, type WorkloadRecord } from '../../core/workload.js';
import type { Nftables } from '../../dataplane/linux/ports.js';
import { FileStore } from '../../store/file/file-store.js';
import type { Unsubscribe } from '../../store/store.js';
import { PolicyCompiler } from '../compile/policy-compiler.js';
import type { PolicyIR } from '../compile/ir.js';
import { policyObjectRef, type PolicyObject } from '../model/policy-object.js';
import { NftPolicyDataplane, type PolicyDataplaneOptions } from '../nft/nft-policy-dataplane.js';
import { withWorkloads } from './workload-pods.js';

export interface EnforcerOptions extends PolicyDataplaneOptions {
  /** berth's run directory (/run/berth): the records, the sync lock, the marker. */
  readonly runDir: string;
  readonly nftables: () => Nftables;
  /**
   * Open a recorded pod only once a Pod object names it (Kubernetes mode: the API tells the
   * pod's labels, and a pod whose object has not arrived yet — a lagging watch, an API outage —
   * would be programmed without them). Such a pod stays closed until its object arrives.
   */
  readonly openKnownPodsOnly?: boolean;
}

export interface SyncReport {
  /** `cleared`: no NetworkPolicy, the table is gone; else how the table was changed. */
  readonly mode: 'replace' | 'diff' | 'none' | 'cleared';
  readonly commands: number;
  readonly policies: number;
  readonly pods: number;
  /** Guarded pods opened by this sync. */
  readonly opened: number;
  readonly ms: number;
}

export class PolicyEnforcer {
  readonly #opts: EnforcerOptions;
  readonly #records: FileStore;
  readonly #dir: string;
  #compiler = new PolicyCompiler();
  #dataplane: NftPolicyDataplane | undefined;
  #nft: Nftables | undefined;
  /** What the compiler holds: object key → its JSON, to feed only what changed. */
  #fed = new Map<string, { json: string; object: PolicyObject }>();
  /**
   * Each object's key, made once: callers hand the same objects to every sync, and a key string
   * made once keeps its hash, so the maps below cost a lookup, not a rehash, per object.
   */
  readonly #keys = new WeakMap<PolicyObject, string>();
  /** Records whose addresses are known to be open (key + addresses). */
  #opened = new Set<string>();
  #ir: PolicyIR | undefined;

  constructor(opts: EnforcerOptions) {
    this.#opts = opts;
    this.#dir = join(opts.runDir, POLICY_RUN_SUBDIR);
    this.#records = new FileStore({ dataDir: this.#dir, fsync: false });
  }

  /** The IR of the last sync (undefined before the first, or after a clear). */
  get ir(): PolicyIR | undefined {
    return this.#ir;
  }

  /** Calls `cb` whenever a plugin records or forgets a workload. */
  watchWorkloads(cb: () => void): Unsubscribe {
    return this.#records.watch(WORKLOAD_PREFIX, cb);
  }

  /** The workloads berth's plugins recorded (no lock: a snapshot for display). */
  workloads(): WorkloadRecord[] {
    return this.#records.listSync(WORKLOAD_PREFIX).map((e) => e.value as unknown as WorkloadRecord);
  }

  /**
   * Programs `objects` (Namespaces, Pods, NetworkPolicies) with the recorded workloads.
   * Throws KernelError when libnftables refuses the transaction; the kernel then holds what it
   * held before, and the next sync replaces the whole table.
   */
  sync(objects: readonly PolicyObject[]): SyncReport {
    const t0 = performance.now();
    return this.#records.withLockSync(POLICY_SYNC_LOCK, () => {
      const workloads = this.workloads();
      const all = withWorkloads(objects, workloads);
      const policies = all.filter((o) => o.kind === 'NetworkPolicy').length;
      const pods = all.filter((o) => o.kind === 'Pod').length;
      if (policies === 0) {
        this.#clearLocked();
        return { mode: 'cleared', commands: 0, policies, pods, opened: 0, ms: performance.now() - t0 };
      }
      this.#feed(all);
      const ir = this.#compiler.compile();
      const known = this.#opts.openKnownPodsOnly ? new Set(objects.flatMap((o) => (o.kind === 'Pod' ? [`${o.pod.namespace}/${o.pod.name}`] : []))) : undefined;
      const ready = known ? workloads.filter((w) => known.has(`${w.namespace}/${w.name}`)) : workloads;
      const opening = ready.filter((w) => !this.#opened.has(openKey(w)));
      const dataplane = (this.#dataplane ??= new NftPolicyDataplane(this.#nftables(), this.#opts));
      // A first apply may find no table (cleared, or never made): pods still waiting to be opened are closed in it.
      const waiting = known && !dataplane.applied ? workloads.filter((w) => !known.has(`${w.namespace}/${w.name}`)) : [];
      const report = dataplane.apply(ir, {
        with: guardSetCommands(
          waiting.flatMap((w) => w.ips),
          true,
        ),
        after: guardSetCommands(
          opening.flatMap((w) => w.ips),
          false,
        ),
      });
      this.#ir = ir;
      this.#opened = new Set(ready.map(openKey));
      if (!existsSync(join(this.#dir, POLICY_ACTIVE_MARKER))) {
        mkdirSync(this.#dir, { recursive: true });
        writeFileSync(join(this.#dir, POLICY_ACTIVE_MARKER), `${POLICY_TABLE}\n`);
      }
      return { mode: report.mode, commands: report.commands, policies, pods, opened: opening.length, ms: performance.now() - t0 };
    });
  }

  /** Removes the table (no filtering, no guards) and forgets what was fed. Idempotent. */
  clear(): void {
    this.#records.withLockSync(POLICY_SYNC_LOCK, () => this.#clearLocked());
  }

  #clearLocked(): void {
    // The marker goes first: from here on no ADD guards, and the table's removal opens the rest.
    rmSync(join(this.#dir, POLICY_ACTIVE_MARKER), { force: true });
    (this.#dataplane ?? new NftPolicyDataplane(this.#nftables(), this.#opts)).clear();
    this.#dataplane = undefined;
    this.#compiler = new PolicyCompiler();
    this.#fed.clear();
    this.#opened.clear();
    this.#ir = undefined;
  }

  #nftables(): Nftables {
    return (this.#nft ??= this.#opts.nftables());
  }

  /** Hands the compiler the objects that changed since the last sync. */
  #feed(all: readonly PolicyObject[]): void {
    const next = new Map<string, { json: string; object: PolicyObject }>();
    for (const object of all) {
      let key = this.#keys.get(object);
      if (key === undefined) this.#keys.set(object, (key = keyOf(object)));
      const was = this.#fed.get(key);
      // The same object as last time (callers keep unchanged ones): no need to serialize it.
      next.set(key, was?.object === object ? was : { json: JSON.stringify(object), object });
    }
    for (const [key, was] of this.#fed) {
      if (next.has(key)) continue;
      this.#compiler.deleteObject(policyObjectRef(was.object));
    }
    for (const [key, now] of next) {
      const was = this.#fed.get(key);
      if (was === now || was?.json === now.json) continue;
      this.#compiler.setObject(now.object);
    }
    this.#fed = next;
  }
}

function keyOf(o: PolicyObject): string {
  const r = policyObjectRef(o);
  return `${r.kind}/${r.namespace}/${r.name}`;
}

function openKey(w: WorkloadRecord): string {
  return `${w.containerId}/${w.ifname}=${w.ips.join(',')}`;
}
