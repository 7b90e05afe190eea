import test from 'ava';
import { InvalidConfigError, KernelError } from '../../../core/errors.js';
import {
  attrBe16,
  attrNested,
  attrString,
  attrU32,
  attrU8,
  decodeDone,
  decodeError,
  decodeIfaddrmsg,
  decodeIfinfomsg,
  decodeMessages,
  decodeNdmsg,
  decodeRtmsg,
  encodeAttrs,
  encodeIfaddrmsg,
  encodeIfinfomsg,
  encodeMessage,
  encodeNdmsg,
  encodeRtmsg,
  formatMac,
  parseAttrs,
  parseMac,
} from '../../../dataplane/linux/netlink/codec.js';
import { NLA_F_NESTED, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSG_DONE, NLMSG_ERROR } from '../../../dataplane/linux/netlink/constants.js';
import { captured } from './helpers/wire.js';
import { nackUnknownKind } from './fixtures/kernel-replies.js';

test('encodeMessage() writes nlmsghdr with the total length, type, flags, seq and pid', (t) => {
  const buf = encodeMessage({ type: 16, flags: 0x605, seq: 7, pid: 0 }, encodeIfinfomsg({ index: 3 }), [attrString(3, 'br0')]);
  // 16 header + 16 ifinfomsg + (4 + "br0\0") = 40
  t.is(buf.length, 40);
  t.is(buf.readUInt32LE(0), 40);
  t.is(buf.readUInt16LE(4), 16);
  t.is(buf.readUInt16LE(6), 0x605);
  t.is(buf.readUInt32LE(8), 7);
  t.is(buf.readInt32LE(16 + 4), 3);
  t.is(buf.readUInt16LE(32), 8); // attribute length excludes padding
  t.is(buf.toString('utf8', 36, 39), 'br0');
});

test('encodeAttrs() pads each attribute to 4 bytes and nests children', (t) => {
  const buf = encodeAttrs([attrU8(1, 5), attrNested(2 | NLA_F_NESTED, [attrU32(1, 0xdeadbeef), attrBe16(2, 4789)]), attrString(3, 'x')]);
  // u8: 5 -> 8; nested: 4 + 8 + 8 = 20; string "x\0": 6 -> 8
  t.is(buf.length, 36);
  const attrs = parseAttrs(buf);
  t.is(attrs.u8(1), 5);
  const nested = attrs.nested(2);
  t.truthy(nested);
  t.is(nested?.u32(1), 0xdeadbeef);
  t.is(nested?.be16(2), 4789);
  t.is(buf.readUInt16LE(8 + 2), 2 | NLA_F_NESTED, 'the nested flag is sent as given');
  t.is(attrs.string(3), 'x');
  t.is(attrs.u32(9), undefined);
});

test('attrNested() with a header puts the fixed struct before the children (veth peer layout)', (t) => {
  const buf = encodeAttrs([attrNested(1, [attrString(3, 'eth0')], encodeIfinfomsg({}))]);
  const peer = parseAttrs(buf).get(1);
  t.is(peer?.length, 16 + 12);
  t.is(parseAttrs(peer as Buffer, 16).string(3), 'eth0');
});

test('fixed headers round-trip', (t) => {
  const ifi = { family: 7, type: 1, index: 42, flags: 0x1103, change: 0xffffffff };
  t.deepEqual(decodeIfinfomsg(encodeIfinfomsg(ifi)), ifi);
  const ifa = { family: 10, prefixlen: 64, flags: 2, scope: 253, index: 9 };
  t.deepEqual(decodeIfaddrmsg(encodeIfaddrmsg(ifa)), ifa);
  const rt = { family: 2, dstLen: 24, srcLen: 0, tos: 0, table: 100, protocol: 3, scope: 253, type: 1, flags: 0x200 };
  t.deepEqual(decodeRtmsg(encodeRtmsg(rt)), rt);
  const nd = { family: 7, index: 5, state: 0x80, flags: 2, type: 0 };
  t.deepEqual(decodeNdmsg(encodeNdmsg(nd)), nd);
});

test('decodeMessages() splits a datagram and rejects a length past its end', (t) => {
  const a = encodeMessage({ type: 16, flags: 2, seq: 1, pid: 9 }, Buffer.alloc(16));
  const b = encodeMessage({ type: NLMSG_DONE, flags: 2, seq: 1, pid: 9 }, Buffer.alloc(4));
  const both = Buffer.concat([a, b]);
  const msgs = decodeMessages(both, both.length);
  t.deepEqual(
    msgs.map((m) => [m.type, m.seq, m.pid, m.payload.length]),
    [
      [16, 1, 9, 16],
      [NLMSG_DONE, 1, 9, 4],
    ],
  );
  const broken = Buffer.from(a);
  broken.writeUInt32LE(500, 0);
  t.throws(() => decodeMessages(broken, broken.length), { instanceOf: KernelError });
});

test('decodeError() reads errno and the extended-ACK text of a captured kernel NACK', (t) => {
  const msg = captured(nackUnknownKind);
  t.is(msg.type, NLMSG_ERROR);
  t.is(msg.seq, 77);
  t.truthy(msg.flags & NLM_F_CAPPED);
  t.truthy(msg.flags & NLM_F_ACK_TLVS);
  t.deepEqual(decodeError(msg), { errno: 95, message: 'Unknown device type' });
});

test('decodeError() reads a plain ACK and an uncapped NACK', (t) => {
  const ack = Buffer.alloc(20);
  t.deepEqual(decodeError({ type: NLMSG_ERROR, flags: 0, seq: 1, pid: 0, payload: ack }), { errno: 0 });
  // Uncapped: the whole 24-byte request is echoed before the TLVs.
  const tlv = encodeAttrs([attrString(1, 'boom')]);
  const payload = Buffer.concat([Buffer.alloc(4), Buffer.alloc(24), tlv]);
  payload.writeInt32LE(-17, 0);
  payload.writeUInt32LE(24, 4);
  t.deepEqual(decodeError({ type: NLMSG_ERROR, flags: NLM_F_ACK_TLVS, seq: 1, pid: 0, payload }), { errno: 17, message: 'boom' });
});

test('decodeDone() reports the error of a dump that failed part-way', (t) => {
  const payload = Buffer.alloc(4);
  payload.writeInt32LE(-4, 0);
  t.deepEqual(decodeDone({ type: NLMSG_DONE, flags: 2, seq: 1, pid: 0, payload }), { errno: 4 });
  t.deepEqual(decodeDone({ type: NLMSG_DONE, flags: 2, seq: 1, pid: 0, payload: Buffer.alloc(4) }), { errno: 0 });
});

test('parseMac() and formatMac() convert between text and bytes', (t) => {
  t.deepEqual([...parseMac('02:42:AC:11:00:02')], [2, 0x42, 0xac, 0x11, 0, 2]);
  t.deepEqual([...parseMac('02-42-ac-11-00-02')], [2, 0x42, 0xac, 0x11, 0, 2]);
  t.is(formatMac(Uint8Array.of(2, 0x42, 0xac, 0x11, 0, 2)), '02:42:ac:11:00:02');
  for (const bad of ['', '02:42:ac:11:00', '02:42:ac:11:00:02:03', '0g:42:ac:11:00:02', '2:42:ac:11:00:02']) {
    t.throws(() => parseMac(bad), { instanceOf: InvalidConfigError }, bad);
  }
});
