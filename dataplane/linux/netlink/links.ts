/**
 * Links as rtnetlink messages: requests for `ip link add/del/set/show` and
 * `bridge link set`, and the decoding of RTM_NEWLINK replies into LinkInfo.
 * Pure functions; handle.ts sends what they build.
 *
 * Each link kind adds its IFLA_INFO_DATA in one encoder and reads it back in one decoder
 * (kindData / decodeKindData), so adding a kind touches those two switches.
 */
import { IpAddress } from '../../../core/ip.js';
import { InvalidConfigError } from '../../../core/errors.js';
import type { Operation } from '../kernel-error.js';
import type { BridgePortFlags, LinkChange, LinkInfo, LinkSpec, MacvlanMode } from '../ports.js';
import { attrBe16, attrBytes, attrNested, attrString, attrU32, attrU8, decodeIfinfomsg, encodeIfinfomsg, formatMac, IFINFOMSG_LEN, parseAttrs, parseMac } from './codec.js';
import type { Attr, AttrMap, NlMessage } from './codec.js';
import {
  AF_BRIDGE,
  AF_UNSPEC,
  IFF_PROMISC,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_BRPORT_ISOLATED,
  IFLA_BRPORT_LEARNING,
  IFLA_BRPORT_MODE,
  IFLA_BRPORT_NEIGH_SUPPRESS,
  IFLA_IFNAME,
  IFLA_IFALIAS,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_INFO_SLAVE_DATA,
  IFLA_INFO_SLAVE_KIND,
  IFLA_LINK,
  IFLA_LINKINFO,
  IFLA_MACVLAN_MODE,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_OPERSTATE,
  IFLA_PROTINFO,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  NLA_F_NESTED,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
  VETH_INFO_PEER,
} from './constants.js';
import type { Request } from './socket.js';

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Renders an ifindex for messages: its name when known, else `#index`. */
export type NameOf = (index: number) => string;

/** IANA's VXLAN port; the kernel's own default (8472) predates the assignment. */
export const VXLAN_DEFAULT_PORT = 4789;

const MACVLAN_MODES: Readonly<Record<MacvlanMode, number>> = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 };

const OPER_STATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

/** IFNAMSIZ is 16 with the NUL, so a name has at most 15 bytes. */
const MAX_NAME_BYTES = 15;

/** Whether the kernel could accept `name` as an interface name (dev_valid_name). */
export function isValidLinkName(name: string): boolean {
  const bytes = Buffer.byteLength(name);
  return bytes > 0 && bytes <= MAX_NAME_BYTES && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

function checkName(name: string, action: string, field: string): void {
  if (!isValidLinkName(name)) {
    throw new InvalidConfigError(`Cannot ${action}: ${JSON.stringify(name)} is not a valid interface name (1 to ${MAX_NAME_BYTES} bytes, no '/', ':' or whitespace)`, {
      field,
      value: name,
    });
  }
}

function commonAttrs(c: { readonly mtu?: number; readonly mac?: string; readonly netnsFd?: number }): Attr[] {
  const attrs: Attr[] = [];
  if (c.mtu !== undefined) attrs.push(attrU32(IFLA_MTU, c.mtu));
  if (c.mac !== undefined) attrs.push(attrBytes(IFLA_ADDRESS, parseMac(c.mac)));
  if (c.netnsFd !== undefined) attrs.push(attrU32(IFLA_NET_NS_FD, c.netnsFd));
  return attrs;
}

/** IFLA_INFO_DATA for the kinds that have one. */
function kindData(spec: LinkSpec): Attr[] {
  switch (spec.kind) {
    case 'bridge':
      return [];
    case 'veth': {
      // The peer is described by a whole ifinfomsg plus attributes; with IFLA_NET_NS_FD it is
      // created directly in that namespace, so it never appears in ours.
      const peer = spec.peer;
      const mtu = peer.mtu ?? spec.mtu;
      const peerAttrs = [attrString(IFLA_IFNAME, peer.name), ...commonAttrs({ ...peer, ...(mtu !== undefined ? { mtu } : {}) })];
      return [attrNested(VETH_INFO_PEER, peerAttrs, encodeIfinfomsg({ family: AF_UNSPEC }))];
    }
    case 'vxlan': {
      const data = [attrU32(IFLA_VXLAN_ID, spec.vni), attrBe16(IFLA_VXLAN_PORT, spec.port ?? VXLAN_DEFAULT_PORT)];
      if (spec.local) data.push(attrBytes(spec.local.family === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, spec.local.toBytes()));
      if (spec.parent !== undefined) data.push(attrU32(IFLA_VXLAN_LINK, spec.parent));
      data.push(attrU8(IFLA_VXLAN_LEARNING, spec.learning ? 1 : 0));
      return data;
    }
    case 'macvlan': {
      const mode = Object.hasOwn(MACVLAN_MODES, spec.mode) ? MACVLAN_MODES[spec.mode] : undefined;
      if (mode === undefined) throw new InvalidConfigError(`Cannot add link "${spec.name}": unknown macvlan mode ${JSON.stringify(spec.mode)}`, { field: 'mode', value: String(spec.mode) });
      return [attrU32(IFLA_MACVLAN_MODE, mode)];
    }
    default: {
      const kind = (spec as { kind: unknown }).kind;
      throw new InvalidConfigError(`Cannot add link: unknown link kind ${JSON.stringify(kind)}`, { field: 'kind', value: String(kind) });
    }
  }
}

/** `ip link add NAME ... type KIND ...` as RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL. */
export function addLinkRequest(spec: LinkSpec): Request {
  checkName(spec.name, `add link "${spec.name}"`, 'name');
  if (spec.kind === 'veth') checkName(spec.peer.name, `add link "${spec.name}"`, 'peer.name');
  const attrs: Attr[] = [attrString(IFLA_IFNAME, spec.name), ...commonAttrs(spec)];
  if (spec.master !== undefined) attrs.push(attrU32(IFLA_MASTER, spec.master));
  if (spec.kind === 'macvlan') attrs.push(attrU32(IFLA_LINK, spec.parent));
  const data = kindData(spec);
  const info: Attr[] = [attrString(IFLA_INFO_KIND, spec.kind)];
  if (data.length > 0) info.push(attrNested(IFLA_INFO_DATA, data));
  attrs.push(attrNested(IFLA_LINKINFO, info));
  const up = spec.up ? IFF_UP : 0;
  return {
    type: RTM_NEWLINK,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: encodeIfinfomsg({ family: AF_UNSPEC, flags: up, change: up }),
    attrs,
  };
}

export function describeAddLink(spec: LinkSpec, nameOf: NameOf): Operation {
  const words = ['ip link add'];
  if (spec.kind === 'macvlan') words.push(`link ${nameOf(spec.parent)}`);
  words.push(spec.name);
  if (spec.mtu !== undefined) words.push(`mtu ${spec.mtu}`);
  if (spec.mac !== undefined) words.push(`address ${spec.mac}`);
  if (spec.netnsFd !== undefined) words.push(`netns fd:${spec.netnsFd}`);
  if (spec.master !== undefined) words.push(`master ${nameOf(spec.master)}`);
  words.push(`type ${spec.kind}`);
  if (spec.kind === 'veth') {
    words.push(`peer name ${spec.peer.name}`);
    if (spec.peer.mtu !== undefined) words.push(`mtu ${spec.peer.mtu}`);
    if (spec.peer.mac !== undefined) words.push(`address ${spec.peer.mac}`);
    if (spec.peer.netnsFd !== undefined) words.push(`netns fd:${spec.peer.netnsFd}`);
  } else if (spec.kind === 'vxlan') {
    words.push(`id ${spec.vni} dstport ${spec.port ?? VXLAN_DEFAULT_PORT}`);
    if (spec.local) words.push(`local ${spec.local}`);
    if (spec.parent !== undefined) words.push(`dev ${nameOf(spec.parent)}`);
    words.push(spec.learning ? 'learning' : 'nolearning');
  } else if (spec.kind === 'macvlan') {
    words.push(`mode ${spec.mode}`);
  }
  return { action: `add link "${spec.name}"`, command: words.join(' ') };
}

/** `ip link show NAME` or by index: a non-dump RTM_GETLINK. */
export function getLinkRequest(key: { readonly name: string } | { readonly index: number }): Request {
  if ('name' in key) return { type: RTM_GETLINK, header: encodeIfinfomsg({}), attrs: [attrString(IFLA_IFNAME, key.name)] };
  return { type: RTM_GETLINK, header: encodeIfinfomsg({ index: key.index }) };
}

/** `ip link show [master M]`: a dump, filtered by the kernel under NETLINK_GET_STRICT_CHK. */
export function listLinksRequest(filter: { readonly master?: number } = {}): Request {
  return {
    type: RTM_GETLINK,
    header: encodeIfinfomsg({}),
    attrs: filter.master !== undefined ? [attrU32(IFLA_MASTER, filter.master)] : [],
  };
}

export function deleteLinkRequest(index: number): Request {
  return { type: RTM_DELLINK, header: encodeIfinfomsg({ index }) };
}

/** `ip link set DEV ...` in one RTM_SETLINK, so the changes apply together. */
export function setLinkRequest(index: number, change: LinkChange): Request {
  if (change.name !== undefined) checkName(change.name, `rename link #${index}`, 'name');
  let flags = 0;
  let mask = 0;
  if (change.up !== undefined) {
    mask |= IFF_UP;
    if (change.up) flags |= IFF_UP;
  }
  if (change.promisc !== undefined) {
    mask |= IFF_PROMISC;
    if (change.promisc) flags |= IFF_PROMISC;
  }
  const attrs = commonAttrs(change);
  if (change.name !== undefined) attrs.push(attrString(IFLA_IFNAME, change.name));
  if (change.master !== undefined) attrs.push(attrU32(IFLA_MASTER, change.master));
  // The kernel stores the alias as given (an empty one clears it).
  if (change.alias !== undefined) attrs.push(attrString(IFLA_IFALIAS, change.alias));
  return { type: RTM_SETLINK, header: encodeIfinfomsg({ index, flags, change: mask }), attrs };
}

export function describeSetLink(dev: string, change: LinkChange, nameOf: NameOf): Operation {
  const words = [`ip link set dev ${dev}`];
  if (change.netnsFd !== undefined) words.push(`netns fd:${change.netnsFd}`);
  if (change.name !== undefined) words.push(`name ${change.name}`);
  if (change.mtu !== undefined) words.push(`mtu ${change.mtu}`);
  if (change.mac !== undefined) words.push(`address ${change.mac}`);
  if (change.master !== undefined) words.push(change.master === 0 ? 'nomaster' : `master ${nameOf(change.master)}`);
  if (change.promisc !== undefined) words.push(`promisc ${change.promisc ? 'on' : 'off'}`);
  if (change.alias !== undefined) words.push(`alias ${JSON.stringify(change.alias)}`);
  if (change.up !== undefined) words.push(change.up ? 'up' : 'down');
  return { action: `change link ${dev}`, command: words.join(' ') };
}

/**
 * `bridge link set dev DEV hairpin on ...`: RTM_SETLINK with family AF_BRIDGE and the flags
 * in IFLA_PROTINFO. The bridge reads PROTINFO as nested only when NLA_F_NESTED is set
 * (without it, it is the old one-byte port state), so the flag is required.
 */
export function setBridgePortRequest(index: number, flags: BridgePortFlags): Request {
  const port: Attr[] = [];
  if (flags.hairpin !== undefined) port.push(attrU8(IFLA_BRPORT_MODE, flags.hairpin ? 1 : 0));
  if (flags.isolated !== undefined) port.push(attrU8(IFLA_BRPORT_ISOLATED, flags.isolated ? 1 : 0));
  if (flags.learning !== undefined) port.push(attrU8(IFLA_BRPORT_LEARNING, flags.learning ? 1 : 0));
  if (flags.neighSuppress !== undefined) port.push(attrU8(IFLA_BRPORT_NEIGH_SUPPRESS, flags.neighSuppress ? 1 : 0));
  return {
    type: RTM_SETLINK,
    header: encodeIfinfomsg({ family: AF_BRIDGE, index }),
    attrs: [attrNested(IFLA_PROTINFO | NLA_F_NESTED, port)],
  };
}

export function describeSetBridgePort(dev: string, flags: BridgePortFlags): Operation {
  const onOff = (b: boolean) => (b ? 'on' : 'off');
  const words = [`bridge link set dev ${dev}`];
  if (flags.hairpin !== undefined) words.push(`hairpin ${onOff(flags.hairpin)}`);
  if (flags.isolated !== undefined) words.push(`isolated ${onOff(flags.isolated)}`);
  if (flags.learning !== undefined) words.push(`learning ${onOff(flags.learning)}`);
  if (flags.neighSuppress !== undefined) words.push(`neigh_suppress ${onOff(flags.neighSuppress)}`);
  return { action: `set the bridge port flags of ${dev}`, command: words.join(' ') };
}

/** The IFLA_BRPORT_* flags berth uses, from IFLA_INFO_SLAVE_DATA or IFLA_PROTINFO. */
export function decodeBridgePort(port: AttrMap): BridgePortFlags {
  const out: Writable<BridgePortFlags> = {};
  const flag = (type: number) => {
    const v = port.u8(type);
    return v === undefined ? undefined : v !== 0;
  };
  const hairpin = flag(IFLA_BRPORT_MODE);
  const isolated = flag(IFLA_BRPORT_ISOLATED);
  const learning = flag(IFLA_BRPORT_LEARNING);
  const neighSuppress = flag(IFLA_BRPORT_NEIGH_SUPPRESS);
  if (hairpin !== undefined) out.hairpin = hairpin;
  if (isolated !== undefined) out.isolated = isolated;
  if (learning !== undefined) out.learning = learning;
  if (neighSuppress !== undefined) out.neighSuppress = neighSuppress;
  return out;
}

function decodeKindData(info: Writable<LinkInfo>, kind: string, data: AttrMap | undefined, attrs: AttrMap): void {
  switch (kind) {
    case 'veth': {
      const peer = attrs.u32(IFLA_LINK);
      if (peer) info.peerIndex = peer;
      break;
    }
    case 'macvlan': {
      const parent = attrs.u32(IFLA_LINK);
      if (parent) info.parentIndex = parent;
      const mode = data && data.u32(IFLA_MACVLAN_MODE);
      const name = (Object.keys(MACVLAN_MODES) as MacvlanMode[]).find((m) => MACVLAN_MODES[m] === mode);
      if (name) info.macvlanMode = name;
      break;
    }
    case 'vxlan': {
      if (!data) break;
      const parent = data.u32(IFLA_VXLAN_LINK);
      if (parent) info.parentIndex = parent;
      const local = data.get(IFLA_VXLAN_LOCAL) ?? data.get(IFLA_VXLAN_LOCAL6);
      const port = data.be16(IFLA_VXLAN_PORT);
      const learning = data.u8(IFLA_VXLAN_LEARNING);
      info.vxlan = {
        vni: data.u32(IFLA_VXLAN_ID) ?? 0,
        ...(port !== undefined ? { port } : {}),
        ...(local && (local.length === 4 || local.length === 16) && local.some((b) => b !== 0) ? { local: IpAddress.fromBytes(local) } : {}),
        ...(learning !== undefined ? { learning: learning !== 0 } : {}),
      };
      break;
    }
  }
}

/**
 * Decodes an RTM_NEWLINK reply. Bridge-port flags come from IFLA_INFO_SLAVE_DATA (present in
 * every reply for a bridge port) or from IFLA_PROTINFO (AF_BRIDGE replies).
 */
export function decodeLink(msg: NlMessage): LinkInfo | undefined {
  if (msg.type !== RTM_NEWLINK) return undefined;
  const hdr = decodeIfinfomsg(msg.payload);
  const attrs = parseAttrs(msg.payload, IFINFOMSG_LEN);
  const linkinfo = attrs.nested(IFLA_LINKINFO);
  const kind = (linkinfo && linkinfo.string(IFLA_INFO_KIND)) || 'device';
  const info: Writable<LinkInfo> = {
    index: hdr.index,
    name: attrs.string(IFLA_IFNAME) ?? '',
    kind,
    mtu: attrs.u32(IFLA_MTU) ?? 0,
    up: (hdr.flags & IFF_UP) !== 0,
    operState: OPER_STATES[attrs.u8(IFLA_OPERSTATE) ?? 0] ?? 'unknown',
    promisc: (hdr.flags & IFF_PROMISC) !== 0,
  };
  const mac = attrs.get(IFLA_ADDRESS);
  if (mac && mac.length > 0) info.mac = formatMac(mac);
  const master = attrs.u32(IFLA_MASTER);
  if (master) info.master = master;
  const alias = attrs.string(IFLA_IFALIAS);
  if (alias) info.alias = alias;
  decodeKindData(info, kind, linkinfo && linkinfo.nested(IFLA_INFO_DATA), attrs);
  if (linkinfo && linkinfo.string(IFLA_INFO_SLAVE_KIND) === 'bridge') {
    const port = linkinfo.nested(IFLA_INFO_SLAVE_DATA);
    if (port) info.bridgePort = decodeBridgePort(port);
  } else if (hdr.family === AF_BRIDGE) {
    const port = attrs.nested(IFLA_PROTINFO);
    if (port) info.bridgePort = decodeBridgePort(port);
  }
  return info;
}
