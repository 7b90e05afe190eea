/**
 * Peer address sets: what one `from`/`to` entry means as a set of addresses. Pod peers become
 * the pods a selector pair matches (kept current as pods and namespaces change); ipBlock peers
 * become disjoint ranges. The set id is canonical, so equal peers share one set.
 */
import { IpPrefix } from '../../core/ip.js';
import { describeSelector, selectorKey, selectorMatches, selectsEverything } from '../model/label-selector.js';
import type { IpBlock, LabelSelector, PolicyPeer } from '../model/types.js';
import { ipBlockRanges } from './address-ranges.js';
import type { AddressSetId, CidrAddressSet, PodEntry } from './ir.js';

/** Which pods a pod peer means: in one namespace, or in the namespaces a selector matches. */
export interface PodSelection {
  readonly id: AddressSetId;
  readonly description: string;
  /** Set when the peer has no namespaceSelector: the policy's own namespace. */
  readonly namespace?: string;
  readonly namespaceSelector?: LabelSelector;
  /** Absent: every pod of the matched namespaces. */
  readonly podSelector?: LabelSelector;
}

/** The pod selection of a pod peer of a policy in `policyNamespace`. */
export function podSelectionOf(peer: PolicyPeer, policyNamespace: string): PodSelection {
  const pods = peer.podSelector && !selectsEverything(peer.podSelector) ? peer.podSelector : undefined;
  const podText = pods ? `pods ${describeSelector(pods)}` : 'all pods';
  if (peer.namespaceSelector) {
    const nss = peer.namespaceSelector;
    const nsText = selectsEverything(nss) ? 'in all namespaces' : `in namespaces ${describeSelector(nss)}`;
    return {
      id: JSON.stringify(['pods', 'nss', selectorKey(nss), pods ? selectorKey(pods) : '*']),
      description: `${podText} ${nsText}`,
      namespaceSelector: nss,
      ...(pods ? { podSelector: pods } : {}),
    };
  }
  return {
    id: JSON.stringify(['pods', 'ns', policyNamespace, pods ? selectorKey(pods) : '*']),
    description: `${podText} in namespace ${policyNamespace}`,
    namespace: policyNamespace,
    ...(pods ? { podSelector: pods } : {}),
  };
}

/** Whether a pod in a namespace with `namespaceLabels` belongs to the selection. */
export function selectionMatches(sel: PodSelection, pod: PodEntry, namespaceLabels: Readonly<Record<string, string>>): boolean {
  if (sel.namespace !== undefined ? pod.namespace !== sel.namespace : !selectorMatches(sel.namespaceSelector!, namespaceLabels)) return false;
  return !sel.podSelector || selectorMatches(sel.podSelector, pod.labels);
}

/** The canonical id of an ipBlock (host bits cleared, excepts sorted). */
export function ipBlockId(block: IpBlock): AddressSetId {
  const canon = (t: string) => IpPrefix.parse(t, { strict: false }).toString();
  return JSON.stringify(['cidr', canon(block.cidr), [...new Set(block.except.map(canon))].sort()]);
}

/** The address set of an ipBlock. */
export function cidrSetOf(block: IpBlock): CidrAddressSet {
  const prefix = IpPrefix.parse(block.cidr, { strict: false });
  const except = [...new Set(block.except.map((e) => IpPrefix.parse(e, { strict: false }).toString()))].sort();
  return {
    kind: 'cidr',
    id: ipBlockId(block),
    description: `ipBlock ${prefix}${except.length ? ` except ${except.join(', ')}` : ''}`,
    family: prefix.family,
    ranges: ipBlockRanges(prefix.toString(), except),
  };
}
