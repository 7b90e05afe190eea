/**
 * PolicyIR → Windows HNS ACL endpoint policies (HCN schema v2 `EndpointPolicy` of type `ACL`,
 * settings `AclPolicySetting`), one list per endpoint, as the JSON that `HcnModifyEndpoint`
 * takes (`ModifyEndpointSettingRequest`, RequestType `Update` replaces the endpoint's list).
 *
 * HNS has no sets and no jumps, so everything is flattened per endpoint (what felix's Windows
 * dataplane does): each IR rule becomes Allow ACLs with the peers' addresses and the ports,
 * one per protocol and address family. NetworkPolicy has no order and no deny, so:
 *
 *   priority 100    Allow In from the node's own addresses (the local-node exemption), when given
 *   priority 1000   every Allow the policies make (their order does not matter: they only add)
 *   priority 65000  per direction, Block when the endpoint is isolated in it, else Allow
 *
 * Named ports are resolved per endpoint (ingress: the endpoint's own container ports; egress:
 * each destination pod's, with that pod's addresses) and ipBlock `except` ranges are cut out
 * into CIDR lists, never written as higher-priority Blocks (that would break additivity).
 * HNS ACLs are stateful: replies of an allowed connection pass, as with conntrack.
 */
import type { IpFamily } from '../../core/ip.js';
import type { Protocol } from '../../core/model.js';
import { rangeToPrefixes } from '../compile/address-ranges.js';
import type { CompiledRule, Direction, PodEntry, PodKey, PolicyIR, PortRange } from '../compile/ir.js';
import { mergePortRanges } from '../compile/port-ranges.js';

/** `AclPolicySetting` of hcsshim's `hcn` package (HCN schema v2); absent keys mean "any". */
export interface AclPolicySetting {
  readonly Protocols?: string;
  readonly Action: 'Allow' | 'Block';
  readonly Direction: 'In' | 'Out';
  readonly LocalAddresses?: string;
  readonly RemoteAddresses?: string;
  readonly LocalPorts?: string;
  readonly RemotePorts?: string;
  readonly RuleType?: 'Host' | 'Switch';
  readonly Priority?: number;
}

export interface AclEndpointPolicy {
  readonly Type: 'ACL';
  readonly Settings: AclPolicySetting;
}

/** The document `HcnModifyEndpoint` takes to replace an endpoint's ACLs. */
export interface ModifyEndpointAclRequest {
  readonly ResourceType: 'Policy';
  readonly RequestType: 'Update';
  readonly Settings: { readonly Policies: readonly AclEndpointPolicy[] };
}

export interface HnsRenderOptions {
  /**
   * `Switch` (VFP, the default: l2bridge, l2tunnel, overlay) or `Host` (Windows Firewall: nat,
   * transparent). Hyper-V isolated containers only honour Switch rules.
   */
  readonly ruleType?: 'Host' | 'Switch';
  /** The node's addresses: their traffic into an isolated endpoint is allowed (kubelet probes). */
  readonly hostAddresses?: readonly string[];
}

/** One endpoint's ACLs. Endpoints of pods that no policy isolates get none (HNS allows all). */
export interface EndpointAcls {
  readonly pod: PodKey;
  readonly addresses: readonly string[];
  readonly policies: readonly AclEndpointPolicy[];
}

export const HOST_PRIORITY = 100;
export const ALLOW_PRIORITY = 1000;
export const DEFAULT_PRIORITY = 65000;

const IANA: Record<Protocol, string> = { tcp: '6', udp: '17', sctp: '132' };

function portList(ranges: readonly PortRange[]): string | undefined {
  if (ranges.some((r) => r.first === 0 && r.last === 65535)) return undefined;
  return ranges.map((r) => (r.first === r.last ? String(r.first) : `${r.first}-${r.last}`)).join(',');
}

/** The ACLs of every endpoint (pod) that some policy isolates, sorted by pod. */
export function renderHnsAcls(ir: PolicyIR, options: HnsRenderOptions = {}): EndpointAcls[] {
  const out: EndpointAcls[] = [];
  for (const pod of ir.pods.values()) {
    const inPolicies = ir.ingress.get(pod.key);
    const outPolicies = ir.egress.get(pod.key);
    if (!inPolicies && !outPolicies) continue;
    const ruleType = options.ruleType ?? 'Switch';
    const acls: AclPolicySetting[] = [];
    const add = (s: Omit<AclPolicySetting, 'RuleType' | 'Priority' | 'Action'>, priority = ALLOW_PRIORITY, action: 'Allow' | 'Block' = 'Allow') =>
      acls.push({ ...s, Action: action, RuleType: ruleType, Priority: priority });
    if (inPolicies && options.hostAddresses?.length) add({ Direction: 'In', RemoteAddresses: options.hostAddresses.join(',') }, HOST_PRIORITY);
    for (const [direction, policies] of [
      ['ingress', inPolicies],
      ['egress', outPolicies],
    ] as const) {
      for (const key of policies ?? []) {
        const policy = ir.policies.get(key)!;
        for (const rule of (direction === 'ingress' ? policy.ingress : policy.egress) ?? []) {
          for (const s of ruleAcls(ir, pod, direction, rule)) add(s);
        }
      }
    }
    add({ Direction: 'In' }, DEFAULT_PRIORITY, inPolicies ? 'Block' : 'Allow');
    add({ Direction: 'Out' }, DEFAULT_PRIORITY, outPolicies ? 'Block' : 'Allow');
    out.push({ pod: pod.key, addresses: pod.addresses.map(String), policies: dedupe(acls).map((s) => ({ Type: 'ACL', Settings: inSchemaOrder(s) })) });
  }
  return out;
}

/** The request that replaces an endpoint's ACLs with `acls.policies`. */
export function modifyEndpointRequest(acls: EndpointAcls): ModifyEndpointAclRequest {
  return { ResourceType: 'Policy', RequestType: 'Update', Settings: { Policies: acls.policies } };
}

/** The peer addresses of a rule per family (undefined: any peer). */
function peerAddresses(ir: PolicyIR, rule: CompiledRule): Map<IpFamily, string[]> | undefined {
  if (rule.peers === 'any') return undefined;
  const out = new Map<IpFamily, string[]>([
    [4, []],
    [6, []],
  ]);
  for (const id of rule.peers) {
    const set = ir.sets.get(id);
    if (!set) continue;
    if (set.kind === 'pods') {
      out.get(4)!.push(...set.v4);
      out.get(6)!.push(...set.v6);
    } else {
      for (const r of set.ranges) out.get(r.family)!.push(...rangeToPrefixes(r).map(String));
    }
  }
  for (const [f, list] of out) out.set(f, [...new Set(list)]);
  return out;
}

/** Allow ACLs (without Action/Priority/RuleType) for one rule of one endpoint. */
function ruleAcls(ir: PolicyIR, pod: PodEntry, direction: Direction, rule: CompiledRule): Omit<AclPolicySetting, 'RuleType' | 'Priority' | 'Action'>[] {
  const Direction = direction === 'ingress' ? 'In' : 'Out';
  const portsKey = direction === 'ingress' ? 'LocalPorts' : 'RemotePorts';
  const peers = peerAddresses(ir, rule);
  const out: Omit<AclPolicySetting, 'RuleType' | 'Priority' | 'Action'>[] = [];
  /** One ACL per protocol of `ranges` ('any' → one ACL for all protocols) and per family of `remotes`. */
  const emit = (remotes: Map<IpFamily, string[]> | undefined, ranges: 'any' | readonly PortRange[]) => {
    const remoteLists: (string | undefined)[] = remotes ? [...remotes.values()].filter((l) => l.length).map((l) => l.join(',')) : [undefined];
    for (const remote of remoteLists) {
      const base = { Direction, ...(remote !== undefined ? { RemoteAddresses: remote } : {}) } as const;
      if (ranges === 'any') {
        out.push(base);
        continue;
      }
      for (const protocol of ['tcp', 'udp', 'sctp'] as const) {
        const mine = mergePortRanges(ranges.filter((r) => r.protocol === protocol));
        if (!mine.length) continue;
        const ports = portList(mine);
        out.push({ ...base, Protocols: IANA[protocol], ...(ports ? { [portsKey]: ports } : {}) });
      }
    }
  };
  if (rule.ports === 'any') emit(peers, 'any');
  else {
    // Ingress: named ports resolve on this endpoint, so they join the numeric ones.
    const own = direction === 'ingress' ? (rule.named.get(pod.key) ?? []) : [];
    if (rule.ports.length || own.length) emit(peers, [...rule.ports, ...own]);
  }
  if (direction === 'egress') {
    // Egress: each destination pod has its own resolution; its addresses go with its ports,
    // and destinations whose names resolve alike share one ACL.
    const byPorts = new Map<string, { ranges: readonly PortRange[]; remotes: Map<IpFamily, string[]> }>();
    for (const [dest, ranges] of rule.named) {
      const d = ir.pods.get(dest);
      if (!d) continue;
      const key = JSON.stringify(ranges);
      let group = byPorts.get(key);
      if (!group) {
        group = {
          ranges,
          remotes: new Map([
            [4, []],
            [6, []],
          ]),
        };
        byPorts.set(key, group);
      }
      for (const a of d.addresses) group.remotes.get(a.family)!.push(a.toString());
    }
    for (const g of byPorts.values()) emit(g.remotes, g.ranges);
  }
  return out;
}

/** The keys in hcsshim's field order, so that documents read the same everywhere. */
function inSchemaOrder(s: AclPolicySetting): AclPolicySetting {
  const order = ['Protocols', 'Action', 'Direction', 'LocalAddresses', 'RemoteAddresses', 'LocalPorts', 'RemotePorts', 'RuleType', 'Priority'] as const;
  const out: Record<string, unknown> = {};
  for (const k of order) if (s[k] !== undefined) out[k] = s[k];
  return out as unknown as AclPolicySetting;
}

function dedupe(acls: readonly AclPolicySetting[]): AclPolicySetting[] {
  const seen = new Set<string>();
  return acls.filter((a) => {
    const k = JSON.stringify(a);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
