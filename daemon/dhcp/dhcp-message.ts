/**
 * DHCP messages on the wire (RFC 2131 §2, RFC 2132): the fixed BOOTP header, the magic cookie
 * and the options, as raw bytes per option code. Pure: `decodeDhcpMessage` answers undefined
 * for anything malformed, so a stray or hostile datagram is ignored, never thrown on.
 * What the options mean is in dhcp-options.ts.
 */
import { IpAddress } from '../../core/ip.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** The BOOTP flags bit that asks the server to broadcast its reply (the client has no address yet). */
export const BROADCAST_FLAG = 0x8000;

/** Option 53. */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const HEADER_LEN = 236;
const MAGIC_COOKIE = 0x63825363;
const OPT_PAD = 0;
const OPT_END = 255;
const OPT_OVERLOAD = 52;
const OPT_MESSAGE_TYPE = 53;
/** BOOTP's minimum message (RFC 1542): some relays and servers drop shorter ones. */
const MIN_MESSAGE_LEN = 300;
const ZERO = IpAddress.parse('0.0.0.0');

export interface DhcpMessage {
  readonly op: typeof BOOTREQUEST | typeof BOOTREPLY;
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly ciaddr: IpAddress;
  readonly yiaddr: IpAddress;
  readonly siaddr: IpAddress;
  readonly giaddr: IpAddress;
  /** The client's hardware address, `aa:bb:cc:dd:ee:ff` (Ethernet). */
  readonly chaddr: string;
  /** Option 53, when present. */
  readonly type: MessageType | undefined;
  /** Every option but pad, end and 53, by code; repeated instances concatenated (RFC 3396). */
  readonly options: ReadonlyMap<number, Uint8Array>;
}

/** What a client sends: the header fields it sets, and its options in order. */
export interface OutgoingMessage {
  readonly xid: number;
  readonly type: MessageType;
  readonly chaddr: string;
  readonly secs?: number;
  readonly flags?: number;
  readonly ciaddr?: IpAddress;
  /** Options after 53, in the order given; values over 255 bytes are split (RFC 3396). */
  readonly options: readonly (readonly [number, Uint8Array])[];
}

export function encodeDhcpRequest(m: OutgoingMessage): Uint8Array {
  const opts: number[] = [];
  const put = (code: number, value: Uint8Array) => {
    for (let at = 0; at === 0 || at < value.length; at += 255) {
      const part = value.subarray(at, at + 255);
      opts.push(code, part.length, ...part);
    }
  };
  put(OPT_MESSAGE_TYPE, Uint8Array.of(m.type));
  for (const [code, value] of m.options) put(code, value);
  opts.push(OPT_END);
  const len = Math.max(MIN_MESSAGE_LEN, HEADER_LEN + 4 + opts.length);
  const out = new Uint8Array(len);
  const v = new DataView(out.buffer);
  out[0] = BOOTREQUEST;
  out[1] = 1; // htype: Ethernet
  out[2] = 6; // hlen
  out[3] = 0; // hops
  v.setUint32(4, m.xid >>> 0);
  v.setUint16(8, m.secs ?? 0);
  v.setUint16(10, m.flags ?? 0);
  out.set((m.ciaddr ?? ZERO).toBytes(), 12);
  out.set(macBytes(m.chaddr), 28);
  v.setUint32(HEADER_LEN, MAGIC_COOKIE);
  out.set(opts, HEADER_LEN + 4);
  return out;
}

/** The message in `buf`, or undefined when it is not a well-formed DHCP message. */
export function decodeDhcpMessage(buf: Uint8Array): DhcpMessage | undefined {
  if (buf.length < HEADER_LEN + 4) return undefined;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const op = buf[0];
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return undefined;
  if (v.getUint32(HEADER_LEN) !== MAGIC_COOKIE) return undefined;
  const hlen = buf[2]!;
  if (hlen > 16) return undefined;
  const parts = new Map<number, Uint8Array[]>();
  if (!readOptions(buf.subarray(HEADER_LEN + 4), parts)) return undefined;
  // Option 52: the sname and file fields carry more options (RFC 2132 §9.3).
  const overload = parts.get(OPT_OVERLOAD)?.[0]?.[0];
  if (overload !== undefined) {
    if (overload & 1 && !readOptions(buf.subarray(108, 236), parts)) return undefined;
    if (overload & 2 && !readOptions(buf.subarray(44, 108), parts)) return undefined;
  }
  const options = new Map<number, Uint8Array>();
  for (const [code, chunks] of parts) options.set(code, concat(chunks));
  const typeByte = options.get(OPT_MESSAGE_TYPE);
  options.delete(OPT_MESSAGE_TYPE);
  options.delete(OPT_OVERLOAD);
  const type = typeByte?.length === 1 && typeByte[0]! >= 1 && typeByte[0]! <= 8 ? (typeByte[0] as MessageType) : undefined;
  return {
    op,
    xid: v.getUint32(4),
    secs: v.getUint16(8),
    flags: v.getUint16(10),
    ciaddr: ipAt(buf, 12),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    giaddr: ipAt(buf, 24),
    chaddr: [...buf.subarray(28, 28 + hlen)].map((b) => b.toString(16).padStart(2, '0')).join(':'),
    type,
    options,
  };
}

/** Reads code-length-value options into `into` until the end option; false when truncated. */
function readOptions(area: Uint8Array, into: Map<number, Uint8Array[]>): boolean {
  let i = 0;
  while (i < area.length) {
    const code = area[i]!;
    if (code === OPT_END) return true;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    const len = area[i + 1];
    if (len === undefined || i + 2 + len > area.length) return false;
    const list = into.get(code) ?? [];
    list.push(area.subarray(i + 2, i + 2 + len));
    into.set(code, list);
    i += 2 + len;
  }
  // Some servers fill the area to its end without an end option: accept what was whole.
  return true;
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function ipAt(buf: Uint8Array, at: number): IpAddress {
  return IpAddress.fromBytes(buf.subarray(at, at + 4));
}

/** `aa:bb:cc:dd:ee:ff` (or `-` separated) → 6 bytes; an unparsable MAC gives zeros, which no server answers. */
export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  const out = new Uint8Array(6);
  if (parts.length !== 6) return out;
  for (let i = 0; i < 6; i++) {
    const n = Number.parseInt(parts[i]!, 16);
    if (!/^[0-9a-fA-F]{1,2}$/.test(parts[i]!) || Number.isNaN(n)) return new Uint8Array(6);
    out[i] = n;
  }
  return out;
}
