/**
 * Neighbour (ARP/NDP) entries and bridge forwarding-database entries as rtnetlink messages
 * (`ip neigh`, `bridge fdb`). Both are RTM_*NEIGH; FDB entries are the AF_BRIDGE family.
 * Pure functions.
 */
import { IpAddress } from '../../../core/ip.js';
import type { IpFamily } from '../../../core/ip.js';
import type { Operation } from '../kernel-error.js';
import type { FdbInfo, FdbSpec, NeighbourInfo, NeighbourSpec, ProxyNeighbourSpec } from '../ports.js';
import { afOf, attrBytes, attrU32, decodeNdmsg, encodeNdmsg, formatMac, ipFamilyOf, NDMSG_LEN, parseAttrs, parseMac } from './codec.js';
import type { Attr, NlMessage } from './codec.js';
import {
  AF_BRIDGE,
  AF_UNSPEC,
  NDA_DST,
  NDA_IFINDEX,
  NDA_LLADDR,
  NDA_MASTER,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NTF_MASTER,
  NTF_PROXY,
  NTF_SELF,
  NUD_PERMANENT,
  RTM_DELNEIGH,
  RTM_GETNEIGH,
  RTM_NEWNEIGH,
} from './constants.js';
import type { Request } from './socket.js';

function ipOf(raw: Buffer | undefined): IpAddress | undefined {
  return raw && (raw.length === 4 || raw.length === 16) ? IpAddress.fromBytes(raw) : undefined;
}

/**
 * `ip neigh replace IP lladdr MAC dev IDX nud permanent`; for a proxy entry `ip neigh replace
 * proxy IP dev IDX` (NTF_PROXY, no MAC: the device answers with its own). The kernel keeps
 * proxy entries in a table of their own, where a repeated add finds the entry and succeeds.
 */
export function setNeighbourRequest(neigh: NeighbourSpec | ProxyNeighbourSpec): Request {
  if ('proxy' in neigh && neigh.proxy) {
    return {
      type: RTM_NEWNEIGH,
      flags: NLM_F_CREATE | NLM_F_REPLACE,
      header: encodeNdmsg({ family: afOf(neigh.ip.family), index: neigh.index, flags: NTF_PROXY }),
      attrs: [attrBytes(NDA_DST, neigh.ip.toBytes())],
    };
  }
  const n = neigh as NeighbourSpec;
  return {
    type: RTM_NEWNEIGH,
    flags: NLM_F_CREATE | NLM_F_REPLACE,
    header: encodeNdmsg({ family: afOf(n.ip.family), index: n.index, state: n.state ?? NUD_PERMANENT }),
    attrs: [attrBytes(NDA_DST, n.ip.toBytes()), attrBytes(NDA_LLADDR, parseMac(n.mac))],
  };
}

/** `ip neigh del [proxy] IP dev IDX`. */
export function deleteNeighbourRequest(neigh: { readonly index: number; readonly ip: IpAddress; readonly proxy?: boolean }): Request {
  return {
    type: RTM_DELNEIGH,
    header: encodeNdmsg({ family: afOf(neigh.ip.family), index: neigh.index, ...(neigh.proxy ? { flags: NTF_PROXY } : {}) }),
    attrs: [attrBytes(NDA_DST, neigh.ip.toBytes())],
  };
}

/**
 * `ip neigh show [proxy] [dev IDX]`. Under strict checking the device filter must travel as
 * NDA_IFINDEX; the kernel rejects a non-zero ndm_ifindex in a dump request. NTF_PROXY in the
 * request's flags dumps the proxy entries instead of the neighbours.
 */
export function listNeighboursRequest(filter: { readonly index?: number; readonly family?: IpFamily; readonly proxy?: boolean } = {}): Request {
  return {
    type: RTM_GETNEIGH,
    header: encodeNdmsg({ family: filter.family ? afOf(filter.family) : AF_UNSPEC, ...(filter.proxy ? { flags: NTF_PROXY } : {}) }),
    attrs: filter.index !== undefined ? [attrU32(NDA_IFINDEX, filter.index)] : [],
  };
}

export function describeNeighbour(verb: 'replace' | 'del', dev: string, neigh: { readonly ip: IpAddress; readonly mac?: string; readonly proxy?: boolean }): Operation {
  const lladdr = verb === 'replace' && neigh.mac ? ` lladdr ${neigh.mac} nud permanent` : '';
  const what = neigh.proxy ? 'proxy entry' : 'neighbour';
  return {
    action: verb === 'replace' ? `set ${what} ${neigh.ip} on ${dev}` : `delete ${what} ${neigh.ip} from ${dev}`,
    command: `ip neigh ${verb} ${neigh.proxy ? 'proxy ' : ''}${neigh.ip}${lladdr} dev ${dev}`,
    removes: verb === 'del',
  };
}

/** Decodes an RTM_NEWNEIGH reply of the IPv4/IPv6 neighbour tables. */
export function decodeNeighbour(msg: NlMessage): NeighbourInfo | undefined {
  if (msg.type !== RTM_NEWNEIGH) return undefined;
  const hdr = decodeNdmsg(msg.payload);
  if (ipFamilyOf(hdr.family) === undefined) return undefined;
  const attrs = parseAttrs(msg.payload, NDMSG_LEN);
  const ip = ipOf(attrs.get(NDA_DST));
  if (!ip) return undefined;
  const lladdr = attrs.get(NDA_LLADDR);
  return { index: hdr.index, ip, state: hdr.state, ...(lladdr && lladdr.length > 0 ? { mac: formatMac(lladdr) } : {}), ...(hdr.flags & NTF_PROXY ? { proxy: true } : {}) };
}

function fdbAttrs(entry: FdbSpec): Attr[] {
  const attrs = [attrBytes(NDA_LLADDR, parseMac(entry.mac))];
  if (entry.dst) attrs.push(attrBytes(NDA_DST, entry.dst.toBytes()));
  return attrs;
}

/**
 * `bridge fdb append MAC dev IDX [dst IP] self|master permanent`. NLM_F_APPEND lets a VXLAN
 * device hold several remote VTEPs for one MAC (the all-zero MAC used for flooding).
 */
export function appendFdbRequest(entry: FdbSpec): Request {
  return {
    type: RTM_NEWNEIGH,
    flags: NLM_F_CREATE | NLM_F_APPEND,
    header: encodeNdmsg({ family: AF_BRIDGE, index: entry.index, state: NUD_PERMANENT, flags: entry.self ? NTF_SELF : NTF_MASTER }),
    attrs: fdbAttrs(entry),
  };
}

export function deleteFdbRequest(entry: FdbSpec): Request {
  return {
    type: RTM_DELNEIGH,
    header: encodeNdmsg({ family: AF_BRIDGE, index: entry.index, flags: entry.self ? NTF_SELF : NTF_MASTER }),
    attrs: fdbAttrs(entry),
  };
}

/** `bridge fdb show [dev IDX] [br MASTER]`: the port goes in ndm_ifindex, the bridge in NDA_MASTER. */
export function listFdbRequest(filter: { readonly index?: number; readonly master?: number } = {}): Request {
  return {
    type: RTM_GETNEIGH,
    header: encodeNdmsg({ family: AF_BRIDGE, index: filter.index ?? 0 }),
    attrs: filter.master !== undefined ? [attrU32(NDA_MASTER, filter.master)] : [],
  };
}

export function describeFdb(verb: 'append' | 'del', dev: string, entry: FdbSpec): Operation {
  const words = [`bridge fdb ${verb} ${entry.mac} dev ${dev}`];
  if (entry.dst) words.push(`dst ${entry.dst}`);
  words.push(entry.self ? 'self' : 'master');
  if (verb === 'append') words.push('permanent');
  return {
    action: verb === 'append' ? `add forwarding entry ${entry.mac} to ${dev}` : `delete forwarding entry ${entry.mac} from ${dev}`,
    command: words.join(' '),
    removes: verb === 'del',
  };
}

/** Decodes an AF_BRIDGE RTM_NEWNEIGH reply. */
export function decodeFdb(msg: NlMessage): FdbInfo | undefined {
  if (msg.type !== RTM_NEWNEIGH) return undefined;
  const hdr = decodeNdmsg(msg.payload);
  if (hdr.family !== AF_BRIDGE) return undefined;
  const attrs = parseAttrs(msg.payload, NDMSG_LEN);
  const lladdr = attrs.get(NDA_LLADDR);
  if (!lladdr) return undefined;
  const dst = ipOf(attrs.get(NDA_DST));
  const master = attrs.u32(NDA_MASTER);
  return {
    index: hdr.index,
    mac: formatMac(lladdr),
    state: hdr.state,
    flags: hdr.flags,
    ...(dst ? { dst } : {}),
    ...(master ? { master } : {}),
  };
}
