/**
 * Announcements of an address on a link, so that the LAN learns at once where it now lives:
 * a gratuitous ARP (IPv4) and an unsolicited neighbour advertisement (IPv6), both naming the
 * link's own MAC. Used for addresses the host answers for without holding them (proxy
 * entries): the kernel announces only addresses of its own.
 *
 * - Gratuitous ARP: an ARP request whose sender and target address are the announced one,
 *   broadcast, sent on an AF_PACKET datagram socket (the kernel writes the Ethernet header:
 *   source the link's MAC, destination the broadcast given in sockaddr_ll). Receivers update
 *   an entry they hold for the address; switches learn the MAC's port.
 * - Unsolicited NA: ICMPv6 type 136 with the override flag and the target link-layer address
 *   option, to all nodes (ff02::1) with hop limit 255, sent on a raw ICMPv6 socket (the kernel
 *   fills in the checksum and picks the link's link-local source address).
 *
 * Sockets are opened in the calling thread's network namespace and closed at once.
 */
import type { IpAddress } from '../../core/ip.js';
import { errorFromErrno } from './kernel-error.js';
import { EINTR, SOCK_CLOEXEC, SOCK_RAW, libc } from './libc.js';

const AF_INET6 = 10;
const AF_PACKET = 17;
const SOCK_DGRAM = 2;
const ETH_P_ARP = 0x0806;
const ETH_P_IP = 0x0800;
const ARPHRD_ETHER = 1;
const ARPOP_REQUEST = 1;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const ND_NEIGHBOR_ADVERT = 136;
/** The NA's override flag: receivers replace the MAC they hold. */
const ND_NA_FLAG_OVERRIDE = 0x20;
const ND_OPT_TARGET_LINKADDR = 2;
const SOCKADDR_LL_LEN = 20;
const SOCKADDR_IN6_LEN = 28;
/** ff02::1, all nodes on the link. */
const ALL_NODES = Uint8Array.of(0xff, 0x02, ...new Array<number>(13).fill(0), 1);

function macBytes(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new TypeError(`${JSON.stringify(mac)} is not a MAC address`);
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** The 28 bytes of a gratuitous ARP request: `who has IP? tell IP at MAC`. Pure. */
export function gratuitousArp(mac: string, ip: IpAddress): Uint8Array {
  if (ip.family !== 4) throw new TypeError(`a gratuitous ARP announces an IPv4 address, not ${ip}`);
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  v.setUint16(0, ARPHRD_ETHER);
  v.setUint16(2, ETH_P_IP);
  b[4] = 6;
  b[5] = 4;
  v.setUint16(6, ARPOP_REQUEST);
  b.set(macBytes(mac), 8);
  b.set(ip.toBytes(), 14);
  // Target hardware address: zero (bytes 18-23).
  b.set(ip.toBytes(), 24);
  return b;
}

/** The 32 bytes of an unsolicited neighbour advertisement of `ip` at `mac`; the kernel fills the checksum. Pure. */
export function unsolicitedAdvertisement(mac: string, ip: IpAddress): Uint8Array {
  if (ip.family !== 6) throw new TypeError(`a neighbour advertisement announces an IPv6 address, not ${ip}`);
  const b = new Uint8Array(32);
  b[0] = ND_NEIGHBOR_ADVERT;
  // Code 0, checksum 0 (bytes 1-3); not a router, not solicited: only the override flag.
  b[4] = ND_NA_FLAG_OVERRIDE;
  b.set(ip.toBytes(), 8);
  b[24] = ND_OPT_TARGET_LINKADDR;
  b[25] = 1; // length in units of 8 bytes
  b.set(macBytes(mac), 26);
  return b;
}

/** struct sockaddr_ll for `ifindex` and the Ethernet broadcast. */
function sockaddrLl(ifindex: number, protocol: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_LL_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, protocol); // network order
  v.setInt32(4, ifindex, true);
  v.setUint16(8, ARPHRD_ETHER, true);
  b[11] = 6;
  b.fill(0xff, 12, 18);
  return b;
}

/** struct sockaddr_in6 for ff02::1 on `ifindex`. */
function sockaddrAllNodes(ifindex: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_IN6_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, true);
  b.set(ALL_NODES, 8);
  v.setUint32(24, ifindex, true);
  return b;
}

function int(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  return b;
}

/**
 * Announces `ip` at `mac` on the link `ifindex` (named `ifname` in errors): a gratuitous ARP
 * for IPv4, an unsolicited neighbour advertisement for IPv6. Throws KernelError when the
 * socket cannot be opened or the message not sent.
 */
export function announceAddress(link: { readonly index: number; readonly name: string; readonly mac: string }, ip: IpAddress): void {
  const c = libc();
  const v4 = ip.family === 4;
  const what = v4 ? `a gratuitous ARP for ${ip} on ${link.name}` : `an unsolicited neighbour advertisement of ${ip} on ${link.name}`;
  // Protocol 0 on the packet socket: it only sends (sockaddr_ll names the protocol), and nothing queues up on it.
  const fd = v4 ? c.socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0) : c.socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) throw errorFromErrno(c.errno(), { action: `open a socket to send ${what}`, command: v4 ? 'socket(AF_PACKET, SOCK_DGRAM, 0)' : 'socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)' });
  try {
    let message: Uint8Array;
    let to: Uint8Array;
    if (v4) {
      message = gratuitousArp(link.mac, ip);
      to = sockaddrLl(link.index, ETH_P_ARP);
    } else {
      for (const [name, value, label] of [
        [IPV6_MULTICAST_HOPS, 255, 'IPV6_MULTICAST_HOPS 255'],
        [IPV6_MULTICAST_IF, link.index, `IPV6_MULTICAST_IF ${link.name}`],
      ] as const) {
        if (c.setsockopt(fd, IPPROTO_IPV6, name, int(value), 4) !== 0) throw errorFromErrno(c.errno(), { action: `set ${label} to send ${what}`, command: `setsockopt ${label}` });
      }
      message = unsolicitedAdvertisement(link.mac, ip);
      to = sockaddrAllNodes(link.index);
    }
    for (;;) {
      if (Number(c.sendto(fd, message, message.length, 0, to, to.length)) >= 0) return;
      const errno = c.errno();
      if (errno !== EINTR) throw errorFromErrno(errno, { action: `send ${what}`, command: v4 ? `arping -U -c 1 -I ${link.name} ${ip}` : `ndisc unsolicited NA ${ip} dev ${link.name}` });
    }
  } finally {
    c.close(fd);
  }
}
