/**
 * The nftables rules a bridge network means, as libnftables JSON commands.
 *
 * Layout: one berth-owned `inet berth` table. Base chains only dispatch, through verdict maps
 * keyed by input bridge (isolation) and by source prefix (masquerade), to per-network chains.
 * So the per-packet cost is one map lookup whatever the number of networks, and adding or
 * removing a network is a handful of element and chain commands in one transaction, with no
 * rule handles to look up. Bridged frames reach the inet forward hook through br_netfilter.
 *
 * Order inside a batch matters (else ENOENT): chains before the maps whose elements jump to
 * them, sets and maps before the rules that name them, so a batch is built as: table and
 * chains, then sets and maps, then rules, then elements.
 */
import type { IpPrefix } from '../../core/ip.js';
import * as nft from '../../dataplane/nft-commands.js';
import type { NftCommand, NftExpr, NftTableRef, NftValue } from '../../dataplane/nft-commands.js';

export const TABLE = 'berth';
const INET: NftTableRef = { family: 'inet', table: TABLE };
const BRIDGE_FAMILY: NftTableRef = { family: 'bridge', table: TABLE };

const fwdChain = (bridge: string) => `fwd-${bridge}`;
const masqChain = (bridge: string) => `masq-${bridge}`;
const inChain = (bridge: string) => `in-${bridge}`;
const portChain = (port: string) => `port-${port}`;

function prefixExpr(p: IpPrefix): NftExpr {
  return { prefix: { addr: p.network.toString(), len: p.length } };
}

function daddr(family: 4 | 6): NftExpr {
  return { payload: { protocol: family === 4 ? 'ip' : 'ip6', field: 'daddr' } };
}

const jump = (target: string) => ({ jump: { target } });

/** Table, maps and dispatching base chains; safe to repeat (base chains are rewritten whole). */
function tableSkeleton(): NftCommand[] {
  return [
    nft.addTable('inet', TABLE),
    nft.addChain(INET, 'forward', { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' }),
    nft.addChain(INET, 'postrouting', { type: 'nat', hook: 'postrouting', prio: 100, policy: 'accept' }),
  ];
}

function tableMaps(): NftCommand[] {
  return [
    nft.addSet(INET, 'bridges', 'ifname'),
    nft.addMap(INET, 'isolation', 'ifname', 'verdict'),
    nft.addMap(INET, 'inbound', 'ifname', 'verdict'),
    nft.addMap(INET, 'masq4', 'ipv4_addr', 'verdict', ['interval']),
    nft.addMap(INET, 'masq6', 'ipv6_addr', 'verdict', ['interval']),
  ];
}

function baseRules(): NftCommand[] {
  return [
    nft.flushChain(INET, 'forward'),
    nft.addRule(INET, 'forward', { expr: [{ vmap: { key: { meta: { key: 'iifname' } }, data: '@isolation' } }] }),
    nft.addRule(INET, 'forward', { expr: [{ vmap: { key: { meta: { key: 'oifname' } }, data: '@inbound' } }] }),
    nft.flushChain(INET, 'postrouting'),
    nft.addRule(INET, 'postrouting', { expr: [{ vmap: { key: { payload: { protocol: 'ip', field: 'saddr' } }, data: '@masq4' } }] }),
    nft.addRule(INET, 'postrouting', { expr: [{ vmap: { key: { payload: { protocol: 'ip6', field: 'saddr' } }, data: '@masq6' } }] }),
  ];
}

export interface NetworkRules {
  readonly bridge: string;
  readonly subnets: readonly IpPrefix[];
  readonly ipMasq: boolean;
  /** Destinations not masqueraded besides each subnet itself. */
  readonly masqExempt?: readonly IpPrefix[];
  readonly isolate: boolean;
  /**
   * 'published': from anything outside the network, new connections reach its endpoints only
   * through published ports (DNAT), as on Docker's bridge networks; 'any': routed traffic is
   * let in as well (pods addressable from other hosts).
   */
  readonly inbound: 'any' | 'published';
}

/** One transaction that creates or refreshes the rules of one network. */
export function ensureNetworkRules(n: NetworkRules): NftCommand[] {
  const chains: NftCommand[] = [];
  const rules: NftCommand[] = [];
  const elements: NftCommand[] = [];
  // Every berth bridge is a member, so other networks' isolation chains see this one.
  elements.push(nft.addElements(INET, 'bridges', [n.bridge]));
  if (n.isolate) {
    chains.push(nft.addChain(INET, fwdChain(n.bridge)), nft.flushChain(INET, fwdChain(n.bridge)));
    rules.push(
      nft.addRule(INET, fwdChain(n.bridge), {
        comment: 'isolate from other berth networks',
        expr: [{ match: { op: '!=', left: { meta: { key: 'oifname' } }, right: n.bridge } }, { match: { op: '==', left: { meta: { key: 'oifname' } }, right: '@bridges' } }, { drop: null }],
      }),
    );
    elements.push(nft.addElements(INET, 'isolation', [[n.bridge, jump(fwdChain(n.bridge))]]));
  }
  if (n.inbound === 'published') {
    const chain = inChain(n.bridge);
    const pass = (comment: string, ...expr: NftExpr[]) => nft.addRule(INET, chain, { comment, expr: [...expr, { return: null }] });
    chains.push(nft.addChain(INET, chain), nft.flushChain(INET, chain));
    rules.push(
      pass('replies', { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }),
      pass('published ports', { match: { op: 'in', left: { ct: { key: 'status' } }, right: 'dnat' } }),
      pass('within the network', { match: { op: '==', left: { meta: { key: 'iifname' } }, right: n.bridge } }),
      nft.addRule(INET, chain, { comment: 'nothing else from outside the network', expr: [{ drop: null }] }),
    );
    elements.push(nft.addElements(INET, 'inbound', [[n.bridge, jump(chain)]]));
  }
  if (n.ipMasq && n.subnets.length) {
    chains.push(nft.addChain(INET, masqChain(n.bridge)), nft.flushChain(INET, masqChain(n.bridge)));
    for (const s of n.subnets) {
      const multicast = s.family === 4 ? { prefix: { addr: '224.0.0.0', len: 4 } } : { prefix: { addr: 'ff00::', len: 8 } };
      rules.push(
        nft.addRule(INET, masqChain(n.bridge), {
          comment: `masquerade ${s} leaving it`,
          expr: [
            { match: { op: '==', left: { meta: { key: 'nfproto' } }, right: s.family === 4 ? 'ipv4' : 'ipv6' } },
            { match: { op: '!=', left: daddr(s.family), right: prefixExpr(s) } },
            { match: { op: '!=', left: daddr(s.family), right: multicast } },
            ...(n.masqExempt ?? []).filter((x) => x.family === s.family).map((x) => ({ match: { op: '!=', left: daddr(s.family), right: prefixExpr(x) } })),
            { masquerade: null },
          ],
        }),
      );
      elements.push(nft.addElements(INET, s.family === 4 ? 'masq4' : 'masq6', [[prefixExpr(s), jump(masqChain(n.bridge))]]));
    }
  }
  return [...tableSkeleton(), ...chains, ...tableMaps(), ...baseRules(), ...rules, ...elements];
}

/**
 * Removes one network's rules, given what a listing of the table showed to exist
 * (libnftables 1.0.6 has no `destroy`, and deleting something absent fails the batch).
 * Map elements are found by the chain they jump to, so no subnet needs to be known.
 */
export function teardownNetworkRules(bridge: string, present: TableContents): NftCommand[] {
  const mine = new Set([fwdChain(bridge), masqChain(bridge), inChain(bridge)]);
  const cmds: NftCommand[] = [];
  for (const map of ['isolation', 'inbound', 'masq4', 'masq6'] as const) {
    for (const [key, target] of present[map]) {
      if (mine.has(target)) cmds.push(nft.deleteElements(INET, map, [keyExpr(key)]));
    }
  }
  if (present.bridges.has(bridge)) cmds.push(nft.deleteElements(INET, 'bridges', [bridge]));
  for (const c of mine) {
    if (present.chains.has(c)) cmds.push(nft.deleteChain(INET, c));
  }
  return cmds;
}

function keyExpr(key: string): NftValue {
  const slash = key.indexOf('/');
  if (slash < 0) return key;
  return { prefix: { addr: key.slice(0, slash), len: Number(key.slice(slash + 1)) } };
}

/** What a `list table inet berth` showed: chains, the bridges set, and each map's key → jump target. */
export interface TableContents {
  readonly exists: boolean;
  readonly chains: ReadonlySet<string>;
  readonly bridges: ReadonlySet<string>;
  readonly isolation: ReadonlyMap<string, string>;
  readonly inbound: ReadonlyMap<string, string>;
  readonly masq4: ReadonlyMap<string, string>;
  readonly masq6: ReadonlyMap<string, string>;
}

/** Reads the JSON listing of the table into TableContents. */
export function parseTableListing(items: readonly object[]): TableContents {
  const chains = new Set<string>();
  const bridges = new Set<string>();
  const maps: Record<string, Map<string, string>> = { isolation: new Map(), inbound: new Map(), masq4: new Map(), masq6: new Map() };
  let exists = false;
  for (const item of items as Record<string, Record<string, unknown>>[]) {
    if (item.table) exists = true;
    if (item.chain && typeof item.chain.name === 'string') chains.add(item.chain.name);
    if (item.set?.name === 'bridges' && Array.isArray(item.set.elem)) for (const e of item.set.elem as unknown[]) bridges.add(elementKey(e));
    const m = item.map;
    if (m && typeof m.name === 'string' && maps[m.name] && Array.isArray(m.elem)) {
      for (const e of m.elem as unknown[]) {
        if (!Array.isArray(e)) continue;
        const target = (e[1] as { jump?: { target?: string } } | undefined)?.jump?.target ?? '';
        maps[m.name]!.set(elementKey(e[0]), target);
      }
    }
  }
  return { exists, chains, bridges, isolation: maps.isolation!, inbound: maps.inbound!, masq4: maps.masq4!, masq6: maps.masq6! };
}

function elementKey(k: unknown): string {
  if (typeof k === 'string') return k;
  const p = (k as { prefix?: { addr: string; len: number } }).prefix;
  if (p) return `${p.addr}/${p.len}`;
  return JSON.stringify(k);
}

/** The per-network chains that remain in the table (to know whether it can go). */
export function networkChainCount(t: TableContents): number {
  return [...t.chains].filter((c) => c.startsWith('fwd-') || c.startsWith('masq-') || c.startsWith('in-')).length + t.bridges.size;
}

export function deleteInetTable(): NftCommand[] {
  return [nft.deleteTable('inet', TABLE)];
}

// --- MAC/IP spoof check, in the bridge family (frames, before any routing decision) ---

export interface SpoofCheck {
  readonly port: string;
  readonly mac: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/** Per-port chain: frames from the pod must carry its MAC, and packets its addresses. */
export function ensureSpoofCheck(s: SpoofCheck): NftCommand[] {
  const chain = portChain(s.port);
  const rule = (expr: NftExpr[], comment: string) => nft.addRule(BRIDGE_FAMILY, chain, { comment, expr: [...expr, { drop: null }] });
  const proto = (p: string) => ({ match: { op: '==', left: { meta: { key: 'protocol' } }, right: p } });
  const cmds: NftCommand[] = [
    nft.addTable('bridge', TABLE),
    nft.addChain(BRIDGE_FAMILY, 'prerouting', { type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' }),
    nft.addChain(BRIDGE_FAMILY, chain),
    nft.flushChain(BRIDGE_FAMILY, chain),
    rule([{ match: { op: '!=', left: { payload: { protocol: 'ether', field: 'saddr' } }, right: s.mac } }], "source MAC is not the pod's"),
  ];
  if (s.ipv4.length) {
    const set = { set: [...s.ipv4] };
    cmds.push(rule([proto('ip'), { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: set } }], "source IPv4 is not the pod's"));
    cmds.push(rule([proto('arp'), { match: { op: '!=', left: { payload: { protocol: 'arp', field: 'saddr ip' } }, right: set } }], "ARP sender is not the pod's"));
    cmds.push(rule([proto('arp'), { match: { op: '!=', left: { payload: { protocol: 'arp', field: 'saddr ether' } }, right: s.mac } }], "ARP sender MAC is not the pod's"));
  }
  if (s.ipv6.length) {
    // Link-local and the unspecified address are needed for neighbour discovery and DAD.
    const set = { set: [...s.ipv6, { prefix: { addr: 'fe80::', len: 10 } }, '::'] };
    cmds.push(rule([proto('ip6'), { match: { op: '!=', left: { payload: { protocol: 'ip6', field: 'saddr' } }, right: set } }], "source IPv6 is not the pod's"));
  }
  cmds.push(
    nft.addMap(BRIDGE_FAMILY, 'ports', 'ifname', 'verdict'),
    nft.flushChain(BRIDGE_FAMILY, 'prerouting'),
    nft.addRule(BRIDGE_FAMILY, 'prerouting', { expr: [{ vmap: { key: { meta: { key: 'iifname' } }, data: '@ports' } }] }),
    nft.addElements(BRIDGE_FAMILY, 'ports', [[s.port, jump(chain)]]),
  );
  return cmds;
}

export function spoofCheckPresent(items: readonly object[], port: string): { chain: boolean; element: boolean } {
  let chain = false;
  let element = false;
  for (const item of items as Record<string, Record<string, unknown>>[]) {
    if (item.chain?.name === portChain(port)) chain = true;
    const m = item.map;
    if (m?.name === 'ports' && Array.isArray(m.elem)) element = (m.elem as unknown[]).some((e) => Array.isArray(e) && e[0] === port);
  }
  return { chain, element };
}

export function teardownSpoofCheck(port: string, present: { chain: boolean; element: boolean }): NftCommand[] {
  const cmds: NftCommand[] = [];
  if (present.element) cmds.push(nft.deleteElements(BRIDGE_FAMILY, 'ports', [port]));
  if (present.chain) cmds.push(nft.deleteChain(BRIDGE_FAMILY, portChain(port)));
  return cmds;
}

/** The bridge-family table can go when no port chain is left. */
export function bridgeTableEmpty(items: readonly object[]): boolean {
  return !(items as Record<string, Record<string, unknown>>[]).some((i) => typeof i.chain?.name === 'string' && (i.chain.name as string).startsWith('port-'));
}
