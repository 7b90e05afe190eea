/**
 * The one module that talks to an rtnetlink socket. It sends a request, reads replies until
 * the kernel's ACK or NLMSG_DONE, and turns a negative ACK into berth's error classes.
 *
 * Everything is synchronous: rtnetlink handles a request inside sendto(2), so the ACK is
 * already queued when recv(2) runs, and a dump is produced one datagram per recv(2).
 * A socket stays bound to the network namespace it was created in (see netns.ts).
 */
import { endianness } from 'node:os';
import { KernelError, TryAgainError } from '../../../core/errors.js';
import { errorFromErrno } from '../kernel-error.js';
import type { Operation } from '../kernel-error.js';
import { EAGAIN, EINTR, libc, MSG_DONTWAIT, MSG_PEEK, MSG_TRUNC, SO_RCVTIMEO, SOCK_CLOEXEC, SOCK_RAW, SOL_SOCKET } from '../libc.js';
import { decodeDone, decodeError, decodeMessages, encodeMessage } from './codec.js';
import type { Attr, NlMessage } from './codec.js';
import {
  AF_NETLINK,
  NETLINK_CAP_ACK,
  NETLINK_EXT_ACK,
  NETLINK_GET_STRICT_CHK,
  NETLINK_ROUTE,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_MIN_TYPE,
  SOL_NETLINK,
} from './constants.js';

/** A request before sequencing: message type, extra flags, family header and attributes. */
export interface Request {
  readonly type: number;
  /** Flags besides NLM_F_REQUEST, NLM_F_ACK and NLM_F_DUMP, which the socket sets itself. */
  readonly flags?: number;
  /** The fixed family header (ifinfomsg, ifaddrmsg, rtmsg, ndmsg). */
  readonly header: Uint8Array;
  readonly attrs?: readonly Attr[];
}

/** Says what a request was, in words and as the equivalent command; called only on failure. */
export type Describe = () => Operation;

/** Turns one reply message into a value; undefined skips it. Must not keep `msg.payload`. */
export type Decode<T> = (msg: NlMessage) => T | undefined;

/** A dump racing with changes is flagged NLM_F_DUMP_INTR; it is retried this many times. */
const DUMP_ATTEMPTS = 5;

/** Bounds a wait for the kernel; rtnetlink answers in microseconds, so this only catches bugs. */
const RECV_TIMEOUT_SECONDS = 10;

/**
 * One receive buffer for every socket: all use is synchronous and replies are decoded before
 * the next recv, so sharing is safe. Kernel dumps fill at most 32 KiB per datagram; larger
 * single replies are detected with MSG_PEEK|MSG_TRUNC and the buffer grows.
 */
let recvBuffer: Buffer | undefined;

/** The kernel's address (nl_pid 0) as a `struct sockaddr_nl`. */
let kernelAddress: Buffer | undefined;

function sockaddrNl(): Buffer {
  if (!kernelAddress) {
    kernelAddress = Buffer.alloc(12);
    kernelAddress.writeUInt16LE(AF_NETLINK, 0);
  }
  return kernelAddress;
}

let leaked: FinalizationRegistry<number> | undefined;

/** Closes the fd of a socket that was dropped without close(). */
function leakGuard(): FinalizationRegistry<number> {
  leaked ??= new FinalizationRegistry((fd) => libc().close(fd));
  return leaked;
}

export class NetlinkSocket {
  #fd: number;
  #seq = 0;
  /** Whether the kernel applies dump filters itself (NETLINK_GET_STRICT_CHK, Linux 4.20+). */
  readonly strictDumps: boolean;

  private constructor(fd: number, strictDumps: boolean) {
    this.#fd = fd;
    this.strictDumps = strictDumps;
    leakGuard().register(this, fd, this);
  }

  /** Opens a NETLINK_ROUTE socket in the calling thread's current network namespace. */
  static open(): NetlinkSocket {
    if (endianness() !== 'LE') throw new KernelError('Cannot open a netlink socket: berth encodes netlink in little-endian order only');
    const c = libc();
    const op = { action: 'open a netlink socket', command: 'socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)' };
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw errorFromErrno(c.errno(), op);
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1);
      // Extended ACKs carry the kernel's reason ("Unknown device type"); capped ACKs do not
      // echo our whole request back. Both are optional: old kernels just lack the text.
      c.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
      c.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
      const strict = c.setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, one, 4) === 0;
      const timeout = Buffer.alloc(16);
      timeout.writeBigInt64LE(BigInt(RECV_TIMEOUT_SECONDS), 0);
      c.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16);
      if (c.bind(fd, sockaddrNl(), 12) < 0) throw errorFromErrno(c.errno(), op);
      return new NetlinkSocket(fd, strict);
    } catch (err) {
      c.close(fd);
      throw err;
    }
  }

  /** Sends a change request and waits for the kernel's ACK; throws the mapped error on a NACK. */
  execute(req: Request, describe: Describe): void {
    this.#transact(req, false, describe, undefined);
  }

  /** Sends a non-dump GET and returns its decoded reply. */
  get<T>(req: Request, describe: Describe, decode: Decode<T>): T | undefined {
    return this.#transact(req, false, describe, decode).items[0];
  }

  /** Dumps, retrying when the kernel reports the dump was interrupted by a change. */
  dump<T>(req: Request, describe: Describe, decode: Decode<T>): T[] {
    for (let attempt = 1; ; attempt++) {
      const { items, interrupted } = this.#transact(req, true, describe, decode);
      if (!interrupted) return items;
      if (attempt === DUMP_ATTEMPTS) {
        const op = describe();
        throw new TryAgainError(`Cannot ${op.action} (${op.command}): the dump was interrupted by concurrent changes ${DUMP_ATTEMPTS} times`, {
          operation: op.command,
          errno: EINTR,
        });
      }
    }
  }

  /** Closes the socket; later calls throw. Closing twice is harmless. */
  close(): void {
    if (this.#fd < 0) return;
    leakGuard().unregister(this);
    libc().close(this.#fd);
    this.#fd = -1;
  }

  #transact<T>(req: Request, dump: boolean, describe: Describe, decode: Decode<T> | undefined): { items: T[]; interrupted: boolean } {
    if (this.#fd < 0) throw new KernelError(`Cannot ${describe().action}: the netlink handle is closed`);
    const c = libc();
    this.#seq = (this.#seq + 1) >>> 0 || 1;
    const seq = this.#seq;
    const flags = NLM_F_REQUEST | (req.flags ?? 0) | (dump ? NLM_F_DUMP : NLM_F_ACK);
    const msg = encodeMessage({ type: req.type, flags, seq, pid: 0 }, req.header, req.attrs);
    for (;;) {
      if (c.sendto(this.#fd, msg, msg.length, 0, sockaddrNl(), 12) >= 0) break;
      const errno = c.errno();
      if (errno !== EINTR) throw errorFromErrno(errno, describe());
    }
    const items: T[] = [];
    let interrupted = false;
    let finished = false;
    try {
      for (;;) {
        const { buf, length } = this.#receive(describe);
        for (const m of decodeMessages(buf, length)) {
          // A reply to an earlier request that was abandoned (a timeout or an exception).
          if (m.seq !== seq) continue;
          if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === NLMSG_ERROR || m.type === NLMSG_DONE) {
            finished = true;
            const ack = m.type === NLMSG_ERROR ? decodeError(m) : decodeDone(m);
            if (ack.errno) throw errorFromErrno(ack.errno, describe(), ack.message);
            return { items, interrupted };
          }
          if (m.type < NLMSG_MIN_TYPE) continue; // NLMSG_NOOP, NLMSG_OVERRUN
          const v = decode?.(m);
          if (v !== undefined) items.push(v);
        }
      }
    } catch (err) {
      // The kernel refuses a new dump while one is still running on the socket (EBUSY),
      // so a dump abandoned half-way is read to its end before the error goes up.
      if (dump && !finished) this.#drain(seq);
      throw err;
    }
  }

  /** Reads and drops the rest of dump `seq`; gives up quietly on any error. */
  #drain(seq: number): void {
    try {
      for (;;) {
        // Non-blocking: the kernel queues the next part of a dump as the previous one is
        // read, so an empty queue means the dump is over (or a nested request read it).
        const { buf, length } = this.#receive(() => ({ action: 'drain a netlink dump', command: 'recv' }), MSG_DONTWAIT);
        for (const m of decodeMessages(buf, length)) {
          if (m.seq === seq && (m.type === NLMSG_DONE || m.type === NLMSG_ERROR)) return;
        }
      }
    } catch {
      // The socket is unusable for dumps only if the kernel still has one running; nothing more to do.
    }
  }

  /** Reads one datagram whole, growing the shared buffer when it would be truncated. */
  #receive(describe: Describe, flags = 0): { buf: Buffer; length: number } {
    const c = libc();
    let buf = (recvBuffer ??= Buffer.allocUnsafe(64 * 1024));
    for (;;) {
      const size = Number(c.recv(this.#fd, buf, buf.length, MSG_PEEK | MSG_TRUNC | flags));
      if (size < 0) {
        const errno = c.errno();
        if (errno === EINTR) continue;
        throw errorFromErrno(errno, describe(), errno === EAGAIN ? `no reply from the kernel within ${RECV_TIMEOUT_SECONDS} s` : undefined);
      }
      if (size > buf.length) {
        buf = recvBuffer = Buffer.allocUnsafe((size + 4095) & ~4095);
        continue;
      }
      const length = Number(c.recv(this.#fd, buf, buf.length, flags));
      if (length < 0) {
        const errno = c.errno();
        if (errno === EINTR) continue;
        throw errorFromErrno(errno, describe());
      }
      return { buf, length };
    }
  }
}
