/**
 * WinNAT rendered to nftables, as libnftables JSON commands. Pure: state in, commands out.
 *
 * Layout: one berth-owned `ip berth-nat` table for all NAT instances. The rules never change
 * with instances or mappings; only set and map elements do, so an operation is a handful of
 * element commands and the per-packet cost is a few hash lookups, whatever the number of
 * mappings:
 *
 * - `pub-addr`/`pub-port` map `l4proto . dport` to the internal address and port of a
 *   mapping published on every host address; `pubx-*` key on `daddr . l4proto . dport` for
 *   mappings bound to one address. Two maps, address and port, because libnftables 1.0.6's
 *   JSON parser cannot declare a map whose data is a concatenation.
 * - prerouting DNATs packets for a local address arriving from outside; packets from an
 *   instance's own interface are DNATed only when the instance has `loopback` (hairpin).
 * - output DNATs the host's own connections (its addresses and 127.0.0.1) only for mappings
 *   in `loop`/`loopx`, the mappings of instances with `loopback`: Windows' default is that
 *   the host reaches a container by the container's address, not through a published port.
 * - postrouting masquerades the internal prefixes (`internal-nets`) towards anything else,
 *   and, on `loopback-ifs`, DNATed connections from 127.0.0.0/8 (which route_localnet lets
 *   out) and hairpinned ones from the internal network itself, so replies come back through
 *   the host.
 * - guard drops packets to 127.0.0.0/8 arriving on a `loopback-ifs` interface: route_localnet
 *   would otherwise let a container reach the host's loopback services.
 *
 * Order inside a batch matters (else ENOENT): chains, then sets and maps, then rules, then
 * elements.
 */
import type { IpPrefix } from '../core/ip.js';
import * as nft from '../dataplane/nft-commands.js';
import type { NftCommand, NftDataType, NftElem, NftExpr, NftKeyType, NftSetFlag, NftTableRef } from '../dataplane/nft-commands.js';
import type { NatState } from './model.js';

export const TABLE = 'berth-nat';
const T: NftTableRef = { family: 'ip', table: TABLE };

/** A set or map element: key (and data for maps) in libnftables JSON form. */
export type ElemValue = string | number | { readonly concat: readonly (string | number)[] } | { readonly prefix: { readonly addr: string; readonly len: number } };

export interface NatElement {
  readonly collection: string;
  readonly key: ElemValue;
  /** Present for map elements. */
  readonly data?: string | number;
}

/** Elements by identity (collection and key). */
export type ElementSet = ReadonlyMap<string, NatElement>;

const CHAINS = ['prerouting', 'from-internal', 'loopback-dnat', 'output', 'postrouting', 'guard'] as const;
const PORT_KEY: NftKeyType = ['inet_proto', 'inet_service'];
const ADDR_PORT_KEY: NftKeyType = ['ipv4_addr', 'inet_proto', 'inet_service'];

/** Sets, and maps (with `map`, their data type). */
const COLLECTIONS: readonly { readonly name: string; readonly type: NftKeyType; readonly map?: NftDataType; readonly flags?: readonly NftSetFlag[] }[] = [
  { name: 'internal-ifs', type: 'ifname' },
  { name: 'loopback-ifs', type: 'ifname' },
  { name: 'internal-nets', type: 'ipv4_addr', flags: ['interval'] },
  { name: 'loop', type: PORT_KEY },
  { name: 'loopx', type: ADDR_PORT_KEY },
  { name: 'pub-addr', type: PORT_KEY, map: 'ipv4_addr' },
  { name: 'pub-port', type: PORT_KEY, map: 'inet_service' },
  { name: 'pubx-addr', type: ADDR_PORT_KEY, map: 'ipv4_addr' },
  { name: 'pubx-port', type: ADDR_PORT_KEY, map: 'inet_service' },
];

// --- rules ---

const meta = (key: string) => ({ meta: { key } });
const ip = (field: string) => ({ payload: { protocol: 'ip', field } });
const match = (op: string, left: unknown, right: unknown) => ({ match: { op, left, right } });
const prefix = (addr: string, len: number) => ({ prefix: { addr, len } });
const notLocal = match('!=', { fib: { result: 'type', flags: ['daddr'] } }, 'local');
const PORT = { concat: [meta('l4proto'), { payload: { protocol: 'th', field: 'dport' } }] };
const ADDR_PORT = { concat: [ip('daddr'), meta('l4proto'), { payload: { protocol: 'th', field: 'dport' } }] };
const dnatVia = (key: NftExpr, maps: 'pub' | 'pubx') => ({
  dnat: { family: 'ip', addr: { map: { key, data: `@${maps}-addr` } }, port: { map: { key, data: `@${maps}-port` } } },
});
const DNAT_STATUS = match('in', { ct: { key: 'status' } }, 'dnat');

function rule(chain: (typeof CHAINS)[number], comment: string, ...expr: NftExpr[]): NftCommand {
  return nft.addRule(T, chain, { comment, expr });
}

function rules(): NftCommand[] {
  return [
    rule('prerouting', 'only packets for the host itself', notLocal, { return: null }),
    rule('prerouting', 'from behind a NAT', match('==', meta('iifname'), '@internal-ifs'), { goto: { target: 'from-internal' } }),
    rule('prerouting', 'mappings bound to one address', dnatVia(ADDR_PORT, 'pubx')),
    rule('prerouting', 'mappings on every address', dnatVia(PORT, 'pub')),
    rule('from-internal', 'hairpin only with loopback', match('!=', meta('iifname'), '@loopback-ifs'), { return: null }),
    rule('from-internal', 'hairpin', { goto: { target: 'loopback-dnat' } }),
    rule('loopback-dnat', 'loopback mappings bound to one address', match('==', ADDR_PORT, '@loopx'), dnatVia(ADDR_PORT, 'pubx')),
    rule('loopback-dnat', 'loopback mappings on every address', match('==', PORT, '@loop'), dnatVia(PORT, 'pub')),
    rule('output', 'only connections to the host itself', notLocal, { return: null }),
    rule('output', 'the host through published ports', { goto: { target: 'loopback-dnat' } }),
    rule('postrouting', 'outbound NAT', match('==', ip('saddr'), '@internal-nets'), match('!=', ip('daddr'), '@internal-nets'), match('!=', ip('daddr'), prefix('224.0.0.0', 4)), { masquerade: null }),
    rule('postrouting', 'localhost to a published port', match('==', meta('oifname'), '@loopback-ifs'), DNAT_STATUS, match('==', ip('saddr'), prefix('127.0.0.0', 8)), { masquerade: null }),
    rule('postrouting', 'hairpin', match('==', meta('oifname'), '@loopback-ifs'), DNAT_STATUS, match('==', ip('saddr'), '@internal-nets'), { masquerade: null }),
    rule('guard', 'route_localnet must not open the host loopback', match('==', meta('iifname'), '@loopback-ifs'), match('==', ip('daddr'), prefix('127.0.0.0', 8)), { drop: null }),
  ];
}

/** Table, chains, sets and maps, and the rules (chains flushed first, so it can be repeated). */
export function skeleton(): NftCommand[] {
  const base = (name: string, type: 'nat' | 'filter', hook: 'prerouting' | 'output' | 'postrouting', prio: number) => nft.addChain(T, name, { type, hook, prio, policy: 'accept' });
  return [
    nft.addTable('ip', TABLE),
    base('prerouting', 'nat', 'prerouting', -100),
    base('output', 'nat', 'output', -100),
    base('postrouting', 'nat', 'postrouting', 100),
    base('guard', 'filter', 'prerouting', -300),
    nft.addChain(T, 'from-internal'),
    nft.addChain(T, 'loopback-dnat'),
    ...COLLECTIONS.map((c) => (c.map ? nft.addMap(T, c.name, c.type, c.map, c.flags) : nft.addSet(T, c.name, c.type, c.flags))),
    ...CHAINS.map((name) => nft.flushChain(T, name)),
    ...rules(),
  ];
}

/** One transaction that makes the table exactly `state`, whatever is there now. */
export function replaceTable(state: NatState): NftCommand[] {
  if (state.instances.length === 0) return [nft.addTable('ip', TABLE), deleteTable()];
  // Adding first makes the delete safe when the table is absent; all in one batch.
  return [nft.addTable('ip', TABLE), deleteTable(), ...skeleton(), ...elementCommands('add', [...elementsOf(state).values()])];
}

/** Deletes the table (and with it every rule, set and map). Fails when it is absent. */
export function deleteTable(): NftCommand {
  return nft.deleteTable('ip', TABLE);
}

// --- elements ---

function id(e: { collection: string; key: ElemValue }): string {
  return `${e.collection} ${JSON.stringify(e.key)}`;
}

function prefixValue(p: IpPrefix): ElemValue {
  // The kernel lists a /32 of an interval set as a plain address; match that.
  return p.length === 32 ? p.network.toString() : prefix(p.network.toString(), p.length);
}

/** Every element the state means, by identity. */
export function elementsOf(state: NatState): ElementSet {
  const out = new Map<string, NatElement>();
  const put = (e: NatElement) => out.set(id(e), e);
  const loopback = new Set<string>();
  for (const i of state.instances) {
    put({ collection: 'internal-ifs', key: i.internalInterface });
    put({ collection: 'internal-nets', key: prefixValue(i.internalPrefix) });
    if (i.loopback) {
      put({ collection: 'loopback-ifs', key: i.internalInterface });
      loopback.add(i.name);
    }
  }
  for (const m of state.mappings) {
    const loop = loopback.has(m.nat);
    for (let p = m.externalPort; p <= m.externalPortEnd; p++) {
      const internalPort = m.internalPort + (p - m.externalPort);
      const key: ElemValue = m.externalAddress ? { concat: [m.externalAddress.toString(), m.protocol, p] } : { concat: [m.protocol, p] };
      const maps = m.externalAddress ? 'pubx' : 'pub';
      put({ collection: `${maps}-addr`, key, data: m.internalAddress.toString() });
      put({ collection: `${maps}-port`, key, data: internalPort });
      if (loop) put({ collection: m.externalAddress ? 'loopx' : 'loop', key });
    }
  }
  return out;
}

/** The commands that turn the elements `from` into `to`: deletions first, then additions. */
export function diffElements(from: ElementSet, to: ElementSet): NftCommand[] {
  const gone: NatElement[] = [];
  const added: NatElement[] = [];
  for (const [k, e] of from) {
    const next = to.get(k);
    if (!next || next.data !== e.data) gone.push(e);
  }
  for (const [k, e] of to) {
    const prev = from.get(k);
    if (!prev || prev.data !== e.data) added.push(e);
  }
  return [...elementCommands('delete', gone), ...elementCommands('add', added)];
}

/** One command per collection; deleting a map element names only its key. */
function elementCommands(verb: 'add' | 'delete', elements: readonly NatElement[]): NftCommand[] {
  const by = new Map<string, NatElement[]>();
  for (const e of elements) {
    const list = by.get(e.collection) ?? [];
    list.push(e);
    by.set(e.collection, list);
  }
  return [...by].map(([name, list]) =>
    verb === 'add'
      ? nft.addElements(
          T,
          name,
          list.map((e): NftElem => (e.data !== undefined ? [e.key, e.data] : e.key)),
        )
      : nft.deleteElements(
          T,
          name,
          list.map((e) => e.key),
        ),
  );
}

// --- reading the kernel back ---

/** What a `list table ip berth-nat` showed. */
export interface TableListing {
  readonly exists: boolean;
  readonly chains: ReadonlySet<string>;
  readonly elements: ElementSet;
}

/** Reads `nft -j list table ip berth-nat` output; an empty listing means no table. */
export function parseListing(items: readonly object[]): TableListing {
  const chains = new Set<string>();
  const elements = new Map<string, NatElement>();
  let exists = false;
  for (const item of items as Record<string, Record<string, unknown> | undefined>[]) {
    if (item.table?.name === TABLE) exists = true;
    if (item.chain && typeof item.chain.name === 'string') chains.add(item.chain.name);
    const c = item.set ?? item.map;
    if (!c || typeof c.name !== 'string' || !Array.isArray(c.elem)) continue;
    for (const raw of c.elem as unknown[]) {
      const e: NatElement = item.map && Array.isArray(raw) ? { collection: c.name, key: raw[0] as ElemValue, data: raw[1] as string | number } : { collection: c.name, key: raw as ElemValue };
      elements.set(id(e), e);
    }
  }
  return { exists, chains, elements };
}

/** Elements of `want` that `have` lacks or holds with other data, for CHECK messages. */
export function missingElements(want: ElementSet, have: ElementSet): NatElement[] {
  return [...want].filter(([k, e]) => have.get(k)?.data !== e.data || !have.has(k)).map(([, e]) => e);
}

/** The table's chains that the listing lacks. */
export function chainsMissing(listing: TableListing): string[] {
  return CHAINS.filter((c) => !listing.chains.has(c));
}

/** `pub-port tcp . 8080 : 80`, for messages. */
export function formatElement(e: NatElement): string {
  const show = (v: ElemValue | string | number): string => (typeof v === 'object' ? ('concat' in v ? v.concat.join(' . ') : `${v.prefix.addr}/${v.prefix.len}`) : String(v));
  return `${e.collection} ${show(e.key)}${e.data !== undefined ? ` : ${show(e.data)}` : ''}`;
}
