import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { decodeNdmsg, NDMSG_LEN } from '../../../dataplane/linux/netlink/codec.js';
import * as K from '../../../dataplane/linux/netlink/constants.js';
import {
  appendFdbRequest,
  decodeFdb,
  decodeNeighbour,
  deleteFdbRequest,
  deleteNeighbourRequest,
  describeFdb,
  listFdbRequest,
  listNeighboursRequest,
  setNeighbourRequest,
} from '../../../dataplane/linux/netlink/neighbours.js';
import { fdbVxlan, neighbour } from './fixtures/kernel-replies.js';
import { attrsOf, captured, sent } from './helpers/wire.js';

test('setNeighbourRequest() replaces a permanent entry', (t) => {
  const msg = sent(setNeighbourRequest({ index: 3, ip: IpAddress.parse('10.0.0.9'), mac: '02:00:00:00:00:09' }));
  t.is(msg.type, K.RTM_NEWNEIGH);
  t.is(msg.flags, K.NLM_F_CREATE | K.NLM_F_REPLACE);
  t.like(decodeNdmsg(msg.payload), { family: K.AF_INET, index: 3, state: K.NUD_PERMANENT });
  const attrs = attrsOf(msg, NDMSG_LEN);
  t.is(attrs.get(K.NDA_DST)?.toString('hex'), '0a000009');
  t.is(attrs.get(K.NDA_LLADDR)?.toString('hex'), '020000000009');
  const del = sent(deleteNeighbourRequest({ index: 3, ip: IpAddress.parse('fd00::9') }));
  t.like(decodeNdmsg(del.payload), { family: K.AF_INET6, index: 3 });
});

test('listNeighboursRequest() carries the device filter in NDA_IFINDEX', (t) => {
  const msg = sent(listNeighboursRequest({ index: 4, family: 6 }));
  t.like(decodeNdmsg(msg.payload), { family: K.AF_INET6, index: 0 });
  t.is(attrsOf(msg, NDMSG_LEN).u32(K.NDA_IFINDEX), 4);
});

test('appendFdbRequest() is AF_BRIDGE, create|append, NTF_SELF with NDA_DST for vxlan', (t) => {
  const msg = sent(appendFdbRequest({ index: 8, mac: '00:00:00:00:00:00', dst: IpAddress.parse('10.0.0.2'), self: true }));
  t.is(msg.type, K.RTM_NEWNEIGH);
  t.is(msg.flags, K.NLM_F_CREATE | K.NLM_F_APPEND);
  t.like(decodeNdmsg(msg.payload), { family: K.AF_BRIDGE, index: 8, state: K.NUD_PERMANENT, flags: K.NTF_SELF });
  const attrs = attrsOf(msg, NDMSG_LEN);
  t.is(attrs.get(K.NDA_LLADDR)?.toString('hex'), '000000000000');
  t.is(attrs.get(K.NDA_DST)?.toString('hex'), '0a000002');
  const master = sent(appendFdbRequest({ index: 8, mac: '02:00:00:00:00:01' }));
  t.is(decodeNdmsg(master.payload).flags, K.NTF_MASTER);
  t.false(attrsOf(master, NDMSG_LEN).has(K.NDA_DST));
  const del = sent(deleteFdbRequest({ index: 8, mac: '02:00:00:00:00:01', self: true }));
  t.like(decodeNdmsg(del.payload), { family: K.AF_BRIDGE, flags: K.NTF_SELF });
  t.is(
    describeFdb('append', 'vx0', { index: 8, mac: '00:00:00:00:00:00', dst: IpAddress.parse('10.0.0.2'), self: true }).command,
    'bridge fdb append 00:00:00:00:00:00 dev vx0 dst 10.0.0.2 self permanent',
  );
});

test('listFdbRequest() filters the port in ndm_ifindex and the bridge in NDA_MASTER', (t) => {
  const msg = sent(listFdbRequest({ index: 3, master: 2 }));
  t.like(decodeNdmsg(msg.payload), { family: K.AF_BRIDGE, index: 3 });
  t.is(attrsOf(msg, NDMSG_LEN).u32(K.NDA_MASTER), 2);
});

test('decodeNeighbour() and decodeFdb() read captured replies', (t) => {
  const n = decodeNeighbour(captured(neighbour));
  t.like(n, { mac: '02:00:00:00:00:50', state: K.NUD_PERMANENT });
  t.is(n?.ip.toString(), '10.1.0.50');
  t.is(decodeFdb(captured(neighbour)), undefined, 'an AF_INET entry is not an FDB entry');
  const f = decodeFdb(captured(fdbVxlan));
  t.like(f, { mac: '00:00:00:00:00:00', flags: K.NTF_SELF });
  t.is((f?.state ?? 0) & K.NUD_PERMANENT, K.NUD_PERMANENT);
  t.is(f?.dst?.toString(), '10.1.0.77');
  t.is(decodeNeighbour(captured(fdbVxlan)), undefined, 'an FDB entry is not a neighbour');
});
