/**
 * The intermediate representation every backend reads: what the NetworkPolicies in force
 * mean for the known pods, with no backend words in it (felix's "calculation graph output").
 *
 * Shape: for each pod that some policy isolates in a direction, the policies that apply
 * (`ingress` / `egress`); for each policy, its rules as peer address sets × port ranges, with
 * named ports already resolved on each destination pod. Address sets are shared: one per
 * distinct peer selector, however many policies use it.
 *
 * The IR is immutable. The compiler reuses the very objects of the previous IR for whatever a
 * change did not touch, so backends can memoize on object identity and diff cheaply.
 */
import type { IpAddress, IpFamily } from '../../core/ip.js';
import type { Protocol } from '../../core/model.js';
import type { NamedContainerPort, NetworkPolicy, PolicyPeer, PolicyPort } from '../model/types.js';

/** `<namespace>/<name>` of a pod. */
export type PodKey = string;
/** `<namespace>/<name>` of a NetworkPolicy. */
export type PolicyKey = string;
/** The canonical text of an address set's definition; equal definitions share one set. */
export type AddressSetId = string;

export type Direction = 'ingress' | 'egress';

/** An inclusive port range of one protocol; every port is 0..65535. */
export interface PortRange {
  readonly protocol: Protocol;
  readonly first: number;
  readonly last: number;
}

/** A pod as the IR sees it. Host-network pods are not here: policy does not apply to them. */
export interface PodEntry {
  readonly key: PodKey;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly addresses: readonly IpAddress[];
  readonly namedPorts: readonly NamedContainerPort[];
}

/** An inclusive address range of one family (a CIDR with its `except` ranges cut out is a few). */
export interface AddressRange {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/** The pods a peer selector matches (podSelector, namespaceSelector, or both). */
export interface PodAddressSet {
  readonly kind: 'pods';
  readonly id: AddressSetId;
  /** For people: `pods pod=a in namespace x`. */
  readonly description: string;
  /** Sorted pod keys. */
  readonly members: readonly PodKey[];
  /** The members' addresses per family, canonical text, sorted. */
  readonly v4: readonly string[];
  readonly v6: readonly string[];
}

/** An ipBlock: the CIDR minus its `except` prefixes, as disjoint sorted ranges. */
export interface CidrAddressSet {
  readonly kind: 'cidr';
  readonly id: AddressSetId;
  readonly description: string;
  readonly family: IpFamily;
  readonly ranges: readonly AddressRange[];
}

export type AddressSet = PodAddressSet | CidrAddressSet;

/**
 * One ingress or egress rule of a policy. It allows a new connection when a peer matches
 * (the source for ingress, the destination for egress) and a port matches:
 * `ports` ('any' when the rule lists none), or `named` — named ports resolved on the
 * destination pod (for ingress the selected pod, for egress the peer pod). For egress,
 * `named` holds only pods that the rule's peers match.
 */
export interface CompiledRule {
  /** Position in `spec.ingress` / `spec.egress`. */
  readonly index: number;
  /** 'any' when the rule lists no peers; otherwise one set per peer, ORed (`from[i]` → `peers[i]`). */
  readonly peers: 'any' | readonly AddressSetId[];
  /** Numeric ports and port ranges ('any' when the rule lists no ports). */
  readonly ports: 'any' | readonly PortRange[];
  /** Named ports, per destination pod, resolved to numbers. */
  readonly named: ReadonlyMap<PodKey, readonly PortRange[]>;
  /** The rule as written, for explanations. */
  readonly source: { readonly peers: readonly PolicyPeer[]; readonly ports: readonly PolicyPort[] };
}

/** A NetworkPolicy resolved against the current pods and namespaces. */
export interface CompiledPolicy {
  readonly key: PolicyKey;
  readonly namespace: string;
  readonly name: string;
  readonly source: NetworkPolicy;
  /** The pods the policy selects, sorted. */
  readonly selected: readonly PodKey[];
  /** Present when Ingress is among the effective policyTypes (possibly with no rules: deny all). */
  readonly ingress?: readonly CompiledRule[];
  /** Present when Egress is among the effective policyTypes. */
  readonly egress?: readonly CompiledRule[];
}

export interface PolicyIR {
  readonly pods: ReadonlyMap<PodKey, PodEntry>;
  readonly sets: ReadonlyMap<AddressSetId, AddressSet>;
  readonly policies: ReadonlyMap<PolicyKey, CompiledPolicy>;
  /**
   * Pods isolated for ingress → the policies that select them for ingress (sorted keys).
   * A pod that is not a key here accepts every connection.
   */
  readonly ingress: ReadonlyMap<PodKey, readonly PolicyKey[]>;
  /** The same for egress. */
  readonly egress: ReadonlyMap<PodKey, readonly PolicyKey[]>;
}

/** The rules of `policy` in `direction`, or undefined when the policy has no such type. */
export function rulesOf(policy: CompiledPolicy, direction: Direction): readonly CompiledRule[] | undefined {
  return direction === 'ingress' ? policy.ingress : policy.egress;
}
