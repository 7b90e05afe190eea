import test from 'ava';
import { AlreadyExistsError, NotFoundError } from '../../../core/errors.js';
import { IpAddress } from '../../../core/ip.js';
import { closeFd, openNetnsFd } from '../../../dataplane/linux/index.js';
import { indexOf, ipJson, linkNames, namespaces } from './helpers/ip.js';

test('addLink() makes a bridge and a veth whose peer is created directly in another namespace', (t) => {
  const [host, ctr] = namespaces(t, 2);
  if (!host || !ctr) return t.fail();
  host.nl.addLink({ kind: 'bridge', name: 'br0', up: true });
  const br = indexOf(host.nl, 'br0');
  const fd = openNetnsFd(ctr.path);
  try {
    host.nl.addLink({ kind: 'veth', name: 'vh0', master: br, up: true, mtu: 1400, peer: { name: 'eth0', netnsFd: fd, mac: '02:00:00:00:10:01' } });
  } finally {
    closeFd(fd);
  }
  t.deepEqual(linkNames(host.name).sort(), ['br0', 'lo', 'vh0']);
  t.deepEqual(linkNames(ctr.name).sort(), ['eth0', 'lo']);
  const vh = host.nl.getLink('vh0');
  t.like(vh, { kind: 'veth', master: br, up: true, mtu: 1400 });
  const eth0 = ctr.nl.getLink('eth0');
  t.like(eth0, { kind: 'veth', mtu: 1400, mac: '02:00:00:00:10:01', up: false });
  t.is(vh?.peerIndex, eth0?.index, "the veth's IFLA_LINK is the peer's index in its own namespace");
  t.deepEqual(
    host.nl.listLinks({ master: br }).map((l) => l.name),
    ['vh0'],
  );
  t.is(host.nl.listLinks().length, 3);
});

test('addLink() of a taken name throws AlreadyExistsError; deleting an absent link throws NotFoundError', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'bridge', name: 'br0' });
  const err = t.throws(() => ns.nl.addLink({ kind: 'bridge', name: 'br0' }), { instanceOf: AlreadyExistsError });
  t.is(err?.message, 'Cannot add link "br0" (ip link add br0 type bridge): File exists');
  t.is(err?.fields.errno, 17);
  const br = indexOf(ns.nl, 'br0');
  ns.nl.deleteLink(br);
  t.is(ns.nl.getLink('br0'), undefined);
  t.is(ns.nl.getLinkByIndex(br), undefined);
  const gone = t.throws(() => ns.nl.deleteLink(br), { instanceOf: NotFoundError });
  t.is(gone?.fields.operation, `ip link del dev #${br}`);
});

test('setLink() sets up/down, MTU, MAC, name and promisc, read back by getLink()', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'veth', name: 'a0', peer: { name: 'a1' } });
  const a0 = indexOf(ns.nl, 'a0');
  ns.nl.setLink(a0, { up: true, mtu: 1280, mac: '02:00:00:00:20:01', promisc: true, name: 'renamed0' });
  t.like(ns.nl.getLinkByIndex(a0), { name: 'renamed0', up: true, mtu: 1280, mac: '02:00:00:00:20:01', promisc: true });
  const shown = ipJson<{ ifname: string; flags: string[]; mtu: number }[]>(ns.name, 'link', 'show', 'dev', 'renamed0')[0];
  t.true(shown?.flags.includes('UP'));
  t.true(shown?.flags.includes('PROMISC'));
  t.is(shown?.mtu, 1280);
  ns.nl.setLink(a0, { up: false, promisc: false });
  t.like(ns.nl.getLinkByIndex(a0), { up: false, promisc: false, mtu: 1280 });
  t.is(ns.nl.getLink('a0'), undefined);
});

test('setLink() master and nomaster', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'bridge', name: 'br0' });
  ns.nl.addLink({ kind: 'veth', name: 'p0', peer: { name: 'p1' } });
  const br = indexOf(ns.nl, 'br0');
  const p0 = indexOf(ns.nl, 'p0');
  ns.nl.setLink(p0, { master: br });
  t.is(ns.nl.getLinkByIndex(p0)?.master, br);
  t.is(ipJson<{ master?: string }[]>(ns.name, 'link', 'show', 'dev', 'p0')[0]?.master, 'br0');
  ns.nl.setLink(p0, { master: 0 });
  t.is(ns.nl.getLinkByIndex(p0)?.master, undefined);
  t.is(ns.nl.getLinkByIndex(p0)?.bridgePort, undefined);
  t.deepEqual(ns.nl.listLinks({ master: br }), []);
});

test('setBridgePort() flags are set and read back', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'bridge', name: 'br0' });
  const br = indexOf(ns.nl, 'br0');
  ns.nl.addLink({ kind: 'veth', name: 'p0', master: br, peer: { name: 'p1' } });
  const p0 = indexOf(ns.nl, 'p0');
  t.deepEqual(ns.nl.getLinkByIndex(p0)?.bridgePort, { hairpin: false, isolated: false, learning: true, neighSuppress: false });
  ns.nl.setBridgePort(p0, { hairpin: true, isolated: true, learning: false, neighSuppress: true });
  t.deepEqual(ns.nl.getLinkByIndex(p0)?.bridgePort, { hairpin: true, isolated: true, learning: false, neighSuppress: true });
  const shown = ipJson<{ linkinfo?: { info_slave_data?: Record<string, unknown> } }[]>(ns.name, '-d', 'link', 'show', 'dev', 'p0');
  t.like(shown[0]?.linkinfo?.info_slave_data, { hairpin: true, isolated: true, learning: false, neigh_suppress: true });
  ns.nl.setBridgePort(p0, { hairpin: false });
  t.like(ns.nl.getLinkByIndex(p0)?.bridgePort, { hairpin: false, isolated: true });
});

test('setLink() with netnsFd moves a link to another namespace', (t) => {
  const [a, b] = namespaces(t, 2);
  if (!a || !b) return t.fail();
  a.nl.addLink({ kind: 'veth', name: 'm0', peer: { name: 'm1' } });
  const fd = openNetnsFd(b.path);
  try {
    a.nl.setLink(indexOf(a.nl, 'm0'), { netnsFd: fd, name: 'moved0' });
  } finally {
    closeFd(fd);
  }
  t.false(linkNames(a.name).includes('m0'));
  t.true(linkNames(b.name).includes('moved0'));
  t.truthy(b.nl.getLink('moved0'));
});

test('addLink() makes a macvlan on a veth parent', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'veth', name: 'up0', peer: { name: 'up1' } });
  const parent = indexOf(ns.nl, 'up0');
  for (const mode of ['bridge', 'vepa', 'private'] as const) {
    ns.nl.addLink({ kind: 'macvlan', name: `mv-${mode}`, parent, mode, up: true });
    t.like(ns.nl.getLink(`mv-${mode}`), { kind: 'macvlan', parentIndex: parent, macvlanMode: mode, up: true });
  }
  const shown = ipJson<{ linkinfo?: { info_data?: { mode?: string } } }[]>(ns.name, '-d', 'link', 'show', 'dev', 'mv-vepa');
  t.is(shown[0]?.linkinfo?.info_data?.mode, 'vepa');
});

test('addLink() makes a vxlan with VNI, port, local, parent and learning off', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'veth', name: 'ul0', peer: { name: 'ul1' } });
  const parent = indexOf(ns.nl, 'ul0');
  ns.nl.addLink({ kind: 'vxlan', name: 'vx0', vni: 4242, local: IpAddress.parse('10.77.0.1'), parent, mtu: 1450 });
  const vx = ns.nl.getLink('vx0');
  t.like(vx, { kind: 'vxlan', mtu: 1450, parentIndex: parent });
  t.is(vx?.vxlan?.vni, 4242);
  t.is(vx?.vxlan?.port, 4789);
  t.is(vx?.vxlan?.learning, false);
  t.is(vx?.vxlan?.local?.toString(), '10.77.0.1');
  const shown = ipJson<{ linkinfo?: { info_data?: Record<string, unknown> } }[]>(ns.name, '-d', 'link', 'show', 'dev', 'vx0');
  t.like(shown[0]?.linkinfo?.info_data, { id: 4242, port: 4789, learning: false, local: '10.77.0.1', link: 'ul0' });
});
