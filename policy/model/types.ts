/**
 * The validated, defaulted form of the Kubernetes objects the policy engine reads:
 * `networking.k8s.io/v1` NetworkPolicy, and `v1` Namespace and Pod (only the parts that matter
 * to policy). Everything here is plain readonly data; the parsers in this folder build it.
 *
 * Defaulting follows the API server: a missing `podSelector` is the empty selector, a missing
 * protocol is TCP, missing `policyTypes` are [Ingress] plus Egress when there are egress rules.
 * Empty and missing lists are the same thing, as they are on the wire (`omitempty`).
 */

/** The protocols a NetworkPolicy port may name, spelled as the API spells them. */
export type PolicyProtocol = 'TCP' | 'UDP' | 'SCTP';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

/** One `matchExpressions` entry. `values` is empty for Exists and DoesNotExist. */
export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A label selector; every part is ANDed and the empty selector matches everything. */
export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly SelectorRequirement[];
}

/** `ipBlock`: `cidr` as written (host bits may be set) and the ranges taken out of it. */
export interface IpBlock {
  readonly cidr: string;
  readonly except: readonly string[];
}

/**
 * One `from`/`to` entry. Exactly one of: a pod selector, a namespace selector, both (ANDed),
 * or an ipBlock alone.
 */
export interface PolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: IpBlock;
}

/**
 * One `ports` entry. `port` absent: every port of the protocol. A string port is a container
 * port name, resolved on the destination pod. `endPort` only with a numeric port.
 */
export interface PolicyPort {
  readonly protocol: PolicyProtocol;
  readonly port?: number | string;
  readonly endPort?: number;
}

/**
 * One ingress or egress rule: it allows traffic that matches one of `peers` AND one of `ports`.
 * An empty list means "all" (peers or ports).
 */
export interface PolicyRule {
  readonly peers: readonly PolicyPeer[];
  readonly ports: readonly PolicyPort[];
}

export type PolicyType = 'Ingress' | 'Egress';

/** A validated NetworkPolicy with its defaults applied. */
export interface NetworkPolicy {
  readonly namespace: string;
  readonly name: string;
  /** Selects the subject pods, in `namespace` only. */
  readonly podSelector: LabelSelector;
  /** Effective policy types (defaulted when the manifest has none). */
  readonly policyTypes: readonly PolicyType[];
  /** `spec.ingress`; ignored unless Ingress is in `policyTypes`. */
  readonly ingress: readonly PolicyRule[];
  /** `spec.egress`; ignored unless Egress is in `policyTypes`. */
  readonly egress: readonly PolicyRule[];
}

/** A namespace and its labels (which always include `kubernetes.io/metadata.name`). */
export interface Namespace {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A container port that has a name, for named-port resolution. */
export interface NamedContainerPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: PolicyProtocol;
}

/** The parts of a pod that policy needs. */
export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `status.podIPs` (or `podIP`), canonical text; empty while the pod has no address yet. */
  readonly ips: readonly string[];
  /** Named ports of `spec.containers` (init containers have none that policy can name). */
  readonly ports: readonly NamedContainerPort[];
  /** Host-network pods share the node's address; policy neither selects nor isolates them. */
  readonly hostNetwork: boolean;
}

/** The label the API server puts on every namespace, holding its name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** `<namespace>/<name>`: how pods and policies are keyed everywhere in the engine. */
export function objectKey(o: { readonly namespace: string; readonly name: string }): string {
  return `${o.namespace}/${o.name}`;
}
