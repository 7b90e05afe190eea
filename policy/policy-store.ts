/**
 * What has been applied, kept in the store (the embedded file store under /var/lib/berth, or
 * etcd): one key per object, `policy/<kind>/<namespace>/<name>`, holding the manifest as given
 * (with its namespace filled in). Reading back re-validates, so the store holds manifests, not
 * a private format, and a newer berth reads what an older one wrote.
 *
 * Writes are all or nothing in the sense that matters: every manifest is validated before the
 * first key is written, so an invalid document applies nothing.
 */
import type { JsonValue, Store } from '../store/store.js';
import { parsePolicyObjects, policyObjectRef, type PolicyObject } from './model/policy-object.js';
import type { ReadOptions } from './model/network-policy.js';

export const POLICY_STORE_PREFIX = 'policy/';

export type PolicyKind = PolicyObject['kind'];

const SEGMENT: Record<PolicyKind, string> = { NetworkPolicy: 'networkpolicies', Namespace: 'namespaces', Pod: 'pods' };

/** The store key of an object (`policy/networkpolicies/x/deny`, `policy/namespaces/x`). */
export function policyStoreKey(kind: PolicyKind, namespace: string, name: string): string {
  return kind === 'Namespace' ? `${POLICY_STORE_PREFIX}${SEGMENT[kind]}/${name}` : `${POLICY_STORE_PREFIX}${SEGMENT[kind]}/${namespace}/${name}`;
}

/** Flattens kubectl `List` objects, as parsePolicyObjects does, keeping each item's manifest. */
function flatten(manifests: readonly unknown[]): unknown[] {
  return manifests.flatMap((m) => (typeof m === 'object' && m !== null && (m as { kind?: unknown }).kind === 'List' ? flatten(((m as { items?: unknown }).items as unknown[]) ?? []) : [m]));
}

/**
 * Validates every manifest, then stores each one. Throws InvalidObjectError, having written
 * nothing, when any is invalid. Returns the objects read.
 */
export async function applyPolicyManifests(store: Store, manifests: readonly unknown[], options: ReadOptions & { readonly sources?: readonly string[] } = {}): Promise<PolicyObject[]> {
  const objects = parsePolicyObjects(manifests, options);
  const flat = flatten(manifests);
  for (const [i, o] of objects.entries()) {
    const { kind, namespace, name } = policyObjectRef(o);
    const manifest = flat[i] as { metadata?: Record<string, unknown> };
    const stored = kind === 'Namespace' ? manifest : { ...manifest, metadata: { ...(manifest.metadata ?? {}), namespace } };
    await store.put(policyStoreKey(kind, namespace, name), stored as JsonValue);
  }
  return objects;
}

/** Removes one object; true when it was there. */
export async function deletePolicyObject(store: Store, kind: PolicyKind, namespace: string, name: string): Promise<boolean> {
  const r = await store.delete(policyStoreKey(kind, namespace, name));
  return r.ok && r.existed;
}

/** Every stored object, validated again (InvalidObjectError names the bad key). */
export async function loadPolicyObjects(store: Store): Promise<PolicyObject[]> {
  const entries = await store.list(POLICY_STORE_PREFIX);
  return parsePolicyObjects(
    entries.map((e) => e.value),
    { sources: entries.map((e) => e.key) },
  );
}
