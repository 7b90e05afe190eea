import test from 'ava';
import { NotFoundError } from '../../../core/errors.js';
import { IpAddress, parseIpWithPrefix } from '../../../core/ip.js';
import { sh } from '../../support/netns.js';
import { indexOf, ipJson, namespaces } from './helpers/ip.js';

const NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;

test('setNeighbour() replaces permanent entries; deleteNeighbour() removes them', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'veth', name: 'n0', up: true, peer: { name: 'n1' } });
  const n0 = indexOf(ns.nl, 'n0');
  ns.nl.addAddress(n0, parseIpWithPrefix('10.70.0.1/24'));
  const ip = IpAddress.parse('10.70.0.9');
  const ip6 = IpAddress.parse('fd00:70::9');
  ns.nl.setNeighbour({ index: n0, ip, mac: '02:00:00:00:70:09' });
  ns.nl.setNeighbour({ index: n0, ip, mac: '02:00:00:00:70:0a' });
  ns.nl.setNeighbour({ index: n0, ip: ip6, mac: '02:00:00:00:70:0b' });
  const v4 = ns.nl.listNeighbours({ index: n0, family: 4 }).filter((n) => n.ip.equals(ip));
  t.is(v4.length, 1);
  t.like(v4[0], { mac: '02:00:00:00:70:0a', state: NUD_PERMANENT, index: n0 });
  t.like(
    ns.nl.listNeighbours({ family: 6 }).find((n) => n.ip.equals(ip6)),
    { mac: '02:00:00:00:70:0b' },
  );
  const shown = ipJson<{ dst: string; lladdr: string; state: string[] }[]>(ns.name, 'neigh', 'show', 'dev', 'n0');
  t.like(
    shown.find((n) => n.dst === '10.70.0.9'),
    { lladdr: '02:00:00:00:70:0a', state: ['PERMANENT'] },
  );
  ns.nl.deleteNeighbour({ index: n0, ip });
  ns.nl.deleteNeighbour({ index: n0, ip: ip6 });
  t.false(ns.nl.listNeighbours({ index: n0 }).some((n) => n.ip.equals(ip) || n.ip.equals(ip6)));
  t.throws(() => ns.nl.deleteNeighbour({ index: n0, ip }), { instanceOf: NotFoundError });
});

test('appendFdb() programs VXLAN remotes (self) and bridge entries (master); deleteFdb() removes them', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'bridge', name: 'br0', up: true });
  const br = indexOf(ns.nl, 'br0');
  ns.nl.addLink({ kind: 'vxlan', name: 'vx0', vni: 100, local: IpAddress.parse('10.71.0.1'), master: br, up: true });
  const vx = indexOf(ns.nl, 'vx0');
  const zero = '00:00:00:00:00:00';
  // Two remotes for the all-zero MAC: NLM_F_APPEND keeps both (head-end replication).
  ns.nl.appendFdb({ index: vx, mac: zero, dst: IpAddress.parse('10.71.0.2'), self: true });
  ns.nl.appendFdb({ index: vx, mac: zero, dst: IpAddress.parse('10.71.0.3'), self: true });
  ns.nl.appendFdb({ index: vx, mac: '02:00:00:00:71:05', dst: IpAddress.parse('10.71.0.5'), self: true });
  ns.nl.appendFdb({ index: vx, mac: '02:00:00:00:71:05' });
  const own = ns.nl.listFdb({ index: vx }).filter((f) => f.flags & NTF_SELF && f.dst);
  t.deepEqual(own.map((f) => `${f.mac} ${f.dst}`).sort(), [`${zero} 10.71.0.2`, `${zero} 10.71.0.3`, '02:00:00:00:71:05 10.71.0.5']);
  const bridged = ns.nl.listFdb({ master: br }).find((f) => f.mac === '02:00:00:00:71:05' && f.master === br);
  t.like(bridged, { index: vx });
  t.is((bridged?.state ?? 0) & NUD_PERMANENT, NUD_PERMANENT);
  const shown = JSON.parse(sh('bridge', ['-n', ns.name, '-j', 'fdb', 'show', 'dev', 'vx0'])) as { mac: string; dst?: string }[];
  t.deepEqual(
    shown
      .filter((f) => f.mac === zero)
      .map((f) => f.dst)
      .sort(),
    ['10.71.0.2', '10.71.0.3'],
  );
  ns.nl.deleteFdb({ index: vx, mac: zero, dst: IpAddress.parse('10.71.0.2'), self: true });
  t.deepEqual(
    ns.nl
      .listFdb({ index: vx })
      .filter((f) => f.mac === zero)
      .map((f) => f.dst?.toString()),
    ['10.71.0.3'],
  );
  ns.nl.deleteFdb({ index: vx, mac: '02:00:00:00:71:05' });
  ns.nl.deleteFdb({ index: vx, mac: '02:00:00:00:71:05', self: true });
  t.throws(() => ns.nl.deleteFdb({ index: vx, mac: '02:00:00:00:71:05', self: true }), { instanceOf: NotFoundError });
  t.throws(() => ns.nl.deleteFdb({ index: vx, mac: '02:00:00:00:71:05' }), { instanceOf: NotFoundError });
  t.deepEqual(ns.nl.listFdb({ index: 9999 }), [], 'a missing device has no entries');
});
