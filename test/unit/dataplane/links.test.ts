import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { InvalidConfigError } from '../../../core/errors.js';
import { decodeIfinfomsg, IFINFOMSG_LEN, parseAttrs } from '../../../dataplane/linux/netlink/codec.js';
import * as K from '../../../dataplane/linux/netlink/constants.js';
import {
  addLinkRequest,
  decodeLink,
  deleteLinkRequest,
  describeAddLink,
  describeSetBridgePort,
  describeSetLink,
  getLinkRequest,
  isValidLinkName,
  listLinksRequest,
  setBridgePortRequest,
  setLinkRequest,
} from '../../../dataplane/linux/netlink/links.js';
import { macvlan, vethBridgePort, vxlan } from './fixtures/kernel-replies.js';
import { attrsOf, captured, rawAttrType, sent } from './helpers/wire.js';

const nameOf = (i: number) => `#${i}`;

test('addLinkRequest() for a bridge: create-exclusive, name, mtu, mac, up in ifi_flags', (t) => {
  const msg = sent(addLinkRequest({ kind: 'bridge', name: 'br0', mtu: 1450, mac: '02:00:00:00:00:01', up: true }));
  t.is(msg.type, K.RTM_NEWLINK);
  t.is(msg.flags, K.NLM_F_CREATE | K.NLM_F_EXCL);
  const hdr = decodeIfinfomsg(msg.payload);
  t.is(hdr.flags & K.IFF_UP, K.IFF_UP);
  t.is(hdr.change & K.IFF_UP, K.IFF_UP);
  const attrs = attrsOf(msg, IFINFOMSG_LEN);
  t.is(attrs.string(K.IFLA_IFNAME), 'br0');
  t.is(attrs.u32(K.IFLA_MTU), 1450);
  t.is(attrs.get(K.IFLA_ADDRESS)?.toString('hex'), '020000000001');
  t.is(attrs.nested(K.IFLA_LINKINFO)?.string(K.IFLA_INFO_KIND), 'bridge');
  t.false(attrs.has(K.IFLA_MASTER));
});

test('addLinkRequest() for a veth puts the peer, with its namespace fd, in VETH_INFO_PEER', (t) => {
  const msg = sent(addLinkRequest({ kind: 'veth', name: 'h1', mtu: 1400, master: 4, peer: { name: 'eth0', netnsFd: 23, mac: '02:00:00:00:00:02' } }));
  const attrs = attrsOf(msg, IFINFOMSG_LEN);
  t.is(attrs.u32(K.IFLA_MASTER), 4);
  t.false(attrs.has(K.IFLA_NET_NS_FD), 'only the peer moves');
  const info = attrs.nested(K.IFLA_LINKINFO);
  t.is(info?.string(K.IFLA_INFO_KIND), 'veth');
  const peerRaw = info?.nested(K.IFLA_INFO_DATA)?.get(K.VETH_INFO_PEER);
  t.truthy(peerRaw);
  const peer = parseAttrs(peerRaw as Buffer, IFINFOMSG_LEN);
  t.is(peer.string(K.IFLA_IFNAME), 'eth0');
  t.is(peer.u32(K.IFLA_NET_NS_FD), 23);
  t.is(peer.u32(K.IFLA_MTU), 1400, 'the peer takes the link MTU unless given its own');
  t.is(peer.get(K.IFLA_ADDRESS)?.toString('hex'), '020000000002');
});

test('addLinkRequest() for vxlan: VNI, port in network order, local, parent, learning off', (t) => {
  const msg = sent(addLinkRequest({ kind: 'vxlan', name: 'vx0', vni: 42, local: IpAddress.parse('10.9.9.9'), parent: 3 }));
  const data = attrsOf(msg, IFINFOMSG_LEN).nested(K.IFLA_LINKINFO)?.nested(K.IFLA_INFO_DATA);
  t.is(data?.u32(K.IFLA_VXLAN_ID), 42);
  t.is(data?.get(K.IFLA_VXLAN_PORT)?.toString('hex'), '12b5', '4789 big-endian');
  t.is(data?.get(K.IFLA_VXLAN_LOCAL)?.toString('hex'), '0a090909');
  t.is(data?.u32(K.IFLA_VXLAN_LINK), 3);
  t.is(data?.u8(K.IFLA_VXLAN_LEARNING), 0);
  const v6 = sent(addLinkRequest({ kind: 'vxlan', name: 'vx6', vni: 1, port: 8472, local: IpAddress.parse('fd00::1'), learning: true }));
  const data6 = attrsOf(v6, IFINFOMSG_LEN).nested(K.IFLA_LINKINFO)?.nested(K.IFLA_INFO_DATA);
  t.is(data6?.get(K.IFLA_VXLAN_LOCAL6)?.length, 16);
  t.is(data6?.be16(K.IFLA_VXLAN_PORT), 8472);
  t.is(data6?.u8(K.IFLA_VXLAN_LEARNING), 1);
});

test('addLinkRequest() for macvlan: parent in IFLA_LINK, mode in the data', (t) => {
  const msg = sent(addLinkRequest({ kind: 'macvlan', name: 'mv0', parent: 7, mode: 'passthru' }));
  const attrs = attrsOf(msg, IFINFOMSG_LEN);
  t.is(attrs.u32(K.IFLA_LINK), 7);
  t.is(attrs.nested(K.IFLA_LINKINFO)?.nested(K.IFLA_INFO_DATA)?.u32(K.IFLA_MACVLAN_MODE), 8);
});

test('addLinkRequest() refuses kinds and modes it does not know', (t) => {
  t.throws(() => addLinkRequest({ kind: 'dummy', name: 'd0' } as never), { instanceOf: InvalidConfigError });
  t.throws(() => addLinkRequest({ kind: 'macvlan', name: 'm', parent: 1, mode: 'sideways' as never }), { instanceOf: InvalidConfigError });
  t.throws(() => addLinkRequest({ kind: 'bridge', name: 'b', mac: 'nope' }), { instanceOf: InvalidConfigError });
});

test('addLinkRequest() and setLinkRequest() refuse names the kernel would refuse', (t) => {
  for (const bad of ['', 'a-name-of-16-chr', 'a/b', 'a:b', 'a b', '.', '..']) {
    t.throws(() => addLinkRequest({ kind: 'bridge', name: bad }), { instanceOf: InvalidConfigError }, bad);
    t.false(isValidLinkName(bad), bad);
  }
  t.throws(() => addLinkRequest({ kind: 'veth', name: 'ok', peer: { name: 'x'.repeat(16) } }), { instanceOf: InvalidConfigError });
  t.throws(() => setLinkRequest(3, { name: 'eth0:1' }), { instanceOf: InvalidConfigError });
  t.true(isValidLinkName('a-name-of-15-ch'));
  t.true(isValidLinkName('eth0.100'));
});

test('describeAddLink() reads like the ip command', (t) => {
  t.deepEqual(describeAddLink({ kind: 'bridge', name: 'br0' }, nameOf), { action: 'add link "br0"', command: 'ip link add br0 type bridge' });
  t.is(
    describeAddLink({ kind: 'vxlan', name: 'vx0', vni: 42, local: IpAddress.parse('10.0.0.1'), parent: 2 }, nameOf).command,
    'ip link add vx0 type vxlan id 42 dstport 4789 local 10.0.0.1 dev #2 nolearning',
  );
  t.is(describeAddLink({ kind: 'veth', name: 'a', peer: { name: 'b', netnsFd: 9 } }, nameOf).command, 'ip link add a type veth peer name b netns fd:9');
  t.is(describeAddLink({ kind: 'macvlan', name: 'm', parent: 3, mode: 'bridge' }, nameOf).command, 'ip link add link #3 m type macvlan mode bridge');
});

test('getLinkRequest() asks by name (not a dump) or by index', (t) => {
  const byName = sent(getLinkRequest({ name: 'eth0' }));
  t.is(byName.type, K.RTM_GETLINK);
  t.is(byName.flags & K.NLM_F_DUMP, 0);
  t.is(attrsOf(byName, IFINFOMSG_LEN).string(K.IFLA_IFNAME), 'eth0');
  t.is(decodeIfinfomsg(sent(getLinkRequest({ index: 12 })).payload).index, 12);
});

test('listLinksRequest() sends the master filter as IFLA_MASTER, not in the header', (t) => {
  const msg = sent(listLinksRequest({ master: 5 }));
  t.is(decodeIfinfomsg(msg.payload).index, 0);
  t.is(attrsOf(msg, IFINFOMSG_LEN).u32(K.IFLA_MASTER), 5);
  t.false(attrsOf(sent(listLinksRequest()), IFINFOMSG_LEN).has(K.IFLA_MASTER));
});

test('deleteLinkRequest() names the index', (t) => {
  const msg = sent(deleteLinkRequest(9));
  t.is(msg.type, K.RTM_DELLINK);
  t.is(decodeIfinfomsg(msg.payload).index, 9);
});

test('setLinkRequest() changes only what is given, flags through ifi_change', (t) => {
  const down = sent(setLinkRequest(4, { up: false, promisc: true, mtu: 9000, name: 'eth1', master: 0, netnsFd: 11 }));
  t.is(down.type, K.RTM_SETLINK);
  const hdr = decodeIfinfomsg(down.payload);
  t.is(hdr.index, 4);
  t.is(hdr.change, K.IFF_UP | K.IFF_PROMISC);
  t.is(hdr.flags, K.IFF_PROMISC);
  const attrs = attrsOf(down, IFINFOMSG_LEN);
  t.is(attrs.u32(K.IFLA_MTU), 9000);
  t.is(attrs.string(K.IFLA_IFNAME), 'eth1');
  t.is(attrs.u32(K.IFLA_MASTER), 0, 'master 0 is nomaster');
  t.is(attrs.u32(K.IFLA_NET_NS_FD), 11);
  const mtuOnly = sent(setLinkRequest(4, { mtu: 1400 }));
  t.is(decodeIfinfomsg(mtuOnly.payload).change, 0);
  t.false(attrsOf(mtuOnly, IFINFOMSG_LEN).has(K.IFLA_MASTER));
  t.is(describeSetLink('eth0', { master: 0, up: true }, nameOf).command, 'ip link set dev eth0 nomaster up');
});

test('setBridgePortRequest() is AF_BRIDGE with the flags nested in IFLA_PROTINFO|NLA_F_NESTED', (t) => {
  const msg = sent(setBridgePortRequest(6, { hairpin: true, isolated: true, learning: false, neighSuppress: true }));
  t.is(msg.type, K.RTM_SETLINK);
  const hdr = decodeIfinfomsg(msg.payload);
  t.is(hdr.family, K.AF_BRIDGE);
  t.is(hdr.index, 6);
  t.is(rawAttrType(msg.payload, IFINFOMSG_LEN, K.IFLA_PROTINFO), K.IFLA_PROTINFO | K.NLA_F_NESTED);
  const port = attrsOf(msg, IFINFOMSG_LEN).nested(K.IFLA_PROTINFO);
  t.is(port?.u8(K.IFLA_BRPORT_MODE), 1);
  t.is(port?.u8(K.IFLA_BRPORT_ISOLATED), 1);
  t.is(port?.u8(K.IFLA_BRPORT_LEARNING), 0);
  t.is(port?.u8(K.IFLA_BRPORT_NEIGH_SUPPRESS), 1);
  t.false(
    attrsOf(sent(setBridgePortRequest(6, { hairpin: false })), IFINFOMSG_LEN)
      .nested(K.IFLA_PROTINFO)
      ?.has(K.IFLA_BRPORT_ISOLATED) ?? true,
  );
  t.is(describeSetBridgePort('h1', { hairpin: true, learning: false }).command, 'bridge link set dev h1 hairpin on learning off');
});

test('decodeLink() reads a captured veth bridge port, flags from IFLA_INFO_SLAVE_DATA', (t) => {
  const link = decodeLink(captured(vethBridgePort));
  t.like(link, { name: 'h1', kind: 'veth', mtu: 1400, mac: '02:00:00:00:00:01', up: true, promisc: false });
  t.truthy(link?.master);
  t.truthy(link?.peerIndex);
  t.deepEqual(link?.bridgePort, { hairpin: true, isolated: true, learning: false, neighSuppress: true });
});

test('decodeLink() reads a captured vxlan', (t) => {
  const link = decodeLink(captured(vxlan));
  t.like(link, { name: 'vx0', kind: 'vxlan', mac: '02:00:00:00:00:0a' });
  t.is(link?.vxlan?.vni, 42);
  t.is(link?.vxlan?.port, 4789);
  t.is(link?.vxlan?.learning, false);
  t.is(link?.vxlan?.local?.toString(), '10.9.9.9');
  t.truthy(link?.parentIndex);
  t.is(link?.bridgePort, undefined);
});

test('decodeLink() reads a captured macvlan', (t) => {
  const link = decodeLink(captured(macvlan));
  t.like(link, { name: 'mv0', kind: 'macvlan', macvlanMode: 'bridge', mac: '02:00:00:00:00:0c' });
  t.truthy(link?.parentIndex);
});

test('decodeLink() skips messages that are not RTM_NEWLINK', (t) => {
  const msg = captured(vxlan);
  t.is(decodeLink({ ...msg, type: K.RTM_NEWADDR }), undefined);
});
