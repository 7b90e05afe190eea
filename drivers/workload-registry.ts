/**
 * The drivers' side of policy enforcement (core/workload.ts): a pod attached with a
 * Kubernetes identity is recorded for the policy engine and, while berth's policy table is in
 * the kernel, its addresses are put in the guard sets, closed until the engine has programmed
 * the pod. Both steps happen under the engine's sync lock, so the engine never opens an
 * address whose pod it has not read.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { asBerthError } from '../core/errors.js';
import { POLICY_ACTIVE_MARKER, POLICY_RUN_SUBDIR, POLICY_SYNC_LOCK, WORKLOAD_PREFIX, guardSetCommands, workloadKey, type WorkloadRecord } from '../core/workload.js';
import type { Nftables } from '../dataplane/linux/ports.js';
import { FileStore } from '../store/file/file-store.js';
import type { EndpointRef } from './driver.js';

export interface WorkloadRegistry {
  /** Records the workload and closes its addresses while policies are enforced. */
  admit(record: WorkloadRecord): void;
  /** Forgets the attachment and removes its addresses from the guard sets. Idempotent. */
  release(ref: Pick<EndpointRef, 'containerId' | 'ifname'>): void;
  /** Forgets the attachments of `network` that are not in `valid` (CNI GC). */
  gc(network: string, valid: readonly Pick<EndpointRef, 'containerId' | 'ifname'>[]): void;
}

/** The records' store and lock under `runDir` (core/workload.ts's layout). */
function workloadStore(runDir: string): FileStore {
  // tmpfs: a record is worth exactly as much as the pod, so no fsync.
  return new FileStore({ dataDir: join(runDir, POLICY_RUN_SUBDIR), fsync: false });
}

export function fileWorkloadRegistry(opts: { readonly runDir: string; readonly nftables: () => Nftables }): WorkloadRegistry {
  const dir = join(opts.runDir, POLICY_RUN_SUBDIR);
  const store = workloadStore(opts.runDir);
  const enforcing = () => existsSync(join(dir, POLICY_ACTIVE_MARKER));

  /** Adds (`close`) or removes the addresses from the guard sets, in one transaction. */
  const guard = (ips: readonly string[], close: boolean): void => {
    const commands = guardSetCommands(ips, close);
    if (!commands.length) return;
    try {
      opts.nftables().run(commands);
    } catch (err) {
      // The table went away behind the marker's back (deleted by hand): nothing to guard.
      if (!/No such file or directory/.test(asBerthError(err).message)) throw err;
    }
  };

  const forget = (key: string): void => {
    const entry = store.getSync(key);
    if (!entry) return;
    if (enforcing()) guard((entry.value as unknown as WorkloadRecord).ips ?? [], false);
    store.deleteSync(key);
  };

  return {
    admit(record) {
      store.withLockSync(POLICY_SYNC_LOCK, () => {
        store.putSync(workloadKey(record.containerId, record.ifname), record as unknown as Parameters<FileStore['putSync']>[1]);
        if (enforcing()) guard(record.ips, true);
      });
    },
    release(ref) {
      const key = workloadKey(ref.containerId, ref.ifname);
      // Most DELs are of pods never recorded (no Kubernetes identity): one failed read, no lock.
      if (!store.getSync(key)) return;
      store.withLockSync(POLICY_SYNC_LOCK, () => forget(key));
    },
    gc(network, valid) {
      const keep = new Set(valid.map((v) => workloadKey(v.containerId, v.ifname)));
      store.withLockSync(POLICY_SYNC_LOCK, () => {
        for (const e of store.listSync(WORKLOAD_PREFIX)) {
          if ((e.value as unknown as WorkloadRecord).network === network && !keep.has(e.key)) forget(e.key);
        }
      });
    },
  };
}
