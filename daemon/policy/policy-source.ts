/**
 * Where berthd's policy agent gets its Kubernetes objects from: a source (the Kubernetes API
 * through kube-source.ts, or anything else that can list and follow Namespaces, Pods and
 * NetworkPolicies) delivers them into a sink, which the agent implements.
 */

export type PolicyKind = 'Namespace' | 'Pod' | 'NetworkPolicy';

export const POLICY_KINDS: readonly PolicyKind[] = ['Namespace', 'Pod', 'NetworkPolicy'];

/** Where a source delivers objects; manifests are the raw API objects with apiVersion and kind set. */
export interface PolicyObjectSink {
  /**
   * Everything of one kind that exists now (after the initial list and after every relist):
   * replaces all earlier objects of that kind.
   */
  replaceAll(kind: PolicyKind, manifests: readonly unknown[]): void;
  /** One object came or changed. */
  upsert(kind: PolicyKind, manifest: unknown): void;
  /** One object went; `namespace` is '' for a Namespace. */
  remove(kind: PolicyKind, namespace: string, name: string): void;
}

export interface PolicySource {
  /** Resolves after the first full list of all three kinds has been delivered. */
  start(): Promise<void>;
  /** Ends every request and timer of the source; nothing is delivered after it resolves. */
  stop(): Promise<void>;
}
