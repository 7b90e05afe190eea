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

/** One object as stored: its key and the revision the write gave it. */
export interface StoredPolicyObject {
  readonly object: PolicyObject;
  readonly key: string;
  readonly revision: number;
}

/**
 * Validates every manifest, then stores each one. Throws InvalidObjectError, having written
 * nothing, when any is invalid. Returns the objects read.
 */
export async function applyPolicyManifests(store: Store, manifests: readonly unknown[], options: ReadOptions & { readonly sources?: readonly string[] } = {}): Promise<PolicyObject[]> {
  return (await storePolicyManifests(store, manifests, options)).map((s) => s.object);
}

/** applyPolicyManifests, telling each object's key and revision (a watcher then knows its own writes). */
export async function storePolicyManifests(store: Store, manifests: readonly unknown[], options: ReadOptions & { readonly sources?: readonly string[] } = {}): Promise<StoredPolicyObject[]> {
  const objects = parsePolicyObjects(manifests, options);
  const flat = flatten(manifests);
  const stored: StoredPolicyObject[] = [];
  for (const [i, object] of objects.entries()) {
    const { kind, namespace, name } = policyObjectRef(object);
    const manifest = flat[i] as { metadata?: Record<string, unknown> };
    const value = kind === 'Namespace' ? manifest : { ...manifest, metadata: { ...(manifest.metadata ?? {}), namespace } };
    const key = policyStoreKey(kind, namespace, name);
    const r = await store.put(key, value as JsonValue);
    // An unconditional put cannot fail its compare; -1 (no revision a store gives) if one did.
    stored.push({ object, key, revision: r.ok ? r.revision : -1 });
  }
  return stored;
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
