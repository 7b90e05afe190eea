import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { attrBytes, decodeNdmsg, encodeNdmsg, NDMSG_LEN } from '../../../dataplane/linux/netlink/codec.js';
import * as K from '../../../dataplane/linux/netlink/constants.js';
import {
  appendFdbRequest,
  decodeFdb,
  decodeNeighbour,
  deleteFdbRequest,
  deleteNeighbourRequest,
  describeFdb,
  describeNeighbour,
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

test('proxy entries: NTF_PROXY and no MAC to add, NTF_PROXY to delete and to dump; decoded as proxy', (t) => {
  const add = sent(setNeighbourRequest({ index: 7, ip: IpAddress.parse('10.79.0.100'), proxy: true }));
  t.is(add.type, K.RTM_NEWNEIGH);
  t.is(add.flags, K.NLM_F_CREATE | K.NLM_F_REPLACE);
  t.like(decodeNdmsg(add.payload), { family: K.AF_INET, index: 7, flags: K.NTF_PROXY, state: 0 });
  const attrs = attrsOf(add, NDMSG_LEN);
  t.is(attrs.get(K.NDA_DST)?.toString('hex'), '0a4f0064');
  t.false(attrs.has(K.NDA_LLADDR), 'the device answers with its own MAC');
  const del = sent(deleteNeighbourRequest({ index: 7, ip: IpAddress.parse('fd79::100'), proxy: true }));
  t.like(decodeNdmsg(del.payload), { family: K.AF_INET6, index: 7, flags: K.NTF_PROXY });
  t.is(decodeNdmsg(sent(deleteNeighbourRequest({ index: 7, ip: IpAddress.parse('fd79::100') })).payload).flags, 0, 'a plain delete is no proxy delete');
  const list = sent(listNeighboursRequest({ index: 7, proxy: true }));
  t.like(decodeNdmsg(list.payload), { family: K.AF_UNSPEC, index: 0, flags: K.NTF_PROXY });
  t.is(attrsOf(list, NDMSG_LEN).u32(K.NDA_IFINDEX), 7);
  t.is(decodeNdmsg(sent(listNeighboursRequest({ index: 7 })).payload).flags, 0);
  t.deepEqual(describeNeighbour('replace', 'eth0', { ip: IpAddress.parse('10.79.0.100'), proxy: true }), {
    action: 'set proxy entry 10.79.0.100 on eth0',
    command: 'ip neigh replace proxy 10.79.0.100 dev eth0',
    removes: false,
  });
  // What the kernel dumps for a proxy entry: the header flags, the address, no MAC.
  const reply = sent({ type: K.RTM_NEWNEIGH, header: encodeNdmsg({ family: K.AF_INET6, index: 7, flags: K.NTF_PROXY }), attrs: [attrBytes(K.NDA_DST, IpAddress.parse('fd79::100').toBytes())] });
  const n = decodeNeighbour(reply);
  t.like(n, { index: 7, proxy: true, state: 0 });
  t.is(n?.ip.toString(), 'fd79::100');
  t.is(n?.mac, undefined);
  t.is(decodeNeighbour(captured(neighbour))?.proxy, undefined, 'an ordinary entry is no proxy entry');
});
