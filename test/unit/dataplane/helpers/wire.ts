/** Test helpers: a request as the kernel would receive it, and a captured reply as a message. */
import { decodeMessages, encodeMessage, parseAttrs } from '../../../../dataplane/linux/netlink/codec.js';
import type { AttrMap, NlMessage } from '../../../../dataplane/linux/netlink/codec.js';
import type { Request } from '../../../../dataplane/linux/netlink/socket.js';

/** Encodes `req` as the socket would (sequence 1) and decodes it back into one message. */
export function sent(req: Request): NlMessage {
  const buf = encodeMessage({ type: req.type, flags: req.flags ?? 0, seq: 1, pid: 0 }, req.header, req.attrs);
  const msgs = decodeMessages(buf, buf.length);
  if (msgs.length !== 1 || !msgs[0]) throw new Error(`expected one message, got ${msgs.length}`);
  return msgs[0];
}

/** The attributes of a message after its fixed header of `headerLength` bytes. */
export function attrsOf(msg: NlMessage, headerLength: number): AttrMap {
  return parseAttrs(msg.payload, headerLength);
}

/** A captured whole message (hex) as a decoded message. */
export function captured(hex: string): NlMessage {
  const buf = Buffer.from(hex, 'hex');
  const msgs = decodeMessages(buf, buf.length);
  if (msgs.length !== 1 || !msgs[0]) throw new Error(`expected one message, got ${msgs.length}`);
  return msgs[0];
}

/** The raw type field (flag bits included) of the first attribute of `type` in `buf` from `offset`. */
export function rawAttrType(buf: Buffer, offset: number, type: number): number | undefined {
  let at = offset;
  while (at + 4 <= buf.length) {
    const len = buf.readUInt16LE(at);
    const raw = buf.readUInt16LE(at + 2);
    if ((raw & 0x3fff) === type) return raw;
    if (len < 4) return undefined;
    at += (len + 3) & ~3;
  }
  return undefined;
}
