/**
 * Routes as rtnetlink messages (`ip route add/replace/del/show`). Pure functions.
 */
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { IpFamily } from '../../../core/ip.js';
import { InvalidConfigError } from '../../../core/errors.js';
import type { Operation } from '../kernel-error.js';
import type { RouteInfo, RouteSpec } from '../ports.js';
import { afOf, attrBytes, attrNested, attrU32, decodeRtmsg, encodeRtmsg, ipFamilyOf, parseAttrs, RTMSG_LEN } from './codec.js';
import type { Attr, NlMessage } from './codec.js';
import {
  AF_UNSPEC,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_METRICS,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTAX_ADVMSS,
  RTAX_MTU,
  RTM_DELROUTE,
  RTM_F_CLONED,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTN_UNICAST,
  RTNH_F_ONLINK,
  RTPROT_BOOT,
} from './constants.js';
import type { Request } from './socket.js';

export type RouteVerb = 'add' | 'replace' | 'del';

/** rtm_table holds 8 bits; larger table ids travel only in RTA_TABLE. */
function headerTable(table: number): number {
  return table < 256 ? table : RT_TABLE_UNSPEC;
}

function checkFamilies(route: RouteSpec): void {
  for (const [field, a] of [
    ['gw', route.gw],
    ['src', route.src],
  ] as const) {
    if (a && a.family !== route.dst.family) {
      throw new InvalidConfigError(`Cannot use ${field} ${a} for route ${route.dst}: the address families differ`, { field, value: String(a) });
    }
  }
}

/**
 * `ip route add|replace|del ...`. For additions the defaults are those of `ip route add`:
 * protocol boot, type unicast, and scope link for an IPv4 route without a gateway (a
 * universe-scope device route could not serve as the path to another route's gateway).
 * A deletion matches only what is given: unspecified scope is RT_SCOPE_NOWHERE, protocol
 * and metric 0, which the kernel reads as "any".
 */
export function routeRequest(verb: RouteVerb, route: RouteSpec): Request {
  checkFamilies(route);
  const family = route.dst.family;
  const table = route.table ?? RT_TABLE_MAIN;
  const adding = verb !== 'del';
  const defaultScope = route.gw === undefined && family === 4 ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
  const attrs: Attr[] = [];
  if (route.dst.length > 0) attrs.push(attrBytes(RTA_DST, route.dst.network.toBytes()));
  if (route.gw) attrs.push(attrBytes(RTA_GATEWAY, route.gw.toBytes()));
  if (route.oif !== undefined) attrs.push(attrU32(RTA_OIF, route.oif));
  if (route.src) attrs.push(attrBytes(RTA_PREFSRC, route.src.toBytes()));
  if (route.priority !== undefined) attrs.push(attrU32(RTA_PRIORITY, route.priority));
  attrs.push(attrU32(RTA_TABLE, table));
  if (adding) {
    const metrics: Attr[] = [];
    if (route.mtu !== undefined) metrics.push(attrU32(RTAX_MTU, route.mtu));
    if (route.advmss !== undefined) metrics.push(attrU32(RTAX_ADVMSS, route.advmss));
    if (metrics.length > 0) attrs.push(attrNested(RTA_METRICS, metrics));
  }
  return {
    type: adding ? RTM_NEWROUTE : RTM_DELROUTE,
    flags: verb === 'add' ? NLM_F_CREATE | NLM_F_EXCL : verb === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0,
    header: encodeRtmsg({
      family: afOf(family),
      dstLen: route.dst.length,
      table: headerTable(table),
      protocol: adding ? (route.protocol ?? RTPROT_BOOT) : (route.protocol ?? 0),
      scope: adding ? (route.scope ?? defaultScope) : (route.scope ?? RT_SCOPE_NOWHERE),
      type: adding ? RTN_UNICAST : 0,
      ...(adding && route.onlink ? { flags: RTNH_F_ONLINK } : {}),
    }),
    attrs,
  };
}

export function describeRoute(verb: RouteVerb, route: RouteSpec, nameOf: (index: number) => string): Operation {
  const words = [`ip${route.dst.family === 6 ? ' -6' : ''} route ${verb} ${route.dst}`];
  if (route.gw) words.push(`via ${route.gw}`);
  if (route.oif !== undefined) words.push(`dev ${nameOf(route.oif)}`);
  if (route.src) words.push(`src ${route.src}`);
  if (route.priority !== undefined) words.push(`metric ${route.priority}`);
  if (route.table !== undefined) words.push(`table ${route.table}`);
  if (route.scope !== undefined) words.push(`scope ${route.scope}`);
  if (route.protocol !== undefined) words.push(`proto ${route.protocol}`);
  if (route.mtu !== undefined) words.push(`mtu ${route.mtu}`);
  if (route.advmss !== undefined) words.push(`advmss ${route.advmss}`);
  if (route.onlink) words.push('onlink');
  const action = verb === 'del' ? 'delete' : verb;
  return { action: `${action} route ${route.dst}`, command: words.join(' '), removes: verb === 'del' };
}

/** Route dump filters; `table` 0 means every table, absent means main. */
export interface RouteFilter {
  readonly family?: IpFamily;
  readonly table?: number;
  readonly oif?: number;
}

/** `ip route show [table T] [dev D]`: a dump the kernel filters by table and oif. */
export function listRoutesRequest(filter: RouteFilter = {}): Request {
  const table = filter.table ?? RT_TABLE_MAIN;
  const attrs: Attr[] = [];
  if (table !== 0) attrs.push(attrU32(RTA_TABLE, table));
  if (filter.oif !== undefined) attrs.push(attrU32(RTA_OIF, filter.oif));
  return {
    type: RTM_GETROUTE,
    header: encodeRtmsg({ family: filter.family ? afOf(filter.family) : AF_UNSPEC, table: headerTable(table) }),
    attrs,
  };
}

/** The userspace side of a route filter, for kernels that do not filter dumps. */
export function routeMatches(route: RouteInfo, filter: RouteFilter): boolean {
  const table = filter.table ?? RT_TABLE_MAIN;
  return (filter.family === undefined || route.family === filter.family) && (table === 0 || route.table === table) && (filter.oif === undefined || route.oif === filter.oif);
}

/** Decodes an RTM_NEWROUTE reply; multicast (IPMR) and cached (cloned) routes are skipped. */
export function decodeRoute(msg: NlMessage): RouteInfo | undefined {
  if (msg.type !== RTM_NEWROUTE) return undefined;
  const hdr = decodeRtmsg(msg.payload);
  const family = ipFamilyOf(hdr.family);
  if (family === undefined || hdr.flags & RTM_F_CLONED) return undefined;
  const attrs = parseAttrs(msg.payload, RTMSG_LEN);
  const dst = attrs.get(RTA_DST);
  const address = (type: number) => {
    const raw = attrs.get(type);
    return raw && (raw.length === 4 || raw.length === 16) ? IpAddress.fromBytes(raw) : undefined;
  };
  const gw = address(RTA_GATEWAY);
  const src = address(RTA_PREFSRC);
  const oif = attrs.u32(RTA_OIF);
  const priority = attrs.u32(RTA_PRIORITY);
  const metrics = attrs.nested(RTA_METRICS);
  const mtu = metrics && metrics.u32(RTAX_MTU);
  const advmss = metrics && metrics.u32(RTAX_ADVMSS);
  return {
    family,
    dst: IpPrefix.of(dst ? IpAddress.fromBytes(dst) : IpAddress.fromBigInt(family, 0n), hdr.dstLen),
    table: attrs.u32(RTA_TABLE) ?? hdr.table,
    scope: hdr.scope,
    protocol: hdr.protocol,
    type: hdr.type,
    ...(gw ? { gw } : {}),
    ...(oif !== undefined ? { oif } : {}),
    ...(src ? { src } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(advmss !== undefined ? { advmss } : {}),
    ...(hdr.flags & RTNH_F_ONLINK ? { onlink: true } : {}),
  };
}
