/**
 * One DHCP transaction: send, wait for the reply that answers it, send again every
 * `retransmitMs` (with jitter, so that many clients started together spread out) until a
 * deadline. Replies to others (a broadcast LAN carries every client's) and malformed
 * datagrams are skipped.
 */
import type { IpAddress } from '../../core/ip.js';
import type { DhcpSocket } from '../../dataplane/linux/index.js';
import { decodeDhcpMessage, type DhcpMessage } from './dhcp-message.js';

/** The clock and randomness of the client; a fake in the unit tests. */
export interface Clock {
  now(): number;
  /** In [0, 1). */
  random(): number;
}

export interface TransactionPlan<R> {
  /** The message to send at `elapsedMs` since the transaction began (its `secs` field grows), and where to. */
  readonly message: (elapsedMs: number) => { readonly bytes: Uint8Array; readonly to: IpAddress };
  /** The result a reply gives, or undefined for a reply that does not answer. */
  readonly accept: (reply: DhcpMessage) => R | undefined;
  /** Absolute time (the clock's) after which no reply is awaited. */
  readonly deadline: number;
  readonly retransmitMs: number;
}

/** The first accepted reply's result, or undefined at the deadline (or once the socket is closed). */
export async function transact<R>(socket: DhcpSocket, clock: Clock, plan: TransactionPlan<R>): Promise<R | undefined> {
  const began = clock.now();
  for (;;) {
    const now = clock.now();
    if (now >= plan.deadline) return undefined;
    const { bytes, to } = plan.message(now - began);
    socket.send(bytes, to);
    // 75..125 % of the interval.
    const resendAt = Math.min(plan.deadline, now + plan.retransmitMs * (0.75 + clock.random() / 2));
    for (;;) {
      const left = resendAt - clock.now();
      if (left <= 0) break;
      const datagram = await socket.receive(left);
      if (!datagram) {
        if (socket.closed) return undefined;
        continue;
      }
      const reply = decodeDhcpMessage(datagram);
      const result = reply ? plan.accept(reply) : undefined;
      if (result !== undefined) return result;
    }
  }
}
