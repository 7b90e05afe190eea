/**
 * The DHCP client's socket: UDP port 68 on one interface of a container's namespace.
 *
 * An AF_INET datagram socket created while the thread is switched into the namespace stays
 * there (netns.ts). SO_BINDTODEVICE pins it to the interface, so a broadcast to
 * 255.255.255.255 leaves through it even while the interface has no address (the kernel then
 * sends from 0.0.0.0, as DHCP needs), and only that interface's replies arrive. Unicasts to
 * the server go from a socket bound to the leased address (openDhcpSocketFrom).
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
  const fd = inNetns(netnsPath, () => {
    const s = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) throw errorFromErrno(c.errno(), { action: `open a DHCP socket in ${netnsPath}`, command: 'socket(AF_INET, SOCK_DGRAM)' });
    try {
      setOption(s, SO_REUSEADDR, int(1), 'SO_REUSEADDR');
      setOption(s, SO_BROADCAST, int(1), 'SO_BROADCAST');
      setOption(s, SO_BINDTODEVICE, new TextEncoder().encode(`${ifname}\0`), `SO_BINDTODEVICE ${ifname}`);
      const addr = sockaddrIn(local ? local.toBytes() : new Uint8Array(4), DHCP_CLIENT_PORT);
      if (c.bind(s, addr, SOCKADDR_IN_LEN) !== 0) {
        const errno = c.errno();
        if (local && errno === EADDRNOTAVAIL) {
          c.close(s);
          return undefined;
        }
        throw errorFromErrno(errno, { action: `bind UDP port ${DHCP_CLIENT_PORT} on ${ifname} in ${netnsPath}`, command: `bind ${local ?? '0.0.0.0'}:${DHCP_CLIENT_PORT}` });
      }
      return s;
    } catch (err) {
      c.close(s);
      throw err;
    }
  });
  return fd === undefined ? undefined : new LinuxDhcpSocket(fd, ifname);
}

class LinuxDhcpSocket implements DhcpSocket {
  closed = false;
  private readonly buf = new Uint8Array(MAX_DATAGRAM);

  constructor(
    private readonly fd: number,
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
  }

  private tryReceive(): Uint8Array | undefined {
    if (this.closed) return undefined;
    const c = libc();
    for (;;) {
      const n = Number(c.recv(this.fd, this.buf, this.buf.length, MSG_DONTWAIT));
      if (n >= 0) return this.buf.slice(0, n);
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

/** struct sockaddr_in: family (host order), port and address (network order), zero padding. */
function sockaddrIn(address: Uint8Array, port: number): Uint8Array {
  const b = new Uint8Array(SOCKADDR_IN_LEN);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port, false);
  b.set(address, 4);
  return b;
}
