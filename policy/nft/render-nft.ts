/**
 * PolicyIR → the desired content of the `inet berth-policy` table (pure; no kernel access).
 *
 * Layout, chosen so that the per-packet cost does not grow with the number of policies or pods:
 *
 *     chain egress  (hook forward, prio 10): ip saddr @guard4 drop; ct established/related accept; ND accept;
 *                                             ip saddr vmap @egress4 (goto the pod's class chain)
 *     chain ingress (hook forward, prio 11): the same with ip daddr vmap @ingress4
 *     chain in_<hash>   one per distinct list of policies isolating a pod ("class"):
 *                       jump pi_<ns>_<name> for each; then reject
 *     chain pi_<ns>_<name> / po_<ns>_<name>  one per policy and direction: one rule per
 *                       (rule, peer): ip saddr @peer-set meta l4proto . th dport { ... } accept
 *     sets  ps_<hash>_4/6 pod peers (hash of the selector), cb_<hash>_4/6 ipBlocks (intervals),
 *           pt_<hash> port lists (intervals), np_<hash>_4/6 named ports resolved as
 *           (address . protocol . port); port and named-port sets are named after their
 *           content, so equal ones are shared and none is ever edited
 *
 * A packet meets two map lookups (source, destination), then only the rules of the policies
 * that select its pods, each a hash-set lookup. A pod no policy isolates has no map element
 * and passes. Both ends must allow: the egress chain's accept hands the packet on to the
 * ingress chain (another base chain on the same hook); only reject/drop is final.
 * Bridged frames reach these forward-hook chains through br_netfilter (iifname is the bridge,
 * so dispatch keys on addresses, never on interfaces).
 */
import { IpAddress } from '../../core/ip.js';
import { stableHash } from '../../core/stable-hash.js';
import { formatRange, rangeToPrefixes } from '../compile/address-ranges.js';
import type { AddressRange, AddressSet, CompiledPolicy, CompiledRule, Direction, PolicyIR, PortRange } from '../compile/ir.js';
import { GUARD_SETS } from '../../core/workload.js';
import type { NftDataType, NftElem, NftExpr, NftValue } from '../../dataplane/nft-commands.js';
import { POLICY_TABLE, type NftChain, type NftRule, type NftSet, type NftState } from './nft-state.js';

type Family = 4 | 6;

/** What an isolated pod's connection meets when no rule allows it. */
export type DenyVerdict = 'reject' | 'drop';

export interface NftRenderOptions {
  /** @default "berth-policy" */
  readonly table?: string;
  /**
   * `reject` (the default) answers a denied connection at once with ICMP administratively
   * prohibited (connect() fails with EHOSTUNREACH); `drop` lets it time out.
   */
  readonly deny?: DenyVerdict;
}

const EGRESS_PRIO = 10;
const INGRESS_PRIO = 11;
const MAX_NAME = 200;

/** `pi_<ns>_<name>`: readable (`_` cannot occur in Kubernetes names), hashed when too long. */
export function policyChainName(direction: Direction, policyKey: string): string {
  const prefix = direction === 'ingress' ? 'pi' : 'po';
  const name = `${prefix}_${policyKey.replace('/', '_')}`;
  return name.length <= MAX_NAME ? name : `${prefix}_${stableHash(policyKey)}`;
}

/** The chain of one class: the pods that the same list of policies isolates in a direction. */
export function classChainName(direction: Direction, policies: readonly string[]): string {
  return `${direction === 'ingress' ? 'in' : 'out'}_${stableHash(policies.join('\n'), 12)}`;
}

/** The nft set that holds one family of an address set. */
export function addressSetName(set: Pick<AddressSet, 'kind' | 'id'>, family: Family): string {
  return `${set.kind === 'pods' ? 'ps' : 'cb'}_${stableHash(set.id, 12)}_${family}`;
}

const dispatchMap = (direction: Direction, family: Family) => `${direction}${family}`;

const addrField = (family: Family, field: 'saddr' | 'daddr') => ({ payload: { protocol: family === 4 ? 'ip' : 'ip6', field } });
const L4_DPORT = { concat: [{ meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] };
const ADDR_TYPE: Record<Family, NftDataType> = { 4: 'ipv4_addr', 6: 'ipv6_addr' };

function inSet(left: NftExpr, set: string): NftExpr {
  return { match: { op: '==', left, right: `@${set}` } };
}

function portElement(r: PortRange): NftExpr {
  return { concat: [r.protocol, r.first === r.last ? r.first : { range: [r.first, r.last] }] };
}

/**
 * The match for a rule's numeric ports. One range is matched inline (`meta l4proto tcp th dport
 * 80-90`); several go in a named interval set shared by every rule with the same list
 * (`pt_<hash>`, never changed once made). Anonymous sets are avoided: libnftables looks sets
 * up by walking a list, so thousands of them make every transaction slow.
 */
function portMatch(ports: readonly PortRange[], sets: NftSet[]): NftExpr[] {
  if (ports.length === 1) {
    const r = ports[0]!;
    const proto = { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: r.protocol } };
    if (r.first === 0 && r.last === 65535) return [proto];
    const dport = { payload: { protocol: 'th', field: 'dport' } };
    return [proto, { match: { op: '==', left: dport, right: r.first === r.last ? r.first : { range: [r.first, r.last] } } }];
  }
  const keys = ports.map((r) => `${r.protocol} ${r.first}-${r.last}`);
  const name = `pt_${stableHash(keys.join(','), 12)}`;
  sets.push({ name, verdictMap: false, type: ['inet_proto', 'inet_service'], interval: true, elements: new Map(ports.map((r, i) => [keys[i]!, portElement(r)])) });
  return [{ match: { op: '==', left: L4_DPORT, right: `@${name}` } }];
}

function rangeElement(r: AddressRange): NftValue {
  if (r.first === r.last) return IpAddress.fromBigInt(r.family, r.first).toString();
  const prefixes = rangeToPrefixes(r);
  if (prefixes.length === 1) return { prefix: { addr: prefixes[0]!.network.toString(), len: prefixes[0]!.length } };
  return { range: [IpAddress.fromBigInt(r.family, r.first).toString(), IpAddress.fromBigInt(r.family, r.last).toString()] };
}

function comment(text: string): string {
  // The kernel keeps rule comments in 256 bytes of user data; names can be long.
  return text.length <= 120 ? text : `${text.slice(0, 117)}...`;
}

interface DispatchOut {
  readonly classes: readonly NftChain[];
  readonly maps: readonly NftSet[];
}

interface DispatchMemo {
  readonly isolation: PolicyIR['ingress'];
  readonly pods: PolicyIR['pods'];
  readonly families: string;
  readonly chainSig: string;
  readonly out: DispatchOut;
}

interface RenderedPolicy {
  readonly chains: NftChain[];
  readonly sets: NftSet[];
}

/**
 * Renders IRs, remembering what it rendered: a policy, address set or class chain that is the
 * same object as last time gives back the same rendered object.
 */
export class NftRenderer {
  readonly table: string;
  readonly #deny: DenyVerdict;
  #policyMemo = new WeakMap<CompiledPolicy, { families: string; out: RenderedPolicy }>();
  #setMemo = new WeakMap<AddressSet, { families: string; out: NftSet[] }>();
  #classMemo = new Map<string, NftChain>();
  #dispatchMemo: Partial<Record<Direction, DispatchMemo>> = {};

  constructor(options: NftRenderOptions = {}) {
    this.table = options.table ?? POLICY_TABLE;
    this.#deny = options.deny ?? 'reject';
  }

  /** The whole desired table for `ir`. */
  render(ir: PolicyIR): NftState {
    const families = familiesOf(ir);
    const famKey = families.join(',');
    const chains = new Map<string, NftChain>();
    const sets = new Map<string, NftSet>();
    for (const c of this.#baseChains(families)) chains.set(c.name, c);
    for (const g of GUARDS) sets.set(g.name, g);
    const rendered = new Map<string, RenderedPolicy>();
    for (const policy of ir.policies.values()) {
      let memo = this.#policyMemo.get(policy);
      if (!memo || memo.families !== famKey) {
        memo = { families: famKey, out: renderPolicy(ir, policy, families) };
        this.#policyMemo.set(policy, memo);
      }
      rendered.set(policy.key, memo.out);
      for (const c of memo.out.chains) chains.set(c.name, c);
      for (const s of memo.out.sets) sets.set(s.name, s);
    }
    for (const set of ir.sets.values()) {
      let memo = this.#setMemo.get(set);
      if (!memo || memo.families !== famKey) {
        memo = { families: famKey, out: renderAddressSet(set, families) };
        this.#setMemo.set(set, memo);
      }
      for (const s of memo.out) sets.set(s.name, s);
    }
    for (const direction of ['egress', 'ingress'] as const) {
      const out = this.#dispatch(ir, direction, families, chains);
      for (const c of out.classes) chains.set(c.name, c);
      for (const m of out.maps) sets.set(m.name, m);
    }
    return { table: this.table, chains, sets };
  }

  /**
   * The class chains and the dispatch maps of one direction. Unchanged isolation (same map
   * object), pods and policy chains give back the previous objects; otherwise every element
   * that did not change is the previous element object, so the diff compares by identity.
   */
  #dispatch(ir: PolicyIR, direction: Direction, families: readonly Family[], chains: ReadonlyMap<string, NftChain>): DispatchOut {
    const isolation = direction === 'ingress' ? ir.ingress : ir.egress;
    const prefix = direction === 'ingress' ? 'pi_' : 'po_';
    let chainSig = '';
    for (const name of chains.keys()) if (name.startsWith(prefix)) chainSig += `${name}\n`;
    const memo = this.#dispatchMemo[direction];
    if (memo && memo.isolation === isolation && memo.pods === ir.pods && memo.families === families.join(',') && memo.chainSig === chainSig) return memo.out;
    const byList = new Map<string, NftChain>();
    const classes: NftChain[] = [];
    const maps = new Map<Family, Map<string, NftElem>>(families.map((f) => [f, new Map()]));
    const prevMaps = new Map<string, ReadonlyMap<string, NftElem>>((memo?.out.maps ?? []).map((m) => [m.name, m.elements]));
    for (const [podKey, policyKeys] of isolation) {
      const listKey = policyKeys.join('\n');
      let chain = byList.get(listKey);
      if (!chain) {
        chain = this.#classChain(direction, policyKeys, chains);
        byList.set(listKey, chain);
        classes.push(chain);
      }
      for (const a of ir.pods.get(podKey)?.addresses ?? []) {
        const elements = maps.get(a.family);
        if (!elements) continue;
        const text = a.toString();
        const old = prevMaps.get(dispatchMap(direction, a.family))?.get(text) as [string, { goto: { target: string } }] | undefined;
        elements.set(text, old && old[1].goto.target === chain.name ? old : [text, { goto: { target: chain.name } }]);
      }
    }
    const out: DispatchOut = {
      classes,
      maps: families.map((f) => ({ name: dispatchMap(direction, f), verdictMap: true, type: ADDR_TYPE[f], interval: false, elements: maps.get(f)! })),
    };
    this.#dispatchMemo[direction] = { isolation, pods: ir.pods, families: families.join(','), chainSig, out };
    // Forget class chains that no pod uses any more, so the memo does not grow without bound.
    const live = new Set([...(this.#dispatchMemo.ingress?.out.classes ?? []), ...(this.#dispatchMemo.egress?.out.classes ?? [])]);
    for (const [key, chain] of this.#classMemo) if (!live.has(chain)) this.#classMemo.delete(key);
    return out;
  }

  #classChain(direction: Direction, policyKeys: readonly string[], chains: ReadonlyMap<string, NftChain>): NftChain {
    const name = classChainName(direction, policyKeys);
    // Policies with no rules in this direction have no chain: they only isolate.
    const targets = policyKeys.map((k) => policyChainName(direction, k)).filter((c) => chains.has(c));
    const memoKey = `${name}|${targets.join(',')}`;
    let chain = this.#classMemo.get(memoKey);
    if (!chain) {
      const verdict = this.#deny === 'reject' ? { reject: { type: 'icmpx', expr: 'admin-prohibited' } } : { drop: null };
      chain = {
        name,
        rules: [...targets.map((t) => ({ expr: [{ jump: { target: t } }] })), { expr: [verdict], comment: comment(`${direction} isolated by ${policyKeys.join(' ')}`) }],
      };
      this.#classMemo.set(memoKey, chain);
    }
    return chain;
  }

  #baseChains(families: readonly Family[]): NftChain[] {
    // Pods not programmed yet (core/workload.ts): dropped before anything else, even a
    // conntrack entry left by an earlier pod with the same address.
    const guard = (field: 'saddr' | 'daddr'): NftRule[] => ([4, 6] as const).map((f) => ({ expr: [inSet(addrField(f, field), GUARD_SETS[f]), { drop: null }], comment: 'not programmed yet' }));
    const head: NftRule[] = [
      { expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null }] },
      // IPv6 neighbour discovery between pods crosses this hook too (bridged); it is not a connection.
      {
        expr: [
          { match: { op: '==', left: { payload: { protocol: 'icmpv6', field: 'type' } }, right: { set: ['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert'] } } },
          { accept: null },
        ],
      },
    ];
    const dispatch = (direction: Direction): NftRule[] =>
      families.map((f) => ({ expr: [{ vmap: { key: addrField(f, direction === 'egress' ? 'saddr' : 'daddr'), data: `@${dispatchMap(direction, f)}` } }] }));
    return [
      { name: 'egress', base: { hook: 'forward', prio: EGRESS_PRIO }, rules: [...guard('saddr'), ...head, ...dispatch('egress')] },
      { name: 'ingress', base: { hook: 'forward', prio: INGRESS_PRIO }, rules: [...guard('daddr'), ...head, ...dispatch('ingress')] },
    ];
  }
}

/**
 * The guard sets: always present, always rendered empty. Their elements belong to the drivers
 * (added at ADD) and to the enforcer (removed once a pod is programmed), never to the diff.
 */
const GUARDS: readonly NftSet[] = ([4, 6] as const).map((f) =>
  Object.freeze({ name: GUARD_SETS[f], verdictMap: false, type: f === 4 ? 'ipv4_addr' : 'ipv6_addr', interval: false, elements: new Map<string, NftElem>() }),
);

/** The families that need rules: IPv4 always, IPv6 when some pod or ipBlock has it. */
function familiesOf(ir: PolicyIR): Family[] {
  let v6 = false;
  for (const p of ir.pods.values()) if (p.addresses.some((a) => a.family === 6)) v6 = true;
  for (const s of ir.sets.values()) if (s.kind === 'cidr' && s.family === 6) v6 = true;
  return v6 ? [4, 6] : [4];
}

function renderAddressSet(set: AddressSet, families: readonly Family[]): NftSet[] {
  if (set.kind === 'pods') {
    return families.map((f) => ({
      name: addressSetName(set, f),
      verdictMap: false,
      type: ADDR_TYPE[f],
      interval: false,
      elements: new Map((f === 4 ? set.v4 : set.v6).map((a) => [a, a])),
    }));
  }
  if (!families.includes(set.family)) return [];
  return [
    {
      name: addressSetName(set, set.family),
      verdictMap: false,
      type: ADDR_TYPE[set.family],
      interval: true,
      elements: new Map(set.ranges.map((r) => [formatRange(r), rangeElement(r)])),
    },
  ];
}

/** The families in which a peer set has a chain rule: both for pods, its own for an ipBlock. */
function setFamilies(set: AddressSet | undefined, families: readonly Family[]): Family[] {
  if (!set) return [];
  return set.kind === 'pods' ? [...families] : families.filter((f) => f === set.family);
}

function renderPolicy(ir: PolicyIR, policy: CompiledPolicy, families: readonly Family[]): RenderedPolicy {
  const chains: NftChain[] = [];
  const sets: NftSet[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    const rules = direction === 'ingress' ? policy.ingress : policy.egress;
    if (!rules || rules.length === 0) continue;
    const out: NftRule[] = [];
    for (const rule of rules) out.push(...renderRule(ir, policy, direction, rule, families, sets));
    chains.push({ name: policyChainName(direction, policy.key), rules: out });
  }
  return { chains, sets };
}

/**
 * One IR rule → chain rules: one per (peer set, family), each with the rule's numeric ports;
 * plus the named-port rules, which test (destination address . protocol . port) in a set.
 */
function renderRule(ir: PolicyIR, policy: CompiledPolicy, direction: Direction, rule: CompiledRule, families: readonly Family[], sets: NftSet[]): NftRule[] {
  const peerField = direction === 'ingress' ? 'saddr' : 'daddr';
  const where = `${policy.key} ${direction}[${rule.index}]`;
  const out: NftRule[] = [];
  // Peer matches: [family or undefined for "any family", expressions, label].
  const peers: [Family | undefined, NftExpr[], string][] = [];
  if (rule.peers === 'any') peers.push([undefined, [], '']);
  else {
    rule.peers.forEach((id, i) => {
      const set = ir.sets.get(id);
      for (const f of setFamilies(set, families)) peers.push([f, [inSet(addrField(f, peerField), addressSetName(set!, f))], ` ${direction === 'ingress' ? 'from' : 'to'}[${i}]`]);
    });
  }
  if (rule.ports === 'any') {
    for (const [, expr, label] of peers) out.push({ expr: [...expr, { accept: null }], comment: comment(where + label) });
  } else if (rule.ports.length) {
    const ports = portMatch(rule.ports, sets);
    for (const [, expr, label] of peers) out.push({ expr: [...expr, ...ports, { accept: null }], comment: comment(`${where}${label} ports`) });
  }
  if (rule.named.size === 0) return out;
  for (const f of families) {
    const elements = new Map<string, NftElem>();
    for (const [podKey, ranges] of rule.named) {
      for (const a of ir.pods.get(podKey)?.addresses ?? []) {
        if (a.family !== f) continue;
        for (const r of ranges) elements.set(`${a} ${r.protocol} ${r.first}`, { concat: [a.toString(), r.protocol, r.first] });
      }
    }
    // No destination resolves the names in this family: the rule would match nothing.
    if (elements.size === 0) continue;
    const name = `np_${stableHash([...elements.keys()].join(','), 12)}_${f}`;
    sets.push({ name, verdictMap: false, type: [ADDR_TYPE[f], 'inet_proto', 'inet_service'], interval: false, elements });
    const namedMatch = inSet({ concat: [addrField(f, 'daddr'), { meta: { key: 'l4proto' } }, { payload: { protocol: 'th', field: 'dport' } }] }, name);
    if (direction === 'egress') {
      // The set holds only destinations that the rule's peers match: no peer test needed.
      out.push({ expr: [namedMatch, { accept: null }], comment: comment(`${where} named ports`) });
    } else {
      for (const [pf, expr, label] of peers) {
        if (pf === undefined || pf === f) out.push({ expr: [...expr, namedMatch, { accept: null }], comment: comment(`${where}${label} named ports`) });
      }
    }
  }
  return out;
}
