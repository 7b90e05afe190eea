import test from 'ava';
import { AlreadyExistsError, NotFoundError } from '../../../core/errors.js';
import { IpAddress, IpPrefix, parseIpWithPrefix } from '../../../core/ip.js';
import { indexOf, ipJson, namespaces } from './helpers/ip.js';
import type { TestNetns } from './helpers/ip.js';

const IFA_F_NODAD = 0x02;

/** A namespace with an up veth `e0` (its peer too) to hang addresses and routes on. */
function withLink(t: Parameters<typeof namespaces>[0]): { ns: TestNetns; e0: number } {
  const [ns] = namespaces(t);
  if (!ns) throw new Error('no namespace');
  ns.nl.addLink({ kind: 'veth', name: 'e0', up: true, peer: { name: 'e1' } });
  ns.nl.setLink(indexOf(ns.nl, 'e1'), { up: true });
  return { ns, e0: indexOf(ns.nl, 'e0') };
}

test('addAddress() adds IPv4 and IPv6 (nodad) addresses; listAddresses() reads them back', (t) => {
  const { ns, e0 } = withLink(t);
  ns.nl.addAddress(e0, parseIpWithPrefix('10.60.0.1/24'));
  ns.nl.addAddress(e0, parseIpWithPrefix('fd00:60::1/64'), { noDad: true });
  const text = ns.nl.listAddresses({ index: e0 }).map((a) => `${a.address.address}/${a.address.length}`);
  t.true(text.includes('10.60.0.1/24'));
  t.true(text.includes('fd00:60::1/64'));
  const v6 = ns.nl.listAddresses({ index: e0, family: 6 }).find((a) => a.address.address.toString() === 'fd00:60::1');
  t.is((v6?.flags ?? 0) & IFA_F_NODAD, IFA_F_NODAD);
  t.true(ns.nl.listAddresses({ family: 4 }).every((a) => a.address.address.family === 4));
  const shown = ipJson<{ addr_info: { local: string; prefixlen: number; broadcast?: string; tentative?: boolean }[] }[]>(ns.name, 'addr', 'show', 'dev', 'e0')[0];
  t.like(
    shown?.addr_info.find((a) => a.local === '10.60.0.1'),
    { prefixlen: 24, broadcast: '10.60.0.255' },
  );
  t.falsy(shown?.addr_info.find((a) => a.local === 'fd00:60::1')?.tentative, 'nodad: usable at once');
  t.throws(() => ns.nl.addAddress(e0, parseIpWithPrefix('10.60.0.1/24')), { instanceOf: AlreadyExistsError });
  ns.nl.deleteAddress(e0, parseIpWithPrefix('10.60.0.1/24'));
  ns.nl.deleteAddress(e0, parseIpWithPrefix('fd00:60::1/64'));
  t.throws(() => ns.nl.deleteAddress(e0, parseIpWithPrefix('10.60.0.1/24')), { instanceOf: NotFoundError });
  t.throws(() => ns.nl.deleteAddress(e0, parseIpWithPrefix('fd00:60::1/64')), { instanceOf: NotFoundError });
  t.deepEqual(ns.nl.listAddresses({ index: 9999 }), [], 'a missing device has no addresses');
});

test('addRoute() with gateway, metric, table 100, MTU and advmss; listRoutes() filters', (t) => {
  const { ns, e0 } = withLink(t);
  ns.nl.addAddress(e0, parseIpWithPrefix('10.61.0.1/24'));
  ns.nl.addRoute({ dst: IpPrefix.parse('10.62.0.0/16'), gw: IpAddress.parse('10.61.0.254'), priority: 50 });
  ns.nl.addRoute({ dst: IpPrefix.parse('10.63.0.0/16'), gw: IpAddress.parse('10.61.0.254'), table: 100, mtu: 1300, advmss: 1260 });
  ns.nl.addRoute({ dst: IpPrefix.parse('10.64.0.0/16'), oif: e0, table: 1000 });
  const main = ns.nl.listRoutes({ family: 4 });
  const r62 = main.find((r) => r.dst.toString() === '10.62.0.0/16');
  t.like(r62, { table: 254, priority: 50, oif: e0, protocol: 3 });
  t.is(r62?.gw?.toString(), '10.61.0.254');
  t.false(
    main.some((r) => r.dst.toString() === '10.63.0.0/16'),
    'main by default',
  );
  const t100 = ns.nl.listRoutes({ table: 100 });
  t.is(t100.length, 1);
  t.like(t100[0], { table: 100, mtu: 1300, advmss: 1260 });
  const t1000 = ns.nl.listRoutes({ table: 1000 });
  t.like(t1000[0], { table: 1000, oif: e0, scope: 253 });
  t.true(
    ns.nl.listRoutes({ table: 0 }).some((r) => r.table === 255),
    'table 0 includes local',
  );
  t.true(ns.nl.listRoutes({ oif: e0, table: 0 }).every((r) => r.oif === e0));
  t.deepEqual(ns.nl.listRoutes({ table: 4242, family: 4 }), [], 'a table that does not exist is empty');
  const shown = ipJson<{ dst: string; gateway?: string; metrics?: { mtu?: number }[] }[]>(ns.name, 'route', 'show', 'table', '100');
  t.is(shown[0]?.dst, '10.63.0.0/16');
  t.is(shown[0]?.gateway, '10.61.0.254');
  t.throws(() => ns.nl.addRoute({ dst: IpPrefix.parse('10.62.0.0/16'), gw: IpAddress.parse('10.61.0.254'), priority: 50 }), { instanceOf: AlreadyExistsError });
});

test('replaceRoute() changes a route; deleteRoute() removes it and then throws NotFoundError', (t) => {
  const { ns, e0 } = withLink(t);
  ns.nl.addAddress(e0, parseIpWithPrefix('10.65.0.1/24'));
  ns.nl.addAddress(e0, parseIpWithPrefix('fd00:65::1/64'), { noDad: true });
  const dst = IpPrefix.parse('10.66.0.0/16');
  ns.nl.replaceRoute({ dst, gw: IpAddress.parse('10.65.0.2') });
  ns.nl.replaceRoute({ dst, gw: IpAddress.parse('10.65.0.3'), src: IpAddress.parse('10.65.0.1') });
  const routes = ns.nl.listRoutes({ family: 4 }).filter((r) => r.dst.toString() === '10.66.0.0/16');
  t.is(routes.length, 1);
  t.is(routes[0]?.gw?.toString(), '10.65.0.3');
  t.is(routes[0]?.src?.toString(), '10.65.0.1');
  ns.nl.addRoute({ dst: IpPrefix.parse('0.0.0.0/0'), gw: IpAddress.parse('10.65.0.2') });
  ns.nl.addRoute({ dst: IpPrefix.parse('fd00:67::/64'), gw: IpAddress.parse('fd00:65::2'), priority: 10 });
  t.like(
    ns.nl.listRoutes({ family: 6 }).find((r) => r.dst.toString() === 'fd00:67::/64'),
    { priority: 10, oif: e0 },
  );
  ns.nl.deleteRoute({ dst });
  ns.nl.deleteRoute({ dst: IpPrefix.parse('0.0.0.0/0') });
  ns.nl.deleteRoute({ dst: IpPrefix.parse('fd00:67::/64') });
  t.throws(() => ns.nl.deleteRoute({ dst }), { instanceOf: NotFoundError });
  t.throws(() => ns.nl.deleteRoute({ dst: IpPrefix.parse('fd00:67::/64') }), { instanceOf: NotFoundError });
  t.false(ns.nl.listRoutes({ table: 0 }).some((r) => ['10.66.0.0/16', '0.0.0.0/0', 'fd00:67::/64'].includes(r.dst.toString())));
});

test('listRoutes() reads a dump that spans many datagrams', (t) => {
  const { ns, e0 } = withLink(t);
  ns.nl.addAddress(e0, parseIpWithPrefix('10.68.0.1/24'));
  const gw = IpAddress.parse('10.68.0.2');
  const count = 3000;
  const base = IpAddress.parse('10.128.0.0');
  for (let i = 0; i < count; i++) ns.nl.addRoute({ dst: IpPrefix.of(base.plus(BigInt(i) * 256n), 24), gw, table: 100 });
  const listed = ns.nl.listRoutes({ table: 100, family: 4 });
  t.is(listed.length, count);
  t.is(new Set(listed.map((r) => r.dst.toString())).size, count);
});

test('getLink() of a name no link can have is undefined, not an error', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  t.is(ns.nl.getLink('name-longer-than-15'), undefined);
  t.is(ns.nl.getLink('absent0'), undefined);
});
