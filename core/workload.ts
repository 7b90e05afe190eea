/**
 * Workloads: pods that berth's CNI plugins attached, as the policy engine needs to know them.
 * The drivers record them (and close their addresses while policies are enforced); the policy
 * engine reads the records and opens each address once it has programmed the pod's policy.
 * This file is the contract between the two, so that neither imports the other.
 *
 * Everything lives under the run directory (tmpfs, /run/berth): records, like the pods and the
 * kernel rules they describe, do not survive a reboot.
 */
import { IpAddress } from './ip.js';

/** What the policy engine learns about one attachment. */
export interface WorkloadRecord {
  /** Kubernetes namespace and pod name (CNI_ARGS K8S_POD_NAMESPACE / K8S_POD_NAME). */
  readonly namespace: string;
  readonly name: string;
  readonly containerId: string;
  readonly ifname: string;
  /** The berth network the attachment belongs to. */
  readonly network: string;
  /** Addresses given to the pod, without prefix length. */
  readonly ips: readonly string[];
}

/** Folder under the run directory holding the records' store, the lock and the marker. */
export const POLICY_RUN_SUBDIR = 'policy';

/** Store key prefix of the records (one key per attachment). */
export const WORKLOAD_PREFIX = 'workloads/';

export function workloadKey(containerId: string, ifname: string): string {
  return `${WORKLOAD_PREFIX}${containerId}/${ifname}`;
}

/**
 * Named lock held while a record is written and its addresses closed, and while the policy
 * engine reads the records and programs them: the engine never opens an address for a pod
 * it has not seen.
 */
export const POLICY_SYNC_LOCK = 'policy-sync';

/**
 * File under the policy run folder that exists while berth's policy table is in the kernel.
 * Its absence lets a pod's ADD skip the nftables work entirely.
 */
export const POLICY_ACTIVE_MARKER = 'enforcing';

/** berth's policy table (`inet`), apart from the bridge driver's `inet berth`. */
export const POLICY_TABLE = 'berth-policy';

/**
 * Sets of addresses whose pods the policy engine has not programmed yet: every new
 * connection from or to them is dropped. A pod is closed from before its interface gets an
 * address until its policy is in place, so a pod that some policy selects is never reachable
 * by traffic that policy denies.
 */
export const GUARD_SETS = { 4: 'guard4', 6: 'guard6' } as const;

/**
 * One `add element` or `delete element` command of libnftables' JSON API on a guard set.
 * Spelled out here because core/ imports nothing; it is one case of dataplane/nft-commands.ts's
 * `NftCommand`, so the list goes to `Nftables.run` as it is.
 */
export type GuardSetCommand = { readonly add: { readonly element: GuardSetElements } } | { readonly delete: { readonly element: GuardSetElements } };

export interface GuardSetElements {
  readonly family: 'inet';
  readonly table: string;
  readonly name: string;
  readonly elem: readonly string[];
}

/**
 * libnftables commands that put `ips` in the guard sets (`close`) or take them out. Taking
 * out is add-then-delete: deleting an element that is not there would fail the whole batch.
 */
export function guardSetCommands(ips: readonly string[], close: boolean): GuardSetCommand[] {
  const commands: GuardSetCommand[] = [];
  for (const f of [4, 6] as const) {
    const elem = [...new Set(ips.filter((ip) => IpAddress.parse(ip).family === f))];
    if (!elem.length) continue;
    const element: GuardSetElements = { family: 'inet', table: POLICY_TABLE, name: GUARD_SETS[f], elem };
    commands.push({ add: { element } });
    if (!close) commands.push({ delete: { element } });
  }
  return commands;
}
