/**
 * Model evaluation: who may open a connection to whom, computed from the IR by the formula of
 * the API (netpol.md §1.3): allowed(S→D) = egressOK(S) AND ingressOK(D), where a direction is
 * OK when the pod is not isolated in it, or some rule of a policy that isolates it matches
 * both a peer and a port. Because it reads the same IR the dataplanes are rendered from, a
 * matrix that agrees with both the expected table and the probes checks the compiler too.
 *
 * A pod can always reach itself (the API says a pod cannot block access to itself; such
 * traffic never leaves the pod's namespace).
 */
import { InvalidConfigError } from '../../core/errors.js';
import type { IpAddress, IpFamily } from '../../core/ip.js';
import type { Protocol } from '../../core/model.js';
import { rangesContain } from '../compile/address-ranges.js';
import type { AddressSet, CompiledRule, Direction, PodEntry, PodKey, PolicyIR, PolicyKey } from '../compile/ir.js';
import { rulesOf } from '../compile/ir.js';
import { formatPortRange, portsContain } from '../compile/port-ranges.js';

/** A new connection's protocol and destination port. */
export interface FlowPort {
  readonly protocol: Protocol;
  readonly port: number;
}

/** One rule that lets a flow through in one direction. */
export interface RuleMatch {
  readonly policy: PolicyKey;
  readonly direction: Direction;
  /** Index in `spec.ingress` / `spec.egress`. */
  readonly rule: number;
  /** Index of the matching peer in `from` / `to`; undefined when the rule lists no peers. */
  readonly peer?: number;
  /** What matched on the peer side (`pods pod=a in namespace x`, `any peer`). */
  readonly peerText: string;
  /** What matched on the port side (`80/TCP`, `named port serve-80-tcp = 80/TCP`, `any port`). */
  readonly portText: string;
}

/** The verdict of one direction: isolation, and the rules that allow the flow. */
export interface DirectionVerdict {
  readonly direction: Direction;
  readonly pod: PodKey;
  readonly allowed: boolean;
  /** The policies that isolate the pod in this direction; empty: not isolated. */
  readonly isolatedBy: readonly PolicyKey[];
  /** Rules that allow the flow (empty when not isolated or when denied). */
  readonly allowedBy: readonly RuleMatch[];
}

export interface FlowVerdict {
  readonly from: PodKey;
  readonly to: PodKey;
  readonly flow: FlowPort;
  readonly allowed: boolean;
  /** Undefined for a pod's traffic to itself, which is always allowed. */
  readonly egress?: DirectionVerdict;
  readonly ingress?: DirectionVerdict;
}

/** Reachability from → to, keyed `"<ns>/<pod>"`, the shape `berth policy matrix --format json` prints. */
export type ReachabilityMatrix = Record<PodKey, Record<PodKey, boolean>>;

/** The address family both pods can talk over (IPv4 first); undefined when they share none. */
function flowFamily(a: PodEntry, b: PodEntry): IpFamily | undefined {
  for (const f of [4, 6] as const) if (a.addresses.some((x) => x.family === f) && b.addresses.some((x) => x.family === f)) return f;
  return undefined;
}

function inSet(set: AddressSet, pod: PodEntry, family: IpFamily | undefined): boolean {
  if (set.kind === 'pods') return set.members.includes(pod.key);
  return family !== undefined && pod.addresses.some((a: IpAddress) => a.family === family && rangesContain(set.ranges, a));
}

function ruleMatch(ir: PolicyIR, policy: PolicyKey, direction: Direction, rule: CompiledRule, peer: PodEntry, dest: PodEntry, flow: FlowPort, family: IpFamily | undefined): RuleMatch | undefined {
  let peerIndex: number | undefined;
  let peerText = 'any peer';
  if (rule.peers !== 'any') {
    peerIndex = rule.peers.findIndex((id) => {
      const set = ir.sets.get(id);
      return set !== undefined && inSet(set, peer, family);
    });
    if (peerIndex < 0) return undefined;
    peerText = ir.sets.get(rule.peers[peerIndex]!)!.description;
  }
  let portText: string | undefined;
  if (rule.ports === 'any') portText = 'any port';
  else {
    const hit = rule.ports.find((r) => portsContain([r], flow.protocol, flow.port));
    if (hit) portText = formatPortRange(hit);
  }
  if (portText === undefined) {
    const named = rule.named.get(dest.key)?.find((r) => portsContain([r], flow.protocol, flow.port));
    if (named) {
      const name = dest.namedPorts.find((c) => c.port === flow.port && c.protocol.toLowerCase() === flow.protocol)?.name ?? '?';
      portText = `named port ${name} = ${formatPortRange(named)}`;
    }
  }
  if (portText === undefined) return undefined;
  return { policy, direction, rule: rule.index, ...(peerIndex !== undefined ? { peer: peerIndex } : {}), peerText, portText };
}

function directionVerdict(ir: PolicyIR, direction: Direction, self: PodEntry, peer: PodEntry, dest: PodEntry, flow: FlowPort, family: IpFamily | undefined): DirectionVerdict {
  const isolatedBy = (direction === 'ingress' ? ir.ingress : ir.egress).get(self.key) ?? [];
  const allowedBy: RuleMatch[] = [];
  for (const key of isolatedBy) {
    const rules = rulesOf(ir.policies.get(key)!, direction) ?? [];
    for (const rule of rules) {
      const m = ruleMatch(ir, key, direction, rule, peer, dest, flow, family);
      if (m) allowedBy.push(m);
    }
  }
  return { direction, pod: self.key, allowed: isolatedBy.length === 0 || allowedBy.length > 0, isolatedBy, allowedBy };
}

/** Whether a new connection from → to on `flow` is allowed, and why. InvalidConfigError for an unknown pod. */
export function evaluateFlow(ir: PolicyIR, from: PodKey, to: PodKey, flow: FlowPort): FlowVerdict {
  const src = ir.pods.get(from);
  const dst = ir.pods.get(to);
  const unknown = (field: string, key: string) => new InvalidConfigError(`Unknown pod ${JSON.stringify(key)}: known pods are ${[...ir.pods.keys()].join(', ') || 'none'}`, { field, value: key });
  if (!src) throw unknown('from', from);
  if (!dst) throw unknown('to', to);
  if (from === to) return { from, to, flow, allowed: true };
  const family = flowFamily(src, dst);
  const egress = directionVerdict(ir, 'egress', src, dst, dst, flow, family);
  const ingress = directionVerdict(ir, 'ingress', dst, src, dst, flow, family);
  return { from, to, flow, allowed: egress.allowed && ingress.allowed, egress, ingress };
}

/** The truth table for every known pod pair on one protocol and port, keyed from → to. */
export function reachability(ir: PolicyIR, flow: FlowPort): ReachabilityMatrix {
  const out: ReachabilityMatrix = {};
  for (const from of ir.pods.keys()) {
    const row: Record<PodKey, boolean> = {};
    for (const to of ir.pods.keys()) row[to] = evaluateFlow(ir, from, to, flow).allowed;
    out[from] = row;
  }
  return out;
}

function describeDirection(v: DirectionVerdict, peer: PodKey, flow: FlowPort): string {
  const what = v.direction === 'egress' ? `egress from ${v.pod}` : `ingress to ${v.pod}`;
  const type = v.direction === 'egress' ? 'Egress' : 'Ingress';
  if (v.isolatedBy.length === 0) return `${what}: allowed, not isolated (no policy selects ${v.pod} for ${type})`;
  if (v.allowedBy.length === 0) {
    return `${what}: denied, isolated by ${v.isolatedBy.join(', ')} and no rule of ${v.isolatedBy.length === 1 ? 'it' : 'them'} allows ${peer} on ${formatPortRange({ protocol: flow.protocol, first: flow.port, last: flow.port })}`;
  }
  const peersKey = v.direction === 'egress' ? 'to' : 'from';
  const rules = v.allowedBy.map((m) => `${m.policy} ${m.direction}[${m.rule}] (${m.peer !== undefined ? `${peersKey}[${m.peer}] ` : ''}${m.peerText}; ${m.portText})`);
  return `${what}: allowed by ${rules.join(', ')}`;
}

/**
 * Why a flow is allowed or denied, in lines for people: the verdict, then each direction with
 * the policies and rules that allow it, or the isolation that denies it.
 */
export function explainFlow(ir: PolicyIR, from: PodKey, to: PodKey, flow: FlowPort): { readonly verdict: FlowVerdict; readonly lines: readonly string[] } {
  const verdict = evaluateFlow(ir, from, to, flow);
  const head = `${from} -> ${to} ${formatPortRange({ protocol: flow.protocol, first: flow.port, last: flow.port })}: ${verdict.allowed ? 'allowed' : 'denied'}`;
  if (!verdict.egress || !verdict.ingress) return { verdict, lines: [head, 'a pod can always reach itself'] };
  return { verdict, lines: [head, describeDirection(verdict.egress, to, flow), describeDirection(verdict.ingress, from, flow)] };
}

/** Parses `80/TCP`, `81/udp`, `80` (TCP) into a FlowPort; InvalidConfigError on anything else. */
export function parseFlowPort(text: string): FlowPort {
  const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(text.trim());
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidConfigError(`${JSON.stringify(text)} is not PORT[/PROTOCOL] (for example 80/TCP), with a port from 1 to 65535`, { field: 'port', value: text });
  }
  return { port, protocol: (m[2] ?? 'tcp').toLowerCase() as Protocol };
}
