/** The topology drawing: veth pairs matched both ways, names escaped, tunnels between hosts. */
import test from 'ava';
import { renderTopologySvg } from '../../../labs/framework/svg.js';
import { pairVeths, type TopoNode } from '../../../labs/framework/topology.js';
import { wellFormedXml } from '../../netns/labs/lab-runner.js';

const h1: TopoNode = {
  name: 'h1',
  kind: 'host',
  ifaces: [
    { name: 'eth0', ifindex: 2, kind: 'veth', mac: 'aa:00:00:00:00:01', up: true, addresses: ['192.0.2.11/24'], peerIndex: 9 },
    { name: 'br<0>', ifindex: 3, kind: 'bridge', mac: 'aa:00:00:00:00:02', up: true, addresses: ['10.1.0.1/24'] },
    { name: 'vx', ifindex: 4, kind: 'vxlan', mac: 'aa:00:00:00:00:03', up: true, addresses: [], master: 'br<0>', vni: 42, port: 4789, remotes: ['192.0.2.12'] },
    { name: 'v1', ifindex: 5, kind: 'veth', mac: 'aa:00:00:00:00:04', up: true, addresses: [], master: 'br<0>', peerIndex: 2 },
  ],
};
const h2: TopoNode = {
  name: 'h2',
  kind: 'host',
  ifaces: [
    { name: 'eth0', ifindex: 2, kind: 'veth', mac: 'aa:00:00:00:01:01', up: true, addresses: ['192.0.2.12/24'], peerIndex: 10 },
    { name: 'vx', ifindex: 4, kind: 'vxlan', mac: 'aa:00:00:00:01:03', up: true, addresses: [], vni: 42, port: 4789, remotes: ['192.0.2.11'] },
  ],
};
const c1: TopoNode = { name: 'c1', kind: 'container', host: 'h1', ifaces: [{ name: 'eth0', ifindex: 2, kind: 'veth', mac: 'aa:00:00:00:02:01', up: true, addresses: ['10.1.0.2/24'], peerIndex: 5 }] };

test('a veth pair is matched only when both ends name each other', (t) => {
  const links = pairVeths([h1, h2, c1]);
  t.deepEqual(links, [{ a: { node: 'h1', iface: 'v1' }, b: { node: 'c1', iface: 'eth0' } }], "h1's eth0 (peer 9) pairs with nothing here");
});

test('the drawing is well-formed, escapes names, and holds bridges, containers, veths and one tunnel per pair of VTEPs', (t) => {
  const svg = renderTopologySvg({
    lab: 'x',
    nodes: [h1, h2, c1],
    links: pairVeths([h1, h2, c1]),
    ports: [{ host: 'h1', protocol: 'TCP', externalAddress: '0.0.0.0', externalPort: 8080, internalAddress: '10.1.0.2', internalPort: 80 }],
  });
  t.is(wellFormedXml(svg), undefined);
  t.regex(svg, /<g class="bridge" data-node="h1" data-name="br&lt;0&gt;">/);
  t.regex(svg, /<g class="node container" data-name="c1">/);
  t.regex(svg, /<g class="veth" data-a="c1\/eth0" data-b="h1\/v1">/);
  t.is((svg.match(/<g class="vxlan" /g) ?? []).length, 1);
  t.regex(svg, /data-vni="42"/);
  t.regex(svg, /published tcp 0\.0\.0\.0:8080 -&gt; 10\.1\.0\.2:80/);
});

test('hosts and pods holding the same indexes: a veth pairs only with an end in the namespace its peer is in', (t) => {
  const port = (name: string, ifindex: number, host: string): TopoNode['ifaces'][number] => ({
    name,
    ifindex,
    kind: 'veth',
    mac: '',
    up: true,
    addresses: [],
    master: 'fabric',
    peerIndex: 2,
    peerNetnsid: ifindex,
    peerNetnsName: host,
  });
  const fabric: TopoNode = { name: 'fabric', kind: 'fabric', ifaces: [port('h1', 5, 'h1'), port('h2', 6, 'h2')] };
  // Each host's eth0 is index 2 and its pod's bridge port index 5 or 6: the fabric's ports' indexes.
  const host = (name: string, own: number, pod: string): TopoNode => ({
    name,
    kind: 'host',
    netnsName: name,
    ifaces: [
      { name: 'eth0', ifindex: 2, kind: 'veth', mac: '', up: true, addresses: [], peerIndex: own, peerNetnsid: 0 },
      { name: 'vb', ifindex: own === 5 ? 6 : 5, kind: 'veth', mac: '', up: true, addresses: [], master: 'br', peerIndex: 2, peerNetnsid: 1, peerNetnsName: pod },
    ],
  });
  const pod = (name: string, hostIndex: number, hostName: string): TopoNode => ({
    name,
    kind: 'container',
    host: hostName,
    netnsName: name,
    ifaces: [{ name: 'eth0', ifindex: 2, kind: 'veth', mac: '', up: true, addresses: [], peerIndex: hostIndex, peerNetnsid: 0, peerNetnsName: hostName }],
  });
  const nodes = [fabric, host('h1', 5, 'h1-a'), host('h2', 6, 'h2-b'), pod('h1-a', 6, 'h1'), pod('h2-b', 5, 'h2')];
  const links = pairVeths(nodes).map((l) => `${l.a.node}/${l.a.iface}=${l.b.node}/${l.b.iface}`);
  t.deepEqual(links, ['fabric/h1=h1/eth0', 'fabric/h2=h2/eth0', 'h1/vb=h1-a/eth0', 'h2/vb=h2-b/eth0']);
});
