import test from 'ava';
import { IpPrefix } from '../../../../core/ip.js';
import { diffEntries, diffPeerPlans, entryKey, planPeers, vtepOverlayAddress, type PeerEntry, type PeerLease } from '../../../../drivers/overlay/peer-plan.js';

const lease = (node: string, subnet: string, vtep: string, vtepMac: string): PeerLease => ({ node, subnet, vtep, vtepMac });

const a = lease('node-a', '10.244.0.0/24', '192.168.50.1', '0e:2a:00:00:00:01');
const b = lease('node-b', '10.244.1.0/24', '192.168.50.2', '0e:2a:00:00:00:02');
const c = lease('node-c', '10.244.2.0/24', '192.168.50.3', '0e:2a:00:00:00:03');
const d = lease('node-d', '10.244.3.0/24', '192.168.50.4', '0e:2a:00:00:00:04');

/** One line per entry, as `ip`/`bridge` would be told. */
function show(entries: readonly PeerEntry[]): string[] {
  return entries.map((e) => {
    switch (e.kind) {
      case 'fdb':
        return `${e.peer}: fdb ${e.mac} dst ${e.dst}`;
      case 'neighbour':
        return `${e.peer}: neigh ${e.address} lladdr ${e.mac}`;
      case 'route':
        return `${e.peer}: route ${e.destination} via ${e.gateway}${e.via === 'vxlan' ? ' onlink' : ' (underlay)'}`;
    }
  });
}

/** Each peer's entries are contiguous and their kinds follow `order`. */
function inKernelOrder(entries: readonly PeerEntry[], order: readonly PeerEntry['kind'][]): boolean {
  const seen = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const prev = entries[i - 1];
    if (prev?.peer === entry.peer) {
      if (order.indexOf(prev.kind) >= order.indexOf(entry.kind)) return false;
    } else {
      if (seen.has(entry.peer)) return false;
      seen.add(entry.peer);
    }
  }
  return true;
}

test('peer plan: for three nodes, each programs the other two: FDB to the underlay, permanent neighbour for the VTEP address, onlink route', (t) => {
  const plan = planPeers('node-a', [c, a, b]);
  t.deepEqual(plan.skipped, []);
  t.deepEqual(
    plan.peers.map((p) => p.node),
    ['node-b', 'node-c'],
  );
  t.deepEqual(plan.peers[0], {
    node: 'node-b',
    fdb: { kind: 'fdb', peer: 'node-b', mac: '0e:2a:00:00:00:02', dst: '192.168.50.2' },
    neighbour: { kind: 'neighbour', peer: 'node-b', address: '10.244.1.0', mac: '0e:2a:00:00:00:02' },
    routes: [{ kind: 'route', peer: 'node-b', destination: '10.244.1.0/24', gateway: '10.244.1.0', via: 'vxlan' }],
  });
  t.deepEqual(
    planPeers('node-c', [a, b, c]).peers.map((p) => p.node),
    ['node-a', 'node-b'],
  );
  t.is(vtepOverlayAddress(IpPrefix.parse('10.244.9.0/24')).toString(), '10.244.9.0');
});

test('peer plan: from nothing, every peer is added FDB, neighbour, then route; nothing removed', (t) => {
  const diff = diffPeerPlans({ peers: [], skipped: [] }, planPeers('node-a', [a, b, c]));
  t.deepEqual(show(diff.add), [
    'node-b: fdb 0e:2a:00:00:00:02 dst 192.168.50.2',
    'node-b: neigh 10.244.1.0 lladdr 0e:2a:00:00:00:02',
    'node-b: route 10.244.1.0/24 via 10.244.1.0 onlink',
    'node-c: fdb 0e:2a:00:00:00:03 dst 192.168.50.3',
    'node-c: neigh 10.244.2.0 lladdr 0e:2a:00:00:00:03',
    'node-c: route 10.244.2.0/24 via 10.244.2.0 onlink',
  ]);
  t.deepEqual(diff.remove, []);
});

test('peer plan: a node joins: only its three entries are added, in kernel order', (t) => {
  const diff = diffPeerPlans(planPeers('node-a', [a, b, c]), planPeers('node-a', [a, b, c, d]));
  t.deepEqual(show(diff.add), ['node-d: fdb 0e:2a:00:00:00:04 dst 192.168.50.4', 'node-d: neigh 10.244.3.0 lladdr 0e:2a:00:00:00:04', 'node-d: route 10.244.3.0/24 via 10.244.3.0 onlink']);
  t.deepEqual(diff.remove, []);
});

test('peer plan: a node leaves (lease gone or released): its route, neighbour, then FDB are removed', (t) => {
  const expected = ['node-b: route 10.244.1.0/24 via 10.244.1.0 onlink', 'node-b: neigh 10.244.1.0 lladdr 0e:2a:00:00:00:02', 'node-b: fdb 0e:2a:00:00:00:02 dst 192.168.50.2'];
  const before = planPeers('node-a', [a, b, c]);
  const gone = diffPeerPlans(before, planPeers('node-a', [a, c]));
  t.deepEqual(gone.add, []);
  t.deepEqual(show(gone.remove), expected);
  const released = planPeers('node-a', [a, { ...b, releasedAt: '2025-01-01T00:00:00.000Z' }, c]);
  t.deepEqual(released.skipped, [{ node: 'node-b', reason: 'released at 2025-01-01T00:00:00.000Z' }]);
  t.deepEqual(show(diffPeerPlans(before, released).remove), expected);
});

test('peer plan: a peer whose VTEP address changes gets its FDB entry replaced, nothing else', (t) => {
  const diff = diffPeerPlans(planPeers('node-a', [a, b, c]), planPeers('node-a', [a, { ...b, vtep: '192.168.60.2' }, c]));
  t.deepEqual(show(diff.add), ['node-b: fdb 0e:2a:00:00:00:02 dst 192.168.60.2']);
  t.deepEqual(diff.remove, [], 'same MAC: replaced in place, not deleted');
});

test("peer plan: a peer whose VTEP MAC changes: new FDB, neighbour replaced, then the old MAC's FDB removed; the route stays", (t) => {
  const diff = diffPeerPlans(planPeers('node-a', [a, b, c]), planPeers('node-a', [a, { ...b, vtepMac: '0e:2a:00:00:00:b2' }, c]));
  t.deepEqual(show(diff.add), ['node-b: fdb 0e:2a:00:00:00:b2 dst 192.168.50.2', 'node-b: neigh 10.244.1.0 lladdr 0e:2a:00:00:00:b2']);
  t.deepEqual(show(diff.remove), ['node-b: fdb 0e:2a:00:00:00:02 dst 192.168.50.2'], 'the neighbour is replaced by the add, so deleting it would break the peer');
});

test('peer plan: joins, leaves and changes at once keep the per-peer order; a subnet taken over by a new node is not re-routed', (t) => {
  const e = lease('node-e', b.subnet, '192.168.50.5', '0e:2a:00:00:00:05');
  const diff = diffPeerPlans(planPeers('node-a', [a, b, c]), planPeers('node-a', [a, { ...c, vtep: '192.168.60.3' }, d, e]));
  t.deepEqual(show(diff.add), [
    'node-c: fdb 0e:2a:00:00:00:03 dst 192.168.60.3',
    'node-d: fdb 0e:2a:00:00:00:04 dst 192.168.50.4',
    'node-d: neigh 10.244.3.0 lladdr 0e:2a:00:00:00:04',
    'node-d: route 10.244.3.0/24 via 10.244.3.0 onlink',
    'node-e: fdb 0e:2a:00:00:00:05 dst 192.168.50.5',
    'node-e: neigh 10.244.1.0 lladdr 0e:2a:00:00:00:05',
  ]);
  t.deepEqual(show(diff.remove), ['node-b: fdb 0e:2a:00:00:00:02 dst 192.168.50.2']);
  t.true(inKernelOrder(diff.add, ['fdb', 'neighbour', 'route']));
  t.true(inKernelOrder(diff.remove, ['route', 'neighbour', 'fdb']));
  t.deepEqual(diffPeerPlans(planPeers('node-a', [a, b, c]), planPeers('node-a', [b, c, a])), { add: [], remove: [] }, 'same leases, no change');
});

test('peer plan: leases that would overwrite an entry of this node or of an earlier peer are skipped, with the reason', (t) => {
  const plan = planPeers('node-a', [
    a,
    b,
    lease('node-m', '10.244.7.0/24', '192.168.50.7', a.vtepMac),
    lease('node-n', b.subnet, '192.168.50.8', '0e:2a:00:00:00:08'),
    lease('node-o', '10.244.9.0/23', '192.168.50.9', '0e:2a:00:00:00:09'),
    lease('node-p', '10.244.9.0/24', 'not-an-ip', '0e:2a:00:00:00:0a'),
    lease('node-q', '10.244.10.0/24', '192.168.50.11', 'ff:ff:ff:ff:ff:ff'),
  ]);
  t.deepEqual(
    plan.peers.map((p) => p.node),
    ['node-b'],
  );
  t.deepEqual(
    plan.skipped.map((s) => s.node),
    ['node-m', 'node-n', 'node-o', 'node-p', 'node-q'],
  );
  t.is(plan.skipped[0]?.reason, "its VTEP MAC 0e:2a:00:00:00:01 is already node-a's");
  t.is(plan.skipped[1]?.reason, "its gateway address 10.244.1.0 is already node-b's");
  t.regex(plan.skipped[2]?.reason ?? '', /10\.244\.9\.0\/23.*not a CIDR/);
  t.regex(plan.skipped[3]?.reason ?? '', /not-an-ip/);
  t.regex(plan.skipped[4]?.reason ?? '', /group \(multicast\)/);
});

test('peer plan: IPv6 overlay over an IPv4 underlay', (t) => {
  const plan = planPeers('n1', [lease('n1', 'fd10::/64', '192.168.50.1', '0e:2a:00:00:00:01'), lease('n2', 'fd10:0:0:1::/64', '192.168.50.2', '0E:2A:00:00:00:02')]);
  t.deepEqual(show(plan.peers.flatMap((p) => [p.fdb!, p.neighbour!, ...p.routes])), [
    'n2: fdb 0e:2a:00:00:00:02 dst 192.168.50.2',
    'n2: neigh fd10:0:0:1:: lladdr 0e:2a:00:00:00:02',
    'n2: route fd10:0:0:1::/64 via fd10:0:0:1:: onlink',
  ]);
  t.is(entryKey(plan.peers[0]!.routes[0]!), 'route fd10:0:0:1::/64');
});

test('peer plan, routed mode: peers on the underlay subnet are routed via their underlay address, no FDB or neighbour; others are refused', (t) => {
  const far = lease('node-f', '10.244.5.0/24', '192.168.60.5', '0e:2a:00:00:00:05');
  const plan = planPeers('node-a', [a, b, far], { mode: 'routed', underlay: IpPrefix.parse('192.168.50.0/24') });
  t.deepEqual(show(plan.peers.flatMap((p) => [...(p.fdb ? [p.fdb] : []), ...(p.neighbour ? [p.neighbour] : []), ...p.routes])), ['node-b: route 10.244.1.0/24 via 192.168.50.2 (underlay)']);
  t.is(plan.skipped[0]?.node, 'node-f');
  t.regex(plan.skipped[0]?.reason ?? '', /not on this node's underlay subnet 192\.168\.50\.0\/24.*mode auto/);
});

test('peer plan, auto mode: routed to the near peer, VXLAN to the far one; switching a peer from VXLAN to routed replaces its route and drops its FDB and neighbour', (t) => {
  const far = lease('node-f', '10.244.5.0/24', '192.168.60.5', '0e:2a:00:00:00:05');
  const underlay = IpPrefix.parse('192.168.50.0/24');
  const auto = planPeers('node-a', [a, b, far], { mode: 'auto', underlay });
  t.deepEqual(show(auto.peers.flatMap((p) => [...(p.fdb ? [p.fdb] : []), ...(p.neighbour ? [p.neighbour] : []), ...p.routes])), [
    'node-b: route 10.244.1.0/24 via 192.168.50.2 (underlay)',
    'node-f: fdb 0e:2a:00:00:00:05 dst 192.168.60.5',
    'node-f: neigh 10.244.5.0 lladdr 0e:2a:00:00:00:05',
    'node-f: route 10.244.5.0/24 via 10.244.5.0 onlink',
  ]);
  const diff = diffPeerPlans(planPeers('node-a', [a, b, far]), auto);
  t.deepEqual(show(diff.add), ['node-b: route 10.244.1.0/24 via 192.168.50.2 (underlay)']);
  t.deepEqual(show(diff.remove), ['node-b: neigh 10.244.1.0 lladdr 0e:2a:00:00:00:02', 'node-b: fdb 0e:2a:00:00:00:02 dst 192.168.50.2']);
});

test('peer plan, shared subnet: a /32 route per announced address via the peer underlay address as gateway; an address announced twice keeps its first owner', (t) => {
  const shared = (node: string, vtep: string, mac: string) => lease(node, '10.30.0.0/24', vtep, mac);
  const endpoints = new Map([
    ['node-b', ['10.30.0.7', '10.30.0.9']],
    ['node-c', ['10.30.0.9', '10.30.0.12']],
  ]);
  const plan = planPeers('node-a', [shared('node-a', '192.168.50.1', a.vtepMac), shared('node-b', '192.168.50.2', b.vtepMac), shared('node-c', '192.168.50.3', c.vtepMac)], { endpoints });
  t.deepEqual(show(plan.peers.flatMap((p) => [p.fdb!, p.neighbour!, ...p.routes])), [
    'node-b: fdb 0e:2a:00:00:00:02 dst 192.168.50.2',
    'node-b: neigh 192.168.50.2 lladdr 0e:2a:00:00:00:02',
    'node-b: route 10.30.0.7/32 via 192.168.50.2 onlink',
    'node-b: route 10.30.0.9/32 via 192.168.50.2 onlink',
    'node-c: fdb 0e:2a:00:00:00:03 dst 192.168.50.3',
    'node-c: neigh 192.168.50.3 lladdr 0e:2a:00:00:00:03',
    'node-c: route 10.30.0.12/32 via 192.168.50.3 onlink',
  ]);
  t.deepEqual(plan.skipped, [{ node: 'node-c', reason: "its route to 10.30.0.9/32 is already node-b's" }]);
});

test('peer plan against the kernel: entries found without peer names are diffed by key; stale ones removed routes first', (t) => {
  const found: PeerEntry[] = [
    { kind: 'fdb', peer: '', mac: '0e:2a:00:00:00:09', dst: '192.168.50.9' },
    { kind: 'neighbour', peer: '', address: '10.244.9.0', mac: '0e:2a:00:00:00:09' },
    { kind: 'route', peer: '', destination: '10.244.9.0/24', gateway: '10.244.9.0', via: 'vxlan' },
    { kind: 'fdb', peer: '', mac: b.vtepMac, dst: b.vtep },
  ];
  const diff = diffEntries(found, planPeers('node-a', [a, b]));
  t.deepEqual(show(diff.add), ['node-b: neigh 10.244.1.0 lladdr 0e:2a:00:00:00:02', 'node-b: route 10.244.1.0/24 via 10.244.1.0 onlink']);
  t.deepEqual(show(diff.remove), [': route 10.244.9.0/24 via 10.244.9.0 onlink', ': neigh 10.244.9.0 lladdr 0e:2a:00:00:00:09', ': fdb 0e:2a:00:00:00:09 dst 192.168.50.9']);
});
