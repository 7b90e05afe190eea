/**
 * Interface addresses as rtnetlink messages (`ip addr add/del/show`). Pure functions.
 */
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { IpFamily, IpWithPrefix } from '../../../core/ip.js';
import type { Operation } from '../kernel-error.js';
import type { AddressInfo, AddressOptions } from '../ports.js';
import { afOf, attrBytes, attrU32, decodeIfaddrmsg, encodeIfaddrmsg, IFADDRMSG_LEN, ipFamilyOf, parseAttrs } from './codec.js';
import type { Attr, NlMessage } from './codec.js';
import {
  AF_INET,
  AF_UNSPEC,
  IFA_ADDRESS,
  IFA_BROADCAST,
  IFA_F_NODAD,
  IFA_F_NOPREFIXROUTE,
  IFA_FLAGS,
  IFA_LOCAL,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELADDR,
  RTM_GETADDR,
  RTM_NEWADDR,
} from './constants.js';
import type { Request } from './socket.js';

function addressAttrs(address: IpWithPrefix): Attr[] {
  const bytes = address.address.toBytes();
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
  // links and otherwise the same. iproute2 sends both, and so do we.
  return [attrBytes(IFA_LOCAL, bytes), attrBytes(IFA_ADDRESS, bytes)];
}

/**
 * `ip addr add ADDR/LEN dev IDX [nodad] [noprefixroute]`. IPv4 prefixes shorter than /31 also
 * get their broadcast address, as `ip addr add ... brd +` would (the kernel does not derive it).
 */
export function addAddressRequest(index: number, address: IpWithPrefix, opts: AddressOptions = {}): Request {
  const family = address.address.family;
  const flags = (opts.noDad ? IFA_F_NODAD : 0) | (opts.noPrefixRoute ? IFA_F_NOPREFIXROUTE : 0);
  const attrs = addressAttrs(address);
  if (family === 4 && address.length < 31) attrs.push(attrBytes(IFA_BROADCAST, IpPrefix.of(address.address, address.length).last.toBytes()));
  // ifa_flags is 8 bits; IFA_FLAGS carries all 32 and is what the kernel prefers.
  if (flags) attrs.push(attrU32(IFA_FLAGS, flags));
  return {
    type: RTM_NEWADDR,
    flags: NLM_F_CREATE | NLM_F_EXCL,
    header: encodeIfaddrmsg({ family: afOf(family), prefixlen: address.length, flags: flags & 0xff, index }),
    attrs,
  };
}

export function deleteAddressRequest(index: number, address: IpWithPrefix): Request {
  return {
    type: RTM_DELADDR,
    header: encodeIfaddrmsg({ family: afOf(address.address.family), prefixlen: address.length, index }),
    attrs: addressAttrs(address),
  };
}

/** `ip addr show [dev IDX]`: a dump, filtered by index and family in the kernel. */
export function listAddressesRequest(filter: { readonly index?: number; readonly family?: IpFamily } = {}): Request {
  return {
    type: RTM_GETADDR,
    header: encodeIfaddrmsg({ family: filter.family ? afOf(filter.family) : AF_UNSPEC, index: filter.index ?? 0 }),
  };
}

export function describeAddress(verb: 'add' | 'del', dev: string, address: IpWithPrefix, opts: AddressOptions = {}): Operation {
  const text = `${address.address}/${address.length}`;
  return {
    action: verb === 'add' ? `add address ${text} to ${dev}` : `delete address ${text} from ${dev}`,
    command: `ip addr ${verb} ${text} dev ${dev}${opts.noDad ? ' nodad' : ''}${opts.noPrefixRoute ? ' noprefixroute' : ''}`,
    removes: verb === 'del',
  };
}

/** Decodes an RTM_NEWADDR reply (IPv4 and IPv6 only). */
export function decodeAddress(msg: NlMessage): AddressInfo | undefined {
  if (msg.type !== RTM_NEWADDR) return undefined;
  const hdr = decodeIfaddrmsg(msg.payload);
  if (ipFamilyOf(hdr.family) === undefined) return undefined;
  const attrs = parseAttrs(msg.payload, IFADDRMSG_LEN);
  // For IPv4 IFA_ADDRESS may be a point-to-point peer; IPv6 sends IFA_LOCAL only with a peer.
  const raw = hdr.family === AF_INET ? (attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS)) : (attrs.get(IFA_ADDRESS) ?? attrs.get(IFA_LOCAL));
  if (!raw) return undefined;
  return {
    index: hdr.index,
    address: { address: IpAddress.fromBytes(raw), length: hdr.prefixlen },
    scope: hdr.scope,
    flags: attrs.u32(IFA_FLAGS) ?? hdr.flags,
  };
}
