/**
 * berth's answer to foreign forward drops, as libnftables JSON commands (pure).
 *
 * Two halves, so that what goes into someone else's chain is one rule that every tool of that
 * owner understands:
 * - berth's own table `inet berth-passage`: the set `devices` (berth's bridges, VXLAN devices
 *   and l2bridge host veths), the sets `routed4` and `routed6` (prefixes whose hosts reach
 *   berth's devices routed: other nodes' pods of an overlay in routed mode, the LAN of an
 *   l2bridge network) and, while some owner drops
 *   forwarded traffic, a base chain just before the filter priority that sets one mark bit on
 *   berth's traffic: replies, published ports (DNAT) and routed pods' traffic into berth's
 *   devices, and anything from them except into an owner's own protected networks (Docker's
 *   bridges). The bit is first cleared on every packet, so nothing that is not berth's arrives
 *   carrying it.
 * - in the owner's chain: `meta mark & BIT == BIT counter accept` with a `berth:` comment,
 *   which iptables-nft shows as `-m mark --mark 0x2000/0x2000 -m comment --comment ...
 *   -j ACCEPT` (stateful matches written by nftables would make iptables call the whole table
 *   incompatible, and Docker would then fail to start).
 */
import * as nft from '../../nft-commands.js';
import type { NftCommand, NftExpr, NftTableRef } from '../../nft-commands.js';
import type { PassagePlace } from './forward-blockers.js';
import { isBerthComment, nftPlacement } from './placement.js';

export const PASSAGE_TABLE = 'berth-passage';
/**
 * The packet mark bit berth sets on its own forwarded traffic. Chosen clear of the bits the
 * usual neighbours use: kube-proxy 0x4000/0x8000, Cilium 0x0f00, Calico 0xffff0000.
 */
export const PASSAGE_MARK = 0x2000;
/** Before the filter priority (0) of iptables, ufw and most rulesets, after mangle (-150). */
export const PASSAGE_PRIORITY = -10;
/** Every rule berth puts in a foreign chain carries a comment starting with this. */
export const FOREIGN_RULE_COMMENT = 'berth: accept traffic of berth devices (marked in table inet berth-passage)';

const T: NftTableRef = { family: 'inet', table: PASSAGE_TABLE };
const MARK = { meta: { key: 'mark' } };
const match = (op: string, left: unknown, right: unknown) => ({ match: { op, left, right } });
const setMark = { mangle: { key: MARK, value: { '|': [MARK, PASSAGE_MARK] } } };
const GUARD_COMMENT = 'the owner protects its own networks';
const ROUTED_COMMENT = "other nodes' pods, routed, into berth's networks";
const ROUTED6_COMMENT = "routed IPv6 prefixes into berth's networks";
const rule = (comment: string, ...expr: NftExpr[]) => nft.addRule(T, 'forward', { comment, expr });

/** Table and device set, without a base chain: safe to repeat; the set remembers berth's devices. */
export function passageSkeleton(): NftCommand[] {
  return [nft.addTable('inet', PASSAGE_TABLE), nft.addSet(T, 'devices', 'ifname'), nft.addSet(T, 'routed4', 'ipv4_addr', ['interval']), nft.addSet(T, 'routed6', 'ipv6_addr', ['interval'])];
}

/** The set of a routed prefix's family. */
const routedSet = (prefix: string) => (prefix.includes(':') ? 'routed6' : 'routed4');

export function addRouted(prefix: string): NftCommand[] {
  return [nft.addElements(T, routedSet(prefix), [prefixValue(prefix)])];
}

export function deleteRouted(prefix: string): NftCommand[] {
  return [nft.deleteElements(T, routedSet(prefix), [prefixValue(prefix)])];
}

function prefixValue(prefix: string) {
  const [addr, len] = prefix.split('/');
  return { prefix: { addr: addr!, len: Number(len) } };
}

export function addDevice(device: string): NftCommand[] {
  return [nft.addElements(T, 'devices', [device])];
}

export function deleteDevice(device: string): NftCommand[] {
  return [nft.deleteElements(T, 'devices', [device])];
}

/** The marking base chain, written whole (flush + rules). `protectedInterfaces` may hold `br-*` wildcards. */
export function markingChain(protectedInterfaces: readonly string[]): NftCommand[] {
  const oif = { meta: { key: 'oifname' } };
  const iif = { meta: { key: 'iifname' } };
  return [
    nft.addChain(T, 'forward', { type: 'filter', hook: 'forward', prio: PASSAGE_PRIORITY, policy: 'accept' }),
    nft.flushChain(T, 'forward'),
    rule("no packet arrives with berth's bit", match('==', { '&': [MARK, PASSAGE_MARK] }, PASSAGE_MARK), { mangle: { key: MARK, value: { '&': [MARK, ~PASSAGE_MARK >>> 0] } } }),
    rule("replies into berth's networks", match('==', oif, '@devices'), match('in', { ct: { key: 'state' } }, ['established', 'related']), setMark, { return: null }),
    rule('published ports', match('==', oif, '@devices'), match('in', { ct: { key: 'status' } }, 'dnat'), setMark, { return: null }),
    rule(ROUTED_COMMENT, match('==', oif, '@devices'), match('==', { payload: { protocol: 'ip', field: 'saddr' } }, '@routed4'), setMark, { return: null }),
    rule(ROUTED6_COMMENT, match('==', oif, '@devices'), match('==', { payload: { protocol: 'ip6', field: 'saddr' } }, '@routed6'), setMark, { return: null }),
    ...protectedInterfaces.map((name) => rule(GUARD_COMMENT, match('==', iif, '@devices'), match('==', oif, name), { return: null })),
    rule("from berth's networks", match('==', iif, '@devices'), setMark),
  ];
}

export function deleteMarkingChain(): NftCommand[] {
  return [nft.deleteChain(T, 'forward')];
}

export function deletePassageTable(): NftCommand[] {
  return [nft.deleteTable('inet', PASSAGE_TABLE)];
}

/** What `list table inet berth-passage` showed. */
export interface PassageState {
  readonly exists: boolean;
  readonly devices: readonly string[];
  /** Prefixes in `routed4` and `routed6`, as `a.b.c.d/len` and `x::/len`. */
  readonly routed: readonly string[];
  readonly marking: boolean;
  /** The marking chain has the rules for routed prefixes of both families (chains written before them do not). */
  readonly markingRouted: boolean;
  /** The protected interfaces the marking chain skips, as written. */
  readonly guarded: readonly string[];
}

export function parsePassageListing(items: readonly object[]): PassageState {
  let exists = false;
  let marking = false;
  let markingRouted4 = false;
  let markingRouted6 = false;
  const devices: string[] = [];
  const routed: string[] = [];
  const guarded: string[] = [];
  for (const item of items as Record<string, Record<string, unknown> | undefined>[]) {
    if (item.rule?.comment === GUARD_COMMENT && Array.isArray(item.rule.expr)) {
      for (const e of item.rule.expr as { match?: { left?: { meta?: { key?: string } }; right?: unknown } }[]) {
        if (e.match?.left?.meta?.key === 'oifname' && typeof e.match.right === 'string') guarded.push(e.match.right);
      }
    }
    if (item.table) exists = true;
    if (item.chain?.name === 'forward') marking = true;
    if (item.rule?.comment === ROUTED_COMMENT) markingRouted4 = true;
    if (item.rule?.comment === ROUTED6_COMMENT) markingRouted6 = true;
    if (item.set?.name === 'devices' && Array.isArray(item.set.elem)) for (const e of item.set.elem as unknown[]) if (typeof e === 'string') devices.push(e);
    if ((item.set?.name === 'routed4' || item.set?.name === 'routed6') && Array.isArray(item.set.elem)) {
      for (const e of item.set.elem as { prefix?: { addr: string; len: number } }[]) if (e.prefix) routed.push(`${e.prefix.addr}/${e.prefix.len}`);
    }
  }
  return { exists, devices: devices.sort(), routed: routed.sort(), marking, markingRouted: markingRouted4 && markingRouted6, guarded };
}

const placeTable = (place: PassagePlace): NftTableRef => ({ family: place.family, table: place.table });

/**
 * The accept rule in a foreign nftables chain, after the admin's rules there: before the
 * chain's trailing catch-all, or at its end (placement.ts). `chainListing` is the chain now.
 */
export function placeForeignRule(place: PassagePlace, chainListing: readonly object[]): [NftCommand] {
  const body = {
    comment: FOREIGN_RULE_COMMENT,
    expr: [match('==', { '&': [MARK, PASSAGE_MARK] }, PASSAGE_MARK), { counter: { packets: 0, bytes: 0 } }, { accept: null }],
  };
  const where = nftPlacement(chainListing);
  return [where === 'end' ? nft.addRule(placeTable(place), place.chain, body) : nft.insertRule(placeTable(place), place.chain, body, where.before)];
}

/** Handles of berth's rules in a foreign chain's listing (found by their `berth:` comment). */
export function foreignRuleHandles(chainListing: readonly object[]): number[] {
  const handles: number[] = [];
  for (const item of chainListing as { rule?: { handle?: number; comment?: string } }[]) {
    const r = item.rule;
    if (r && isBerthComment(r.comment) && typeof r.handle === 'number') handles.push(r.handle);
  }
  return handles;
}

export function deleteForeignRules(place: PassagePlace, handles: readonly number[]): NftCommand[] {
  return handles.map((handle) => nft.deleteRule(placeTable(place), place.chain, handle));
}

/** iptables arguments of the same rule, for iptables-legacy (after `-I CHAIN N`, `-A CHAIN`, `-C CHAIN` or `-D CHAIN`). */
export function legacyRuleSpec(): string[] {
  const hex = `0x${PASSAGE_MARK.toString(16)}`;
  return ['-m', 'mark', '--mark', `${hex}/${hex}`, '-m', 'comment', '--comment', FOREIGN_RULE_COMMENT, '-j', 'ACCEPT'];
}
