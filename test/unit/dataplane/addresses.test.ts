import test from 'ava';
import { parseIpWithPrefix } from '../../../core/ip.js';
import { addAddressRequest, decodeAddress, deleteAddressRequest, describeAddress, listAddressesRequest } from '../../../dataplane/linux/netlink/addresses.js';
import { decodeIfaddrmsg, IFADDRMSG_LEN } from '../../../dataplane/linux/netlink/codec.js';
import * as K from '../../../dataplane/linux/netlink/constants.js';
import { address4, address6 } from './fixtures/kernel-replies.js';
import { attrsOf, captured, sent } from './helpers/wire.js';

test('addAddressRequest() for IPv4 sets IFA_LOCAL, IFA_ADDRESS and the broadcast address', (t) => {
  const msg = sent(addAddressRequest(3, parseIpWithPrefix('10.1.2.3/24')));
  t.is(msg.type, K.RTM_NEWADDR);
  t.is(msg.flags, K.NLM_F_CREATE | K.NLM_F_EXCL);
  t.deepEqual(decodeIfaddrmsg(msg.payload), { family: K.AF_INET, prefixlen: 24, flags: 0, scope: 0, index: 3 });
  const attrs = attrsOf(msg, IFADDRMSG_LEN);
  t.is(attrs.get(K.IFA_LOCAL)?.toString('hex'), '0a010203');
  t.is(attrs.get(K.IFA_ADDRESS)?.toString('hex'), '0a010203');
  t.is(attrs.get(K.IFA_BROADCAST)?.toString('hex'), '0a0102ff');
  t.false(attrs.has(K.IFA_FLAGS));
});

test('addAddressRequest() leaves out the broadcast address for /31 and /32', (t) => {
  for (const a of ['10.0.0.0/31', '10.0.0.1/32']) {
    t.false(attrsOf(sent(addAddressRequest(1, parseIpWithPrefix(a))), IFADDRMSG_LEN).has(K.IFA_BROADCAST), a);
  }
});

test('addAddressRequest() for IPv6 with noDad sets IFA_F_NODAD in ifa_flags and IFA_FLAGS', (t) => {
  const msg = sent(addAddressRequest(5, parseIpWithPrefix('fd00::5/64'), { noDad: true }));
  const hdr = decodeIfaddrmsg(msg.payload);
  t.is(hdr.family, K.AF_INET6);
  t.is(hdr.flags, K.IFA_F_NODAD);
  const attrs = attrsOf(msg, IFADDRMSG_LEN);
  t.is(attrs.u32(K.IFA_FLAGS), K.IFA_F_NODAD);
  t.is(attrs.get(K.IFA_ADDRESS)?.length, 16);
  t.false(attrs.has(K.IFA_BROADCAST));
});

test('addAddressRequest() with noPrefixRoute carries IFA_F_NOPREFIXROUTE in IFA_FLAGS (ifa_flags has 8 bits)', (t) => {
  const msg = sent(addAddressRequest(5, parseIpWithPrefix('10.79.0.100/25'), { noDad: true, noPrefixRoute: true }));
  t.is(decodeIfaddrmsg(msg.payload).flags, K.IFA_F_NODAD);
  t.is(attrsOf(msg, IFADDRMSG_LEN).u32(K.IFA_FLAGS), K.IFA_F_NODAD | K.IFA_F_NOPREFIXROUTE);
  t.is(describeAddress('add', 'eth0', parseIpWithPrefix('10.79.0.100/25'), { noPrefixRoute: true }).command, 'ip addr add 10.79.0.100/25 dev eth0 noprefixroute');
});

test('deleteAddressRequest() and listAddressesRequest()', (t) => {
  const del = sent(deleteAddressRequest(5, parseIpWithPrefix('10.0.0.1/8')));
  t.is(del.type, K.RTM_DELADDR);
  t.is(decodeIfaddrmsg(del.payload).prefixlen, 8);
  const list = sent(listAddressesRequest({ index: 5, family: 6 }));
  t.deepEqual(decodeIfaddrmsg(list.payload), { family: K.AF_INET6, prefixlen: 0, flags: 0, scope: 0, index: 5 });
  t.is(decodeIfaddrmsg(sent(listAddressesRequest()).payload).family, K.AF_UNSPEC);
  t.deepEqual(describeAddress('add', 'br0', parseIpWithPrefix('fd00::1/64'), { noDad: true }), {
    action: 'add address fd00::1/64 to br0',
    command: 'ip addr add fd00::1/64 dev br0 nodad',
    removes: false,
  });
});

test('decodeAddress() reads captured IPv4 and IPv6 replies', (t) => {
  const v4 = decodeAddress(captured(address4));
  t.is(v4 && `${v4.address.address}/${v4.address.length}`, '10.1.0.1/24');
  t.is(v4?.scope, 0);
  const v6 = decodeAddress(captured(address6));
  t.is(v6 && `${v6.address.address}/${v6.address.length}`, 'fd00::1/64');
  t.is((v6?.flags ?? 0) & K.IFA_F_NODAD, K.IFA_F_NODAD);
  t.is(v6?.index, v4?.index);
});
