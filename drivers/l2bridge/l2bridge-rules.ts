/**
 * The l2bridge driver's outbound NAT (`outboundNat`), as libnftables JSON commands (pure). One
 * table per network, so that the network's rules come and go in one command:
 *
 *   table inet berth-l2b-<hash of the network>
 *     set src4 / src6: the network's containers on this host (one element per address)
 *     chain postrouting (nat, srcnat priority):
 *       ip saddr @src4 ip daddr != { <the uplink's IPv4 prefixes> } masquerade
 *       ip6 saddr @src6 ip6 daddr != { <the uplink's IPv6 prefixes> } masquerade
 *
 * Within the uplink's prefixes the containers keep their own addresses (they are hosts of the
 * LAN); beyond them their traffic leaves with the host's.
 */
import type { IpAddress, IpPrefix } from '../../core/ip.js';
import { stableHash } from '../../core/stable-hash.js';
import * as nft from '../../dataplane/nft-commands.js';
import type { NftCommand, NftExpr, NftTableRef } from '../../dataplane/nft-commands.js';

/** SNAT priority (`srcnat`). */
const SRCNAT = 100;

export function natTable(network: string): NftTableRef {
  return { family: 'inet', table: `berth-l2b-${stableHash(network, 10)}` };
}

const setOf = (family: 4 | 6) => (family === 4 ? 'src4' : 'src6');
const proto = (family: 4 | 6) => (family === 4 ? 'ip' : 'ip6');

function masquerade(family: 4 | 6, local: readonly IpPrefix[], network: string): NftCommand {
  const expr: NftExpr[] = [{ match: { op: '==', left: { payload: { protocol: proto(family), field: 'saddr' } }, right: `@${setOf(family)}` } }];
  const mine = local.filter((p) => p.family === family);
  if (mine.length) {
    const set = mine.map((p) => ({ prefix: { addr: p.network.toString(), len: p.length } }));
    expr.push({ match: { op: '!=', left: { payload: { protocol: proto(family), field: 'daddr' } }, right: { set } } });
  }
  expr.push({ masquerade: null });
  return nft.addRule(natTable(network), 'postrouting', { comment: `berth-l2bridge ${network}: outbound NAT beyond the uplink's prefixes`, expr });
}

/**
 * The network's table, sets and rules, the rules written whole (the uplink's prefixes may have
 * changed); the sets keep their elements. Safe to repeat.
 */
export function ensureNatRules(network: string, local: readonly IpPrefix[]): NftCommand[] {
  const t = natTable(network);
  return [
    nft.addTable(t.family, t.table),
    nft.addSet(t, 'src4', 'ipv4_addr'),
    nft.addSet(t, 'src6', 'ipv6_addr'),
    nft.addChain(t, 'postrouting', { type: 'nat', hook: 'postrouting', prio: SRCNAT, policy: 'accept' }),
    nft.flushChain(t, 'postrouting'),
    masquerade(4, local, network),
    masquerade(6, local, network),
  ];
}

/** The containers' addresses into the source sets (adding one already there is no error). */
export function addSources(network: string, addresses: readonly IpAddress[]): NftCommand[] {
  const t = natTable(network);
  return ([4, 6] as const).flatMap((f) => {
    const elem = addresses.filter((a) => a.family === f).map(String);
    return elem.length ? [nft.addElements(t, setOf(f), elem)] : [];
  });
}

/** Out of the source sets; each is added first, so that one already gone is no error. */
export function deleteSources(network: string, addresses: readonly IpAddress[]): NftCommand[] {
  const t = natTable(network);
  return ([4, 6] as const).flatMap((f) => {
    const elem = addresses.filter((a) => a.family === f).map(String);
    return elem.length ? [nft.addElements(t, setOf(f), elem), nft.deleteElements(t, setOf(f), elem)] : [];
  });
}

/** Removes the network's table; one that is absent is added first, so that this never fails for it. */
export function deleteNatTable(network: string): NftCommand[] {
  const t = natTable(network);
  return [nft.addTable(t.family, t.table), nft.deleteTable(t.family, t.table)];
}

/** The addresses in the source sets of a `list table` output. */
export function sourcesIn(listing: readonly object[]): string[] {
  const out: string[] = [];
  for (const item of listing as { set?: { name?: string; elem?: unknown[] } }[]) {
    if ((item.set?.name === 'src4' || item.set?.name === 'src6') && Array.isArray(item.set.elem)) for (const e of item.set.elem) if (typeof e === 'string') out.push(e);
  }
  return out;
}
