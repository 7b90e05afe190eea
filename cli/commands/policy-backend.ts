/**
 * Where `berth policy` applies and reads: through berthd when it runs (its policy agent stores
 * and programs), or directly (the embedded store under --data-dir, programmed by this
 * process). `--data-dir` always means direct: it names a store, not a daemon.
 *
 * Direct mode programs first and stores second, so an apply that the kernel refuses (or that
 * runs without CAP_NET_ADMIN) applies nothing.
 */
import { existsSync } from 'node:fs';
import { InvalidObjectError } from '../../core/errors.js';
import type { WorkloadRecord } from '../../core/workload.js';
import { openNftables } from '../../dataplane/linux/index.js';
import { connectApi, type BerthClient } from '../../daemon/grpc/client.js';
import type { PolicySyncMessage } from '../../daemon/grpc/messages.js';
import {
  applyPolicyManifests,
  deletePolicyObject,
  loadPolicyObjects,
  parsePolicyObjects,
  PolicyEnforcer,
  policyObjectRef,
  type PolicyObjectRef,
  withWorkloads,
  type PolicyKind,
  type PolicyObject,
  type SyncReport,
} from '../../policy/index.js';
import { DEFAULT_DATA_DIR, FileStore } from '../../store/file/file-store.js';
import { isPermissionDenied } from '../exit-codes.js';
import { apiSocketPath } from './api-host.js';

export type PolicyRef = PolicyObjectRef;

export interface SyncInfo {
  readonly mode: string;
  readonly policies: number;
  readonly pods: number;
  readonly ms: number;
}

export interface PolicyBackend {
  /** `berthd` or `direct`, for messages. */
  readonly via: 'berthd' | 'direct';
  apply(manifests: readonly unknown[], sources: readonly string[]): Promise<{ objects: PolicyRef[]; sync: SyncInfo | undefined }>;
  delete(refs: readonly PolicyRef[], mustExist: boolean): Promise<{ deleted: PolicyRef[]; missing: PolicyRef[]; sync: SyncInfo | undefined }>;
  /** The applied objects as stored (no workloads). */
  stored(): Promise<PolicyObject[]>;
  /** Every known object: the applied ones with the pods berth's plugins recorded. */
  known(): Promise<PolicyObject[]>;
  /** Programs what is stored now (direct mode; berthd does it by itself). */
  sync(): Promise<SyncInfo | undefined>;
  close(): void;
}

export interface BackendChoice {
  readonly dataDir?: string | undefined;
  readonly runDir?: string | undefined;
  readonly host?: string | undefined;
}

export const DEFAULT_RUN_DIR = '/run/berth';

/** berthd when it listens (and no --data-dir was given), the embedded store otherwise. */
export async function choosePolicyBackend(c: BackendChoice, env: NodeJS.ProcessEnv = process.env): Promise<PolicyBackend> {
  const runDir = c.runDir ?? env.BERTH_RUN_DIR ?? DEFAULT_RUN_DIR;
  if (c.dataDir === undefined) {
    const socket = apiSocketPath(c.host, env);
    if (existsSync(socket)) {
      const client = connectApi(socket, { timeoutMs: 60_000 });
      try {
        await client.listPolicies();
        return daemonBackend(client);
      } catch (err) {
        client.close();
        // An explicit --host that does not answer is an error; a stale default socket is not,
        // but one this user may not open is berthd running: working around it would not do.
        if (c.host !== undefined || env.BERTH_HOST !== undefined || isPermissionDenied(err)) throw err;
      }
    }
  }
  return directBackend(c.dataDir ?? DEFAULT_DATA_DIR, runDir);
}

const sameRef = (a: PolicyRef) => (o: PolicyObject) => {
  const r = policyObjectRef(o);
  return r.kind === a.kind && r.namespace === a.namespace && r.name === a.name;
};

function syncInfo(r: SyncReport | PolicySyncMessage | null | undefined): SyncInfo | undefined {
  if (!r) return undefined;
  return { mode: r.mode, policies: r.policies, pods: r.pods, ms: 'ms' in r ? r.ms : r.milliseconds };
}

export function directBackend(dataDir: string, runDir: string): PolicyBackend {
  const store = new FileStore({ dataDir });
  const enforcer = new PolicyEnforcer({ runDir, nftables: openNftables });
  const enforce = (objects: readonly PolicyObject[]) => enforcer.sync(objects);
  const nothingApplied = (err: unknown): never => {
    if (err instanceof InvalidObjectError) throw new InvalidObjectError(err.message.replace('nothing was read', 'nothing was applied'), err.problems);
    throw err;
  };
  return {
    via: 'direct',
    async apply(manifests, sources) {
      let incoming: PolicyObject[];
      try {
        incoming = parsePolicyObjects(manifests, { sources });
      } catch (err) {
        return nothingApplied(err);
      }
      const current = await loadPolicyObjects(store);
      const next = [...current.filter((o) => !incoming.some(sameRef(policyObjectRef(o)))), ...incoming];
      const sync = enforce(next);
      await applyPolicyManifests(store, manifests, { sources });
      return { objects: incoming.map(policyObjectRef), sync: syncInfo(sync) };
    },
    async delete(refs, mustExist) {
      const current = await loadPolicyObjects(store);
      const deleted = refs.filter((r) => current.some(sameRef(r)));
      const missing = refs.filter((r) => !current.some(sameRef(r)));
      if (mustExist && deleted.length === 0) return { deleted, missing, sync: undefined };
      const sync = enforce(current.filter((o) => !deleted.some((r) => sameRef(r)(o))));
      for (const r of deleted) await deletePolicyObject(store, r.kind, r.namespace, r.name);
      return { deleted, missing, sync: syncInfo(sync) };
    },
    stored: () => loadPolicyObjects(store),
    async known() {
      return withWorkloads(await loadPolicyObjects(store), enforcer.workloads());
    },
    async sync() {
      return syncInfo(enforce(await loadPolicyObjects(store)));
    },
    close() {},
  };
}

function daemonBackend(client: BerthClient): PolicyBackend {
  const list = async () => {
    const r = await client.listPolicies();
    const manifests = r.manifestsJson.map((m) => JSON.parse(m) as unknown);
    return { objects: parsePolicyObjects(manifests), workloads: r.workloadsJson.map((w) => JSON.parse(w) as WorkloadRecord) };
  };
  return {
    via: 'berthd',
    async apply(manifests, sources) {
      const r = await client.applyPolicies({ manifestsJson: manifests.map((m) => JSON.stringify(m)), sources: [...sources] });
      return { objects: r.objects.map((o) => ({ ...o, kind: o.kind as PolicyKind })), sync: syncInfo(r.sync) };
    },
    async delete(refs, mustExist) {
      const r = await client.deletePolicies({ objects: refs.map((x) => ({ ...x })), mustExist });
      const cast = (xs: readonly { kind: string; namespace: string; name: string }[]) => xs.map((o) => ({ ...o, kind: o.kind as PolicyKind }));
      return { deleted: cast(r.deleted), missing: cast(r.missing), sync: syncInfo(r.sync) };
    },
    stored: async () => (await list()).objects,
    async known() {
      const { objects, workloads } = await list();
      return withWorkloads(objects, workloads);
    },
    sync: async () => undefined,
    close: () => client.close(),
  };
}
