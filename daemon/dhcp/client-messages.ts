/**
 * The messages berth's client sends (DISCOVER, REQUEST in its three states, RELEASE) and what
 * it takes from the replies (an offer, a lease from an ACK). Pure.
 */
import { IpAddress, type IpWithPrefix } from '../../core/ip.js';
import type { Dns, Route } from '../../core/model.js';
import { BOOTREPLY, BROADCAST_FLAG, MessageType, encodeDhcpRequest, type DhcpMessage } from './dhcp-message.js';
import { Option, REQUESTED_PARAMETERS, classlessRoutes, clientIdOf, domainSearch, hostNameOf, ipv4, ipv4List, maskLength, text, uint32 } from './dhcp-options.js';
import { INFINITE_LEASE, leaseTimes, type LeaseTimes } from './lease-timing.js';

/** Who asks: the lease's key (option 61) and the interface's MAC; the host name when known. */
export interface ClientIdentity {
  readonly key: string;
  readonly mac: string;
  readonly hostname?: string;
}

/** A lease as the client holds it: the DhcpLease's content, its times in milliseconds. */
export interface GrantedLease {
  readonly address: IpWithPrefix;
  readonly gateway?: IpAddress;
  readonly routes: readonly Route[];
  readonly dns?: Dns;
  readonly server: IpAddress;
  readonly times: LeaseTimes;
}

export interface Offer {
  readonly address: IpAddress;
  readonly server: IpAddress;
}

export const BROADCAST = IpAddress.parse('255.255.255.255');

function common(id: ClientIdentity): [number, Uint8Array][] {
  const host = id.hostname ? hostNameOf(id.hostname) : undefined;
  return [[Option.ClientId, clientIdOf(id.key)], ...(host ? [[Option.HostName, host] as [number, Uint8Array]] : [])];
}

const prl = (): [number, Uint8Array] => [Option.ParameterRequestList, Uint8Array.from(REQUESTED_PARAMETERS)];

/** INIT: with the broadcast flag, since the interface cannot receive unicast yet. */
export function discover(id: ClientIdentity, xid: number, secs: number): Uint8Array {
  return encodeDhcpRequest({ xid, secs, type: MessageType.Discover, chaddr: id.mac, flags: BROADCAST_FLAG, options: [...common(id), prl()] });
}

/** SELECTING: the offered address (50) from the chosen server (54), broadcast. */
export function requestOffer(id: ClientIdentity, xid: number, secs: number, offer: Offer): Uint8Array {
  return encodeDhcpRequest({
    xid,
    secs,
    type: MessageType.Request,
    chaddr: id.mac,
    flags: BROADCAST_FLAG,
    options: [[Option.RequestedAddress, offer.address.toBytes()], [Option.ServerId, offer.server.toBytes()], ...common(id), prl()],
  });
}

/** RENEWING (unicast to the server) and REBINDING (broadcast): ciaddr is the leased address, no 50 or 54. */
export function requestExtend(id: ClientIdentity, xid: number, secs: number, address: IpAddress): Uint8Array {
  return encodeDhcpRequest({ xid, secs, type: MessageType.Request, chaddr: id.mac, ciaddr: address, options: [...common(id), prl()] });
}

export function release(id: ClientIdentity, xid: number, address: IpAddress, server: IpAddress): Uint8Array {
  return encodeDhcpRequest({
    xid,
    type: MessageType.Release,
    chaddr: id.mac,
    ciaddr: address,
    options: [
      [Option.ServerId, server.toBytes()],
      [Option.ClientId, clientIdOf(id.key)],
    ],
  });
}

/** Whether `m` answers this client's transaction `xid`. */
export function answers(m: DhcpMessage, xid: number, id: ClientIdentity): boolean {
  return m.op === BOOTREPLY && m.xid === xid >>> 0 && m.chaddr === id.mac.toLowerCase().replaceAll('-', ':');
}

/** An OFFER with an address and a server identifier (a server MUST send option 54). */
export function offerOf(m: DhcpMessage): Offer | undefined {
  if (m.type !== MessageType.Offer) return undefined;
  const server = ipv4(m.options.get(Option.ServerId));
  if (!server || !usable(m.yiaddr)) return undefined;
  return { address: m.yiaddr, server };
}

/**
 * The lease an ACK grants to a REQUEST sent at `sentAt`; undefined when the ACK lacks the
 * address or the lease time. `server` stands in for a missing option 54 (a renewal's ACK).
 * Routes follow RFC 3442: with option 121 the routers of option 3 are ignored, and the
 * gateway is the classless default route's router, if it has one.
 */
export function leaseOf(m: DhcpMessage, sentAt: number, server?: IpAddress): GrantedLease | undefined {
  if (m.type !== MessageType.Ack || !usable(m.yiaddr)) return undefined;
  const leaseSeconds = uint32(m.options.get(Option.LeaseTime));
  const from = ipv4(m.options.get(Option.ServerId)) ?? server;
  if (leaseSeconds === undefined || leaseSeconds === 0 || !from) return undefined;
  const length = maskLength(m.options.get(Option.SubnetMask)) ?? classfulLength(m.yiaddr);
  const classless = classlessRoutes(m.options.get(Option.ClasslessRoutes));
  const gateway = classless ? classless.find((r) => r.dst.length === 0)?.gw : ipv4List(m.options.get(Option.Router))?.[0];
  const dns = dnsOf(m);
  const t1 = uint32(m.options.get(Option.RenewalTime));
  const t2 = uint32(m.options.get(Option.RebindingTime));
  return {
    address: { address: m.yiaddr, length },
    ...(gateway ? { gateway } : {}),
    routes: classless ?? [],
    ...(dns ? { dns } : {}),
    server: from,
    times: leaseTimes(sentAt, leaseSeconds, leaseSeconds === INFINITE_LEASE ? undefined : t1, leaseSeconds === INFINITE_LEASE ? undefined : t2),
  };
}

function dnsOf(m: DhcpMessage): Dns | undefined {
  const nameservers = ipv4List(m.options.get(Option.DomainServer))?.map(String);
  const domain = text(m.options.get(Option.DomainName));
  const search = domainSearch(m.options.get(Option.DomainSearch));
  if (!nameservers && !domain && !search) return undefined;
  return { ...(nameservers ? { nameservers } : {}), ...(domain ? { domain } : {}), ...(search ? { search } : {}) };
}

/** Not 0.0.0.0, broadcast, loopback or multicast. */
function usable(a: IpAddress): boolean {
  const first = Number(a.value >> 24n);
  return a.value !== 0n && a.value !== 0xffffffffn && first !== 127 && first < 224;
}

/** The mask a server that sends none implies (RFC 2132 §3.3 lets the client pick; the class is the old default). */
function classfulLength(a: IpAddress): number {
  const first = Number(a.value >> 24n);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}
