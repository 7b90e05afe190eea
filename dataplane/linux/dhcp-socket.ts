/**
 * The DHCP client's socket: UDP port 68 on one interface of a container's namespace.
 *
 * Sending: an AF_INET datagram socket created while the thread is switched into the namespace
 * stays there (netns.ts). SO_BINDTODEVICE pins it to the interface, so a broadcast to
 * 255.255.255.255 leaves through it even while the interface has no address (the kernel then
 * sends from 0.0.0.0, as DHCP needs). Unicasts to the server go from a socket bound to the
 * leased address (openDhcpSocketFrom).
 *
 * Receiving: a packet socket on the interface, filtered in the kernel to UDP port 68. The IP
 * stack would drop the server's replies to an interface without an address whenever reverse-
 * path filtering is on (rp_filter 1 or 2, Debian's default through systemd): the source check
 * of an address-less device fails. Every DHCP client reads from the link layer for this reason.
 *
 * Reading never blocks Node's event loop: the socket is non-blocking and `receive` polls it
 * with MSG_DONTWAIT on a short timer while a reply is awaited. koffi's async calls would run a
 * blocking recv on libuv's small thread pool, which many leases renewing at once could fill,
 * stalling every fs call of berthd; a poll a few milliseconds apart costs next to nothing.
 */
import { KernelError } from '../../core/errors.js';
import type { IpAddress } from '../../core/ip.js';
import { EADDRNOTAVAIL, errorFromErrno } from './kernel-error.js';
import { EAGAIN, EINTR, MSG_DONTWAIT, SOCK_CLOEXEC, SOL_SOCKET, libc } from './libc.js';
import { inNetns } from './netns.js';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const SO_RCVBUF = 8;
const AF_PACKET = 17;
const ETH_P_IP = 0x0800;
const SOCKADDR_LL_LEN = 20;
const SOCKADDR_IN_LEN = 16;
const ENETUNREACH = 101;
/** The largest datagram read (a DHCP message fits in 576 bytes; servers may send up to the MTU). */
const MAX_DATAGRAM = 4096;

export const DHCP_CLIENT_PORT = 68;
export const DHCP_SERVER_PORT = 67;

/** How often an awaited reply is polled for. */
const POLL_MS = 10;

/** One interface's DHCP socket (port 68). */
export interface DhcpSocket {
  /** Sends one DHCP message to `to` port 67 (255.255.255.255: the interface's broadcast). */
  send(message: Uint8Array, to: IpAddress): void;
  /** The next datagram that arrives within `timeoutMs`, else undefined. */
  receive(timeoutMs: number): Promise<Uint8Array | undefined>;
  /** Set by close(); a receive in progress then answers undefined. */
  readonly closed: boolean;
  close(): void;
}

/**
 * Opens UDP port 68 on `ifname` inside the namespace at `netnsPath`, bound to 0.0.0.0: it
 * receives broadcasts, and what it sends leaves from the interface's address (0.0.0.0 while
 * it has none). NetnsNotFoundError when the namespace is gone, NotFoundError when the interface is.
 */
export function openDhcpSocket(netnsPath: string, ifname: string): DhcpSocket {
  const socket = open(netnsPath, ifname, undefined);
  if (!socket) throw new KernelError(`Cannot bind UDP port ${DHCP_CLIENT_PORT} on ${ifname} in ${netnsPath}`);
  return socket;
}

/**
 * Like openDhcpSocket, bound to `address:68`, for unicasts to the server (renewal, release):
 * they then leave from the leased address. Linux would otherwise send a unicast from 0.0.0.0
 * when the interface has no address yet, which a Linux server drops as a martian source.
 * Undefined when `address` is not on the interface.
 */
export function openDhcpSocketFrom(netnsPath: string, ifname: string, address: IpAddress): DhcpSocket | undefined {
  return open(netnsPath, ifname, address);
}

function open(netnsPath: string, ifname: string, local: IpAddress | undefined): DhcpSocket | undefined {
  const c = libc();
  const fds = inNetns(netnsPath, () => {
    const s = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) throw errorFromErrno(c.errno(), { action: `open a DHCP socket in ${netnsPath}`, command: 'socket(AF_INET, SOCK_DGRAM)' });
    try {
      setOption(s, SO_REUSEADDR, int(1), 'SO_REUSEADDR');
      setOption(s, SO_BROADCAST, int(1), 'SO_BROADCAST');
      setOption(s, SO_BINDTODEVICE, new TextEncoder().encode(`${ifname}\0`), `SO_BINDTODEVICE ${ifname}`);
      // Replies are read from the packet socket: this one's queue stays as small as allowed.
      setOption(s, SO_RCVBUF, int(1), 'SO_RCVBUF');
      const addr = sockaddrIn(local ? local.toBytes() : new Uint8Array(4), DHCP_CLIENT_PORT);
      if (c.bind(s, addr, SOCKADDR_IN_LEN) !== 0) {
        const errno = c.errno();
        if (local && errno === EADDRNOTAVAIL) {
          c.close(s);
          return undefined;
        }
        throw errorFromErrno(errno, { action: `bind UDP port ${DHCP_CLIENT_PORT} on ${ifname} in ${netnsPath}`, command: `bind ${local ?? '0.0.0.0'}:${DHCP_CLIENT_PORT}` });
      }
      return { udp: s, packet: openPacketSocket(ifname, netnsPath) };
    } catch (err) {
      c.close(s);
      throw err;
    }
  });
  return fds === undefined ? undefined : new LinuxDhcpSocket(fds.udp, fds.packet, ifname);
}

/**
 * A non-blocking AF_PACKET socket that gets the IPv4 UDP datagrams to port 68 arriving on
 * `ifname` (of the thread's namespace), from their IP header on. Made with protocol 0, so it
 * queues nothing until the filter is on, then bound to the interface and to IPv4.
 */
function openPacketSocket(ifname: string, netnsPath: string): number {
  const c = libc();
  const index = c.ifNameToIndex(ifname);
  if (index === 0) throw errorFromErrno(c.errno(), { action: `find ${ifname} in ${netnsPath}`, command: `if_nametoindex ${ifname}` });
  const s = c.socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) throw errorFromErrno(c.errno(), { action: `open a packet socket on ${ifname} in ${netnsPath}`, command: 'socket(AF_PACKET, SOCK_DGRAM)' });
  try {
    if (c.attachFilter(s, DHCP_REPLY_FILTER, DHCP_REPLY_FILTER.length / 8) !== 0) {
      throw errorFromErrno(c.errno(), { action: `filter the packet socket on ${ifname}`, command: 'setsockopt SO_ATTACH_FILTER' });
    }
    if (c.bind(s, sockaddrLl(index), SOCKADDR_LL_LEN) !== 0) {
      throw errorFromErrno(c.errno(), { action: `bind a packet socket to ${ifname} in ${netnsPath}`, command: `bind AF_PACKET ${ifname}` });
    }
    return s;
  } catch (err) {
    c.close(s);
    throw err;
  }
}

/**
 * Classic BPF over the IP header (a SOCK_DGRAM packet socket): accept an unfragmented (or
 * first-fragment) UDP datagram to port 68, drop everything else.
 */
const DHCP_REPLY_FILTER = bpf([
  [0x30, 0, 0, 9], //  ldb [9]               protocol
  [0x15, 0, 6, 17], // jeq #17 (UDP)         else drop
  [0x28, 0, 0, 6], //  ldh [6]               flags and fragment offset
  [0x45, 4, 0, 0x1fff], // jset #0x1fff     a later fragment: drop
  [0xb1, 0, 0, 0], //  ldxb 4*([0]&0xf)      header length
  [0x48, 0, 0, 2], //  ldh [x+2]             UDP destination port
  [0x15, 0, 1, DHCP_CLIENT_PORT], // jeq #68 else drop
  [0x06, 0, 0, 0xffff], // ret #65535        accept
  [0x06, 0, 0, 0], //  ret #0                drop
]);

/** struct sock_filter[]: code (u16), jt, jf (u8), k (u32), host order. */
function bpf(program: readonly (readonly [number, number, number, number])[]): Uint8Array {
  const b = new Uint8Array(program.length * 8);
  const v = new DataView(b.buffer);
  program.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code, true);
    v.setUint8(i * 8 + 2, jt);
    v.setUint8(i * 8 + 3, jf);
    v.setUint32(i * 8 + 4, k, true);
  });
  return b;
}

/** The UDP payload of an IPv4 packet the filter let through; undefined when it is malformed. */
export function udpPayloadOf(packet: Uint8Array): Uint8Array | undefined {
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return undefined;
  const ihl = (packet[0]! & 0x0f) * 4;
  if (packet.length < ihl + 8) return undefined;
  const udpLength = (packet[ihl + 4]! << 8) | packet[ihl + 5]!;
  if (udpLength < 8 || ihl + udpLength > packet.length) return undefined;
  return packet.slice(ihl + 8, ihl + udpLength);
}

class LinuxDhcpSocket implements DhcpSocket {
  closed = false;
  private readonly buf = new Uint8Array(MAX_DATAGRAM);

  constructor(
    private readonly fd: number,
    /** Where replies are read (see the file's comment). */
    private readonly packetFd: number,
    private readonly ifname: string,
  ) {}

  send(message: Uint8Array, to: IpAddress): void {
    const c = libc();
    const addr = sockaddrIn(to.toBytes(), DHCP_SERVER_PORT);
    for (;;) {
      const n = Number(c.sendto(this.fd, message, message.length, 0, addr, SOCKADDR_IN_LEN));
      if (n >= 0) return;
      const errno = c.errno();
      if (errno === EINTR) continue;
      // What a broadcast from an interface that is down gets.
      const hint = errno === ENETUNREACH ? `${this.ifname} must be up` : undefined;
      throw errorFromErrno(errno, { action: `send a DHCP message to ${to}:${DHCP_SERVER_PORT} from ${this.ifname}`, command: `sendto ${to}:${DHCP_SERVER_PORT}` }, hint);
    }
  }

  async receive(timeoutMs: number): Promise<Uint8Array | undefined> {
    const until = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      const got = this.tryReceive();
      if (got) return got;
      const left = until - Date.now();
      if (left <= 0 || this.closed) return undefined;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left)));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    libc().close(this.fd);
    libc().close(this.packetFd);
  }

  private tryReceive(): Uint8Array | undefined {
    if (this.closed) return undefined;
    const c = libc();
    for (;;) {
      const n = Number(c.recv(this.packetFd, this.buf, this.buf.length, MSG_DONTWAIT));
      if (n >= 0) {
        const payload = udpPayloadOf(this.buf.subarray(0, n));
        if (payload) return payload;
        continue;
      }
      const errno = c.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return undefined;
      throw new KernelError(`Cannot read the DHCP socket of ${this.ifname}: ${c.strerror(errno)}`, { errno, operation: 'recv' });
    }
  }
}

function setOption(fd: number, name: number, value: Uint8Array, label: string): void {
  const c = libc();
  if (c.setsockopt(fd, SOL_SOCKET, name, value, value.length) !== 0) {
    throw errorFromErrno(c.errno(), { action: `set ${label} on a DHCP socket`, command: `setsockopt ${label}` });
  }
}

function int(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/** struct sockaddr_ll: family (host order), protocol (network order), interface index; the rest zero. */
function sockaddrLl(index: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_LL_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_PACKET, true);
  v.setUint16(2, ETH_P_IP, false);
  v.setInt32(4, index, true);
  return b;
}

/** struct sockaddr_in: family (host order), port and address (network order), zero padding. */
function sockaddrIn(address: Uint8Array, port: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_IN_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port, false);
  b.set(address, 4);
  return b;
}
