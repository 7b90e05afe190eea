import test from 'ava';
import { InvalidConfigError } from '../../../core/errors.js';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import { decodeRtmsg, RTMSG_LEN } from '../../../dataplane/linux/netlink/codec.js';
import * as K from '../../../dataplane/linux/netlink/constants.js';
import { decodeRoute, describeRoute, listRoutesRequest, routeMatches, routeRequest } from '../../../dataplane/linux/netlink/routes.js';
import { route as capturedRoute } from './fixtures/kernel-replies.js';
import { attrsOf, captured, sent } from './helpers/wire.js';

const p = (s: string) => IpPrefix.parse(s);
const a = (s: string) => IpAddress.parse(s);

test('routeRequest(add) with gateway, metric, table 100 and metrics', (t) => {
  const msg = sent(routeRequest('add', { dst: p('10.9.0.0/16'), gw: a('10.1.0.2'), oif: 4, priority: 7, table: 100, mtu: 1300, advmss: 1260, src: a('10.1.0.1') }));
  t.is(msg.type, K.RTM_NEWROUTE);
  t.is(msg.flags, K.NLM_F_CREATE | K.NLM_F_EXCL);
  t.like(decodeRtmsg(msg.payload), { family: K.AF_INET, dstLen: 16, table: 100, protocol: K.RTPROT_BOOT, scope: K.RT_SCOPE_UNIVERSE, type: K.RTN_UNICAST });
  const attrs = attrsOf(msg, RTMSG_LEN);
  t.is(attrs.get(K.RTA_DST)?.toString('hex'), '0a090000');
  t.is(attrs.get(K.RTA_GATEWAY)?.toString('hex'), '0a010002');
  t.is(attrs.get(K.RTA_PREFSRC)?.toString('hex'), '0a010001');
  t.is(attrs.u32(K.RTA_OIF), 4);
  t.is(attrs.u32(K.RTA_PRIORITY), 7);
  t.is(attrs.u32(K.RTA_TABLE), 100);
  t.is(attrs.nested(K.RTA_METRICS)?.u32(K.RTAX_MTU), 1300);
  t.is(attrs.nested(K.RTA_METRICS)?.u32(K.RTAX_ADVMSS), 1260);
});

test('routeRequest() puts tables above 255 only in RTA_TABLE', (t) => {
  const msg = sent(routeRequest('add', { dst: p('10.0.0.0/8'), gw: a('10.1.0.1'), table: 1000 }));
  t.is(decodeRtmsg(msg.payload).table, K.RT_TABLE_UNSPEC);
  t.is(attrsOf(msg, RTMSG_LEN).u32(K.RTA_TABLE), 1000);
});

test('routeRequest(add) defaults like ip route add: main table, link scope for an IPv4 device route', (t) => {
  const dev = sent(routeRequest('add', { dst: p('10.2.0.0/24'), oif: 2 }));
  t.like(decodeRtmsg(dev.payload), { table: K.RT_TABLE_MAIN, scope: K.RT_SCOPE_LINK });
  const v6 = sent(routeRequest('add', { dst: p('fd00:1::/64'), oif: 2 }));
  t.like(decodeRtmsg(v6.payload), { family: K.AF_INET6, scope: K.RT_SCOPE_UNIVERSE });
  const deflt = sent(routeRequest('replace', { dst: p('0.0.0.0/0'), gw: a('10.0.0.1') }));
  t.is(deflt.flags, K.NLM_F_CREATE | K.NLM_F_REPLACE);
  t.false(attrsOf(deflt, RTMSG_LEN).has(K.RTA_DST), 'a default route has no RTA_DST');
});

test('routeRequest(del) matches only what is given', (t) => {
  const msg = sent(routeRequest('del', { dst: p('10.2.0.0/24'), mtu: 1400 }));
  t.is(msg.type, K.RTM_DELROUTE);
  t.is(msg.flags, 0);
  t.like(decodeRtmsg(msg.payload), { scope: K.RT_SCOPE_NOWHERE, protocol: 0, type: 0 });
  t.false(attrsOf(msg, RTMSG_LEN).has(K.RTA_METRICS));
  t.false(attrsOf(msg, RTMSG_LEN).has(K.RTA_PRIORITY));
});

test('routeRequest() refuses a gateway of the other family', (t) => {
  t.throws(() => routeRequest('add', { dst: p('10.0.0.0/8'), gw: a('fd00::1') }), { instanceOf: InvalidConfigError });
});

test('listRoutesRequest() filters by table and oif; table 0 is every table', (t) => {
  const msg = sent(listRoutesRequest({ family: 4, table: 100, oif: 3 }));
  t.like(decodeRtmsg(msg.payload), { family: K.AF_INET, table: 100 });
  t.is(attrsOf(msg, RTMSG_LEN).u32(K.RTA_TABLE), 100);
  t.is(attrsOf(msg, RTMSG_LEN).u32(K.RTA_OIF), 3);
  const all = sent(listRoutesRequest({ table: 0 }));
  t.false(attrsOf(all, RTMSG_LEN).has(K.RTA_TABLE));
  t.is(attrsOf(sent(listRoutesRequest()), RTMSG_LEN).u32(K.RTA_TABLE), K.RT_TABLE_MAIN);
});

test('decodeRoute() reads a captured route in table 100', (t) => {
  const r = decodeRoute(captured(capturedRoute));
  t.truthy(r);
  if (!r) return;
  t.is(r.family, 4);
  t.is(r.dst.toString(), '10.9.0.0/16');
  t.is(r.gw?.toString(), '10.1.0.2');
  t.is(r.table, 100);
  t.is(r.priority, 7);
  t.is(r.mtu, 1300);
  t.is(r.protocol, K.RTPROT_BOOT);
  t.true(routeMatches(r, { table: 100 }));
  t.false(routeMatches(r, {}), 'the default filter is the main table');
  t.true(routeMatches(r, { table: 0, family: 4 }));
});

test('describeRoute() reads like the ip command', (t) => {
  const op = describeRoute('del', { dst: p('fd00::/64'), gw: a('fd00::1'), table: 100, priority: 5 }, (i) => `#${i}`);
  t.deepEqual(op, { action: 'delete route fd00::/64', command: 'ip -6 route del fd00::/64 via fd00::1 metric 5 table 100', removes: true });
});
