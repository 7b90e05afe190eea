/**
 * Pure encoding and decoding of rtnetlink messages: the netlink header, the fixed family
 * headers (ifinfomsg, ifaddrmsg, rtmsg, ndmsg), nested attributes, and the error/ACK payload.
 * No FFI and no I/O here, so every byte layout is testable without privileges.
 *
 * Netlink uses host byte order; berth runs on little-endian machines (x86-64, arm64), and
 * the socket refuses to open elsewhere. Attributes that the kernel defines in network order
 * (the VXLAN port) are written with their own helper.
 */
import { InvalidConfigError, KernelError } from '../../../core/errors.js';
import type { IpFamily } from '../../../core/ip.js';
import { AF_INET, AF_INET6, NLA_HDRLEN, NLA_TYPE_MASK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_HDRLEN, NLMSGERR_ATTR_MSG } from './constants.js';

/** One netlink attribute: raw bytes, or nested attributes optionally preceded by a fixed header. */
export type Attr = { readonly type: number; readonly data: Uint8Array } | { readonly type: number; readonly header?: Uint8Array; readonly nested: readonly Attr[] };

/** Fields of `struct nlmsghdr` other than the length, which encoding computes. */
export interface MessageHeader {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

/** A received message; `payload` is everything after the 16-byte header. */
export interface NlMessage extends MessageHeader {
  readonly payload: Buffer;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

// ---- attribute constructors ----

export function attrU8(type: number, value: number): Attr {
  return { type, data: Uint8Array.of(value & 0xff) };
}

export function attrU16(type: number, value: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return { type, data: b };
}

export function attrU32(type: number, value: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return { type, data: b };
}

/** A 16-bit value in network byte order (IFLA_VXLAN_PORT). */
export function attrBe16(type: number, value: number): Attr {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return { type, data: b };
}

/** A NUL-terminated string, as iproute2 sends names. */
export function attrString(type: number, value: string): Attr {
  return { type, data: Buffer.from(`${value}\0`, 'utf8') };
}

export function attrBytes(type: number, value: Uint8Array): Attr {
  return { type, data: value };
}

export function attrNested(type: number, nested: readonly Attr[], header?: Uint8Array): Attr {
  return header ? { type, header, nested } : { type, nested };
}

// ---- encoding ----

function attrLength(a: Attr): number {
  if ('data' in a) return NLA_HDRLEN + a.data.length;
  let n = NLA_HDRLEN + align4(a.header?.length ?? 0);
  for (const c of a.nested) n += align4(attrLength(c));
  return n;
}

function writeAttr(buf: Buffer, offset: number, a: Attr): number {
  const len = attrLength(a);
  buf.writeUInt16LE(len, offset);
  buf.writeUInt16LE(a.type, offset + 2);
  let at = offset + NLA_HDRLEN;
  if ('data' in a) {
    buf.set(a.data, at);
  } else {
    if (a.header) {
      buf.set(a.header, at);
      at += align4(a.header.length);
    }
    for (const c of a.nested) at = writeAttr(buf, at, c);
  }
  return offset + align4(len);
}

/** Encodes attributes back to back (each padded to 4 bytes). */
export function encodeAttrs(attrs: readonly Attr[]): Buffer {
  let size = 0;
  for (const a of attrs) size += align4(attrLength(a));
  const buf = Buffer.alloc(size);
  let at = 0;
  for (const a of attrs) at = writeAttr(buf, at, a);
  return buf;
}

/** Encodes one complete message: nlmsghdr, the family header, then the attributes. */
export function encodeMessage(hdr: MessageHeader, body: Uint8Array, attrs: readonly Attr[] = []): Buffer {
  let size = NLMSG_HDRLEN + align4(body.length);
  for (const a of attrs) size += align4(attrLength(a));
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(size, 0);
  buf.writeUInt16LE(hdr.type, 4);
  buf.writeUInt16LE(hdr.flags, 6);
  buf.writeUInt32LE(hdr.seq >>> 0, 8);
  buf.writeUInt32LE(hdr.pid >>> 0, 12);
  buf.set(body, NLMSG_HDRLEN);
  let at = NLMSG_HDRLEN + align4(body.length);
  for (const a of attrs) at = writeAttr(buf, at, a);
  return buf;
}

// ---- decoding ----

function malformed(what: string): KernelError {
  return new KernelError(`Cannot decode a netlink reply: ${what}`);
}

/** Splits a received datagram into messages. Throws KernelError on a malformed length. */
export function decodeMessages(buf: Buffer, length: number): NlMessage[] {
  const out: NlMessage[] = [];
  let at = 0;
  while (at + NLMSG_HDRLEN <= length) {
    const len = buf.readUInt32LE(at);
    if (len < NLMSG_HDRLEN || at + len > length) throw malformed(`message length ${len} at offset ${at} of ${length}`);
    out.push({
      type: buf.readUInt16LE(at + 4),
      flags: buf.readUInt16LE(at + 6),
      seq: buf.readUInt32LE(at + 8),
      pid: buf.readUInt32LE(at + 12),
      payload: buf.subarray(at + NLMSG_HDRLEN, at + len),
    });
    at += align4(len);
  }
  return out;
}

/**
 * Attributes by type (flag bits masked off); for a repeated type the last one wins.
 * Only offsets are kept: a link reply has dozens of attributes and a decoder reads a few,
 * so values are read in place and sub-buffers are made only when asked for.
 */
export class AttrMap {
  readonly #buf: Buffer;
  /** Offset of each attribute's header in #buf. */
  readonly #at = new Map<number, number>();

  /** Parses the attributes in `buf` from `offset` (after a fixed header) to its end. */
  constructor(buf: Buffer, offset = 0) {
    this.#buf = buf;
    let at = offset;
    while (at + NLA_HDRLEN <= buf.length) {
      const len = buf.readUInt16LE(at);
      if (len < NLA_HDRLEN || at + len > buf.length) throw malformed(`attribute length ${len} at offset ${at} of ${buf.length}`);
      this.#at.set(buf.readUInt16LE(at + 2) & NLA_TYPE_MASK, at);
      at += align4(len);
    }
  }

  has(type: number): boolean {
    return this.#at.has(type);
  }

  /** The attribute's payload length, or -1 when absent. */
  #length(type: number): number {
    const at = this.#at.get(type);
    return at === undefined ? -1 : this.#buf.readUInt16LE(at) - NLA_HDRLEN;
  }

  /** The payload as a view into the received buffer: copy what must outlive decoding. */
  get(type: number): Buffer | undefined {
    const at = this.#at.get(type);
    if (at === undefined) return undefined;
    return this.#buf.subarray(at + NLA_HDRLEN, at + this.#buf.readUInt16LE(at));
  }

  u8(type: number): number | undefined {
    return this.#length(type) >= 1 ? this.#buf.readUInt8((this.#at.get(type) as number) + NLA_HDRLEN) : undefined;
  }

  u16(type: number): number | undefined {
    return this.#length(type) >= 2 ? this.#buf.readUInt16LE((this.#at.get(type) as number) + NLA_HDRLEN) : undefined;
  }

  /** A 16-bit value in network byte order. */
  be16(type: number): number | undefined {
    return this.#length(type) >= 2 ? this.#buf.readUInt16BE((this.#at.get(type) as number) + NLA_HDRLEN) : undefined;
  }

  u32(type: number): number | undefined {
    return this.#length(type) >= 4 ? this.#buf.readUInt32LE((this.#at.get(type) as number) + NLA_HDRLEN) : undefined;
  }

  /** A string attribute, without the trailing NUL. */
  string(type: number): string | undefined {
    const v = this.get(type);
    if (!v) return undefined;
    const nul = v.indexOf(0);
    return v.toString('utf8', 0, nul < 0 ? v.length : nul);
  }

  nested(type: number): AttrMap | undefined {
    const v = this.get(type);
    return v ? new AttrMap(v) : undefined;
  }
}

/** Parses the attributes in `buf` starting at `offset` (after a fixed header). */
export function parseAttrs(buf: Buffer, offset = 0): AttrMap {
  return new AttrMap(buf, offset);
}

// ---- fixed family headers ----

/** `struct ifinfomsg` (16 bytes). */
export interface Ifinfomsg {
  readonly family: number;
  readonly type: number;
  readonly index: number;
  readonly flags: number;
  readonly change: number;
}

export const IFINFOMSG_LEN = 16;

export function encodeIfinfomsg(h: Partial<Ifinfomsg>): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN);
  b.writeUInt8(h.family ?? 0, 0);
  b.writeUInt16LE(h.type ?? 0, 2);
  b.writeInt32LE(h.index ?? 0, 4);
  b.writeUInt32LE((h.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((h.change ?? 0) >>> 0, 12);
  return b;
}

export function decodeIfinfomsg(payload: Buffer): Ifinfomsg {
  if (payload.length < IFINFOMSG_LEN) throw malformed(`ifinfomsg of ${payload.length} bytes`);
  return {
    family: payload.readUInt8(0),
    type: payload.readUInt16LE(2),
    index: payload.readInt32LE(4),
    flags: payload.readUInt32LE(8),
    change: payload.readUInt32LE(12),
  };
}

/** `struct ifaddrmsg` (8 bytes). */
export interface Ifaddrmsg {
  readonly family: number;
  readonly prefixlen: number;
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
}

export const IFADDRMSG_LEN = 8;

export function encodeIfaddrmsg(h: Partial<Ifaddrmsg>): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b.writeUInt8(h.family ?? 0, 0);
  b.writeUInt8(h.prefixlen ?? 0, 1);
  b.writeUInt8((h.flags ?? 0) & 0xff, 2);
  b.writeUInt8(h.scope ?? 0, 3);
  b.writeUInt32LE(h.index ?? 0, 4);
  return b;
}

export function decodeIfaddrmsg(payload: Buffer): Ifaddrmsg {
  if (payload.length < IFADDRMSG_LEN) throw malformed(`ifaddrmsg of ${payload.length} bytes`);
  return {
    family: payload.readUInt8(0),
    prefixlen: payload.readUInt8(1),
    flags: payload.readUInt8(2),
    scope: payload.readUInt8(3),
    index: payload.readUInt32LE(4),
  };
}

/** `struct rtmsg` (12 bytes). */
export interface Rtmsg {
  readonly family: number;
  readonly dstLen: number;
  readonly srcLen: number;
  readonly tos: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
}

export const RTMSG_LEN = 12;

export function encodeRtmsg(h: Partial<Rtmsg>): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b.writeUInt8(h.family ?? 0, 0);
  b.writeUInt8(h.dstLen ?? 0, 1);
  b.writeUInt8(h.srcLen ?? 0, 2);
  b.writeUInt8(h.tos ?? 0, 3);
  b.writeUInt8(h.table ?? 0, 4);
  b.writeUInt8(h.protocol ?? 0, 5);
  b.writeUInt8(h.scope ?? 0, 6);
  b.writeUInt8(h.type ?? 0, 7);
  b.writeUInt32LE((h.flags ?? 0) >>> 0, 8);
  return b;
}

export function decodeRtmsg(payload: Buffer): Rtmsg {
  if (payload.length < RTMSG_LEN) throw malformed(`rtmsg of ${payload.length} bytes`);
  return {
    family: payload.readUInt8(0),
    dstLen: payload.readUInt8(1),
    srcLen: payload.readUInt8(2),
    tos: payload.readUInt8(3),
    table: payload.readUInt8(4),
    protocol: payload.readUInt8(5),
    scope: payload.readUInt8(6),
    type: payload.readUInt8(7),
    flags: payload.readUInt32LE(8),
  };
}

/** `struct ndmsg` (12 bytes). */
export interface Ndmsg {
  readonly family: number;
  readonly index: number;
  readonly state: number;
  readonly flags: number;
  readonly type: number;
}

export const NDMSG_LEN = 12;

export function encodeNdmsg(h: Partial<Ndmsg>): Buffer {
  const b = Buffer.alloc(NDMSG_LEN);
  b.writeUInt8(h.family ?? 0, 0);
  b.writeInt32LE(h.index ?? 0, 4);
  b.writeUInt16LE(h.state ?? 0, 8);
  b.writeUInt8(h.flags ?? 0, 10);
  b.writeUInt8(h.type ?? 0, 11);
  return b;
}

export function decodeNdmsg(payload: Buffer): Ndmsg {
  if (payload.length < NDMSG_LEN) throw malformed(`ndmsg of ${payload.length} bytes`);
  return {
    family: payload.readUInt8(0),
    index: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
    type: payload.readUInt8(11),
  };
}

// ---- acknowledgements ----

/** The outcome carried by an NLMSG_ERROR or NLMSG_DONE: errno 0 is success. */
export interface Ack {
  /** Positive errno, or 0. */
  readonly errno: number;
  /** The kernel's extended-ACK text (NLMSGERR_ATTR_MSG), e.g. "Unknown device type". */
  readonly message?: string;
}

/**
 * Decodes an NLMSG_ERROR payload: `int error`, the echoed request header (and its payload
 * unless NLM_F_CAPPED), then extended-ACK attributes when NLM_F_ACK_TLVS is set.
 */
export function decodeError(msg: NlMessage): Ack {
  const p = msg.payload;
  if (p.length < 4) throw malformed(`error message of ${p.length} bytes`);
  const errno = errnoOf(p);
  if (!(msg.flags & NLM_F_ACK_TLVS) || p.length < 4 + NLMSG_HDRLEN) return { errno };
  const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : p.readUInt32LE(4);
  return withExtAck(errno, p, 4 + align4(echoed));
}

/** Decodes an NLMSG_DONE payload: `int error` (a dump that failed part-way), then extended ACK. */
export function decodeDone(msg: NlMessage): Ack {
  const p = msg.payload;
  if (p.length < 4) return { errno: 0 };
  const errno = errnoOf(p);
  if (!(msg.flags & NLM_F_ACK_TLVS)) return { errno };
  return withExtAck(errno, p, 4);
}

/** The kernel sends `-errno` as an int; 0 stays 0 (not -0). */
function errnoOf(p: Buffer): number {
  const v = p.readInt32LE(0);
  return v < 0 ? -v : v;
}

function withExtAck(errno: number, p: Buffer, offset: number): Ack {
  if (offset >= p.length) return { errno };
  const message = parseAttrs(p, offset).string(NLMSGERR_ATTR_MSG);
  return message ? { errno, message } : { errno };
}

// ---- address families and link-layer addresses ----

/** The address family number of an IP family. */
export function afOf(family: IpFamily): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** The IP family of an address family number, or undefined for any other family. */
export function ipFamilyOf(af: number): IpFamily | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

/** Parses `aa:bb:cc:dd:ee:ff` (also with `-`) into 6 bytes; InvalidConfigError otherwise. */
export function parseMac(text: string): Buffer {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) {
    throw new InvalidConfigError(`Cannot use ${JSON.stringify(text)} as a MAC address: expected six hex pairs such as 02:42:ac:11:00:02`, {
      field: 'mac',
      value: text,
    });
  }
  return Buffer.from(text.replace(/[:-]/g, ''), 'hex');
}

/** Formats link-layer bytes as lower-case colon hex. */
export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
