/**
 * Fakes for the DHCP client's unit tests: a clock with timers that only move when the test
 * says, and a LAN whose DHCP server is a function of each request. Server replies are built
 * byte by byte here, independently of the client's encoder, so the decoder is checked too.
 */
import { IpAddress } from '../../../../core/ip.js';
import type { DhcpSocket } from '../../../../dataplane/linux/index.js';
import type { DhcpClientPorts } from '../../../../daemon/dhcp/dhcp-client.js';
import { decodeDhcpMessage, macBytes, type DhcpMessage } from '../../../../daemon/dhcp/dhcp-message.js';
import type { Log } from '../../../../daemon/log.js';

export const T0 = Date.parse('2030-01-01T00:00:00.000Z');

export interface ServerReply {
  readonly type: number;
  readonly xid: number;
  readonly chaddr: string;
  readonly yiaddr?: string;
  readonly options?: readonly (readonly [number, readonly number[]])[];
}

/** A BOOTREPLY on the wire: header, magic cookie, option 53, the options, end. */
export function replyBytes(r: ServerReply): Uint8Array {
  const opts = [53, 1, r.type];
  for (const [code, value] of r.options ?? []) opts.push(code, value.length, ...value);
  opts.push(255);
  const out = new Uint8Array(Math.max(300, 240 + opts.length));
  const v = new DataView(out.buffer);
  out[0] = 2;
  out[1] = 1;
  out[2] = 6;
  v.setUint32(4, r.xid >>> 0);
  if (r.yiaddr) out.set(IpAddress.parse(r.yiaddr).toBytes(), 16);
  out.set(macBytes(r.chaddr), 28);
  v.setUint32(236, 0x63825363);
  out.set(opts, 240);
  return out;
}

export const ip = (s: string): number[] => [...IpAddress.parse(s).toBytes()];
export const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

export interface SentMessage {
  readonly at: number;
  readonly from: string;
  readonly to: string;
  readonly message: DhcpMessage;
  readonly netnsPath: string;
  readonly ifname: string;
}

/** What the fake server answers to a request: reply options, or nothing. */
export type Server = (m: DhcpMessage, sent: SentMessage) => ServerReply | undefined;

export class FakeHost {
  now = T0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  readonly sent: SentMessage[] = [];
  /** Namespaces that exist. */
  readonly namespaces = new Set<string>();
  /** Addresses on interfaces: `netns|ifname` → addresses. */
  readonly addresses = new Map<string, Set<string>>();
  server: Server = () => undefined;
  private seq = 0;

  readonly ports: DhcpClientPorts = {
    openSocket: ({ netnsPath, ifname }, from) => {
      if (from && !this.addresses.get(`${netnsPath}|${ifname}`)?.has(String(from))) return undefined;
      return this.socket(netnsPath, ifname, from ? String(from) : '0.0.0.0');
    },
    netnsExists: (path) => this.namespaces.has(path),
    clock: { now: () => this.now, random: () => ((this.seq = (this.seq * 1103515245 + 12345) % 2 ** 31), this.seq / 2 ** 31) },
    setTimer: (fn, ms) => {
      const id = this.nextId++;
      this.timers.push({ at: this.now + ms, fn, id });
      return id;
    },
    clearTimer: (h) => {
      this.timers = this.timers.filter((t) => t.id !== h);
    },
  };

  /** When the next timer is due, if one is set. */
  get nextTimer(): number | undefined {
    return this.timers.length ? Math.min(...this.timers.map((t) => t.at)) : undefined;
  }

  /** Moves the clock to `until`, firing each timer due on the way at its time, and lets the work it starts finish. */
  async advanceTo(until: number): Promise<void> {
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.now = Math.max(this.now, due.at);
      due.fn();
    }
    this.now = Math.max(this.now, until);
    await settle();
  }

  private socket(netnsPath: string, ifname: string, from: string): DhcpSocket {
    const inbox: Uint8Array[] = [];
    const sent = (m: SentMessage) => this.sent.push(m);
    const serve: Server = (m, s) => this.server(m, s);
    const clock = { pass: (ms: number) => (this.now += ms), now: () => this.now };
    let closed = false;
    return {
      get closed() {
        return closed;
      },
      send(bytes, to) {
        const message = decodeDhcpMessage(bytes);
        if (!message) throw new Error('the client sent a message its own decoder refuses');
        const s = { at: clock.now(), from, to: String(to), message, netnsPath, ifname };
        sent(s);
        const r = serve(message, s);
        if (r) inbox.push(replyBytes(r));
      },
      async receive(ms) {
        const next = inbox.shift();
        if (next) return next;
        // Nothing will arrive: the wait passes.
        clock.pass(ms);
        return undefined;
      },
      close() {
        closed = true;
      },
    };
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

export function memoryLog(): Log & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (message: string, fields: Record<string, unknown> = {}) =>
      void lines.push({ level, message, fields });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export interface Pool {
  /** MAC → address leased. */
  readonly leases: Map<string, string>;
}

/**
 * A well-behaved server: offers 192.0.2.10 + n, ACKs requests for what it offered or leased
 * (with a 1 h lease, T1 30 min, T2 52.5 min unless `times` says), NAKs requests for others.
 */
export function simpleServer(
  pool: Pool = { leases: new Map() },
  extra: readonly (readonly [number, readonly number[]])[] = [],
  times: { lease: number; t1?: number; t2?: number } = { lease: 3600 },
): Server {
  const serverId = [54, ip('192.0.2.1')] as const;
  const leaseOpts = (): (readonly [number, readonly number[]])[] => [
    serverId,
    [51, u32(times.lease)],
    ...(times.t1 !== undefined ? [[58, u32(times.t1)] as const] : []),
    ...(times.t2 !== undefined ? [[59, u32(times.t2)] as const] : []),
    [1, ip('255.255.255.0')],
    [3, ip('192.0.2.1')],
    ...extra,
  ];
  return (m) => {
    if (m.type === 1) {
      const address = pool.leases.get(m.chaddr) ?? `192.0.2.${10 + pool.leases.size}`;
      pool.leases.set(m.chaddr, address);
      return { type: 2, xid: m.xid, chaddr: m.chaddr, yiaddr: address, options: leaseOpts() };
    }
    if (m.type === 3) {
      const wanted = m.options.get(50) ? IpAddress.fromBytes(m.options.get(50)!).toString() : m.ciaddr.toString();
      if (pool.leases.get(m.chaddr) !== wanted) return { type: 6, xid: m.xid, chaddr: m.chaddr, options: [serverId] };
      return { type: 5, xid: m.xid, chaddr: m.chaddr, yiaddr: wanted, options: leaseOpts() };
    }
    if (m.type === 7) pool.leases.delete(m.chaddr);
    return undefined;
  };
}
