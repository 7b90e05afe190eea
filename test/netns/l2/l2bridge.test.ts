/**
 * berth-l2bridge on hosts of a cluster lab (test/support/cluster-lab.ts): each host a network
 * and mount namespace whose uplink `eth0` is a port of one fabric bridge (the LAN, in this run's
 * namespace), and a plain "neighbour" namespace on the same fabric, which is also the hosts'
 * router to what lies outside their prefix. Pods through the project's libcni client inside the
 * hosts: in-process (no berthd), and through berthd.
 *
 * Hosts start as a host boots: IPv4 and IPv6 forwarding off, no proxy settings; h2's firewall
 * drops forwarded traffic (IPv4 and IPv6, as Docker and ufw leave it).
 *
 * Shown here: containers on two hosts reach the neighbour and each other (same host, across
 * hosts), IPv4 and IPv6, and the neighbour's neighbour table holds only the hosts' MACs for the
 * containers' addresses; a new endpoint is announced (gratuitous ARP, unsolicited NA); outbound
 * NAT masquerades to outside the host's prefix only; bad input gets a CNI error and leaves
 * nothing; DEL twice; nothing left after the last pod; the same through berthd.
 *
 * Addresses: 10.79.0.0/25 and fd79::/80 are the hosts' prefix (neighbour .5 and ::5, hosts .11,
 * .12 and ::11, ::12), 10.79.0.200 and fd79::1:0:0:200 (on the neighbour's loopback) lie outside
 * it; only inside this run's namespaces.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE } from '../docker/harness.js';
import { sh, shOk } from '../../support/netns.js';
import { startClusterLab, type ClusterLab, type LabHost } from '../../support/cluster-lab.js';

let lab: ClusterLab;
const host = (name: string): LabHost => lab.host(name);

const NEIGHBOUR = 'l2b-nb';
const NEIGHBOUR_PORT = 'l2b-nbp';
const NB4 = '10.79.0.5';
const NB6 = 'fd79::5';
const OUTSIDE4 = '10.79.0.200';
const OUTSIDE6 = 'fd79::1:0:0:200';
const V6 = (h: LabHost) => `fd79::${10 + h.index}`;

/** A conflist of berth-l2bridge on eth0: addresses .a-.b of the v4 prefix and ::a-::b of the v6 one. */
function l2bridge(name: string, first: number, last: number, extra: Record<string, unknown> = {}, ipam: Record<string, unknown> = {}) {
  return {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'berth-l2bridge',
        master: 'eth0',
        ...extra,
        ipam: {
          type: 'berth-ipam',
          ranges: [
            [{ subnet: '10.79.0.0/25', rangeStart: `10.79.0.${first}`, rangeEnd: `10.79.0.${last}`, gateway: NB4 }],
            [{ subnet: 'fd79::/80', rangeStart: `fd79::${first}`, rangeEnd: `fd79::${last}`, gateway: NB6 }],
          ],
          ...ipam,
        },
      },
    ],
  };
}

interface Pod {
  readonly host: LabHost;
  readonly netns: string;
  readonly id: string;
  readonly ip4: string;
  readonly ip6: string;
  readonly mac: string;
}

async function addPod(h: LabHost, name: string, conf: object): Promise<Pod> {
  const netns = h.addPod(name);
  const id = `${h.name}-${name}`;
  const r = await h.cni('add', { conflist: conf, containerId: id, netns });
  if (r.code !== 0) throw new Error(`ADD ${id}: ${r.stdout}${r.stderr}`);
  const result = JSON.parse(r.stdout) as { ips: { address: string; interface: number }[]; interfaces: { mac: string; sandbox?: string }[] };
  const ip = (v6: boolean) => result.ips.find((i) => i.address.includes(':') === v6)!.address.split('/')[0]!;
  return { host: h, netns, id, ip4: ip(false), ip6: ip(true), mac: result.interfaces.find((i) => i.sandbox)!.mac };
}

async function delPod(p: Pod, conf: object): Promise<void> {
  const r = await p.host.cni('del', { conflist: conf, containerId: p.id, netns: p.netns });
  if (r.code !== 0) throw new Error(`DEL ${p.id}: ${r.stdout}${r.stderr}`);
}

/** One ping from a namespace (a pod's path, or the neighbour's name). */
function reaches(netns: string, address: string): boolean {
  const name = netns.split('/').pop()!;
  return shOk('ip', ['netns', 'exec', name, 'ping', ...(address.includes(':') ? ['-6'] : []), '-c', '1', '-W', '1', address]);
}

async function hostOut(h: LabHost, cmd: string, args: string[]): Promise<string> {
  const r = await h.exec(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} on ${h.name}: ${r.stderr}`);
  return r.stdout;
}

async function macOf(h: LabHost): Promise<string> {
  return (JSON.parse(await hostOut(h, 'ip', ['-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]!.address;
}

/** The neighbour's table: address → MAC. */
function neighbourTable(): Map<string, string> {
  const entries = JSON.parse(sh('ip', ['-n', NEIGHBOUR, '-j', 'neigh', 'show', 'dev', 'eth0'])) as { dst: string; lladdr?: string }[];
  return new Map(entries.filter((e) => e.lladdr).map((e) => [e.dst, e.lladdr!]));
}

/** Everything of berth-l2bridge a host could be left with. */
async function hostState(h: LabHost): Promise<Record<string, unknown>> {
  const links = (JSON.parse(await hostOut(h, 'ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).sort();
  const proxies = JSON.parse((await hostOut(h, 'ip', ['-j', 'neigh', 'show', 'proxy'])) || '[]') as unknown[];
  const hostRoutes = [
    ...(JSON.parse(await hostOut(h, 'ip', ['-j', '-4', 'route', 'show'])) as { dst: string }[]),
    ...(JSON.parse(await hostOut(h, 'ip', ['-j', '-6', 'route', 'show'])) as { dst: string }[]),
  ]
    .map((r) => r.dst)
    .filter((d) => /^10\.79\.|^fd79:/.test(d))
    .sort();
  const tables = ((JSON.parse(await hostOut(h, 'nft', ['-j', 'list', 'tables'])) as { nftables: { table?: { family: string; name: string } }[] }).nftables ?? [])
    .filter((i) => i.table)
    .map((i) => `${i.table!.family} ${i.table!.name}`)
    .sort();
  return { links, proxies, hostRoutes, tables, records: existsSync(join(h.dir, 'run', 'l2bridge')) };
}

/** Counts, in the neighbour, the echo requests that arrive from each source. */
function countSources(sources: readonly string[]): { count: (source: string) => number; remove: () => void } {
  const run = (...args: string[]) => sh('ip', ['netns', 'exec', NEIGHBOUR, 'nft', ...args]);
  run('add', 'table', 'inet', 'l2bcount');
  run('add', 'chain', 'inet', 'l2bcount', 'in', '{ type filter hook input priority 0; }');
  for (const s of sources) {
    const v6 = s.includes(':');
    run('add', 'rule', 'inet', 'l2bcount', 'in', v6 ? 'ip6' : 'ip', 'saddr', s, v6 ? 'icmpv6' : 'icmp', 'type', 'echo-request', 'counter', 'comment', `"${s}"`);
  }
  return {
    count: (source) => {
      const listing = JSON.parse(run('-j', 'list', 'chain', 'inet', 'l2bcount', 'in')) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
      const rule = listing.nftables.find((i) => i.rule?.comment === source)?.rule;
      return rule?.expr.find((e) => e.counter)?.counter?.packets ?? -1;
    },
    remove: () => void run('delete', 'table', 'inet', 'l2bcount'),
  };
}

test.before(async () => {
  lab = await startClusterLab({ hosts: 2, prefix: 'l2b', subnet: '10.79.0.0/25', etcd: false, docker: true });
  // The neighbour: a plain namespace on the fabric; it also holds the "outside" addresses.
  sh('ip', ['netns', 'add', NEIGHBOUR]);
  sh('ip', ['link', 'add', NEIGHBOUR_PORT, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NEIGHBOUR]);
  sh('ip', ['link', 'set', NEIGHBOUR_PORT, 'master', lab.fabric, 'up']);
  const nb = (...args: string[]) => sh('ip', ['-n', NEIGHBOUR, ...args]);
  nb('link', 'set', 'lo', 'up');
  nb('address', 'add', `${NB4}/25`, 'dev', 'eth0');
  nb('address', 'add', `${NB6}/80`, 'dev', 'eth0', 'nodad');
  nb('address', 'add', `${OUTSIDE4}/32`, 'dev', 'lo');
  nb('address', 'add', `${OUTSIDE6}/128`, 'dev', 'lo');
  nb('link', 'set', 'eth0', 'up');
  for (const h of lab.hosts) {
    // As a host boots: forwarding off (the lab turns it on for its overlay tests).
    await hostOut(h, 'sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward; echo 0 > /proc/sys/net/ipv6/conf/all/forwarding']);
    await hostOut(h, 'ip', ['address', 'add', `${V6(h)}/80`, 'dev', 'eth0', 'nodad']);
    // The neighbour is the hosts' router to what lies outside their prefix.
    await hostOut(h, 'ip', ['route', 'replace', 'default', 'via', NB4]);
    await hostOut(h, 'ip', ['-6', 'route', 'replace', 'default', 'via', NB6]);
  }
  // Links that just came up: their link-local addresses finish duplicate address detection
  // first (a host forwards to IPv6 neighbours only once it has one), as they long have on a LAN.
  for (let i = 0; ; i++) {
    const tentative = [sh('ip', ['-n', NEIGHBOUR, '-6', 'address', 'show', 'tentative']), ...(await Promise.all(lab.hosts.map((h) => hostOut(h, 'ip', ['-6', 'address', 'show', 'tentative']))))];
    if (tentative.every((x) => x.trim() === '')) break;
    if (i > 100) throw new Error(`IPv6 addresses still tentative: ${tentative.join('')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // h2's firewall drops forwarded traffic, as Docker and ufw leave it.
  await hostOut(host('h2'), 'iptables', ['-w', '-P', 'FORWARD', 'DROP']);
  await hostOut(host('h2'), 'ip6tables', ['-w', '-P', 'FORWARD', 'DROP']);
});

test.after.always(async () => {
  shOk('ip', ['link', 'del', NEIGHBOUR_PORT]);
  shOk('ip', ['netns', 'del', NEIGHBOUR]);
  await lab?.stop();
});

test.serial("containers on two hosts reach the neighbour and each other, IPv4 and IPv6; the neighbour sees only the hosts' MACs; nothing is left after the last pod", async (t) => {
  const h1 = host('h1');
  const h2 = host('h2');
  const before = { h1: await hostState(h1), h2: await hostState(h2) };
  const conf1 = l2bridge('lan', 100, 107);
  const conf2 = l2bridge('lan', 110, 117);
  const a = await addPod(h1, 'a', conf1);
  const b = await addPod(h1, 'b', conf1);
  const c = await addPod(h2, 'c', conf2);
  t.is(await hostOut(h1, 'cat', ['/proc/sys/net/ipv4/ip_forward']), '1\n', 'the driver turned IPv4 forwarding on');
  t.is(await hostOut(h1, 'cat', ['/proc/sys/net/ipv6/conf/eth0/proxy_ndp']), '1\n', 'and proxy NDP on the uplink');
  for (const family of ['ip4', 'ip6'] as const) {
    const nb = family === 'ip4' ? NB4 : NB6;
    t.true(reaches(a.netns, nb), `${family}: pod -> the neighbour`);
    t.true(reaches(c.netns, nb), `${family}: pod behind a forward drop -> the neighbour`);
    t.true(reaches(a.netns, b[family]), `${family}: pod -> pod on the same host`);
    t.true(reaches(a.netns, c[family]), `${family}: pod -> pod on another host`);
    t.true(reaches(c.netns, a[family]), `${family}: and back`);
    t.true(reaches(NEIGHBOUR, a[family]), `${family}: the neighbour -> a pod`);
    t.true(reaches(NEIGHBOUR, c[family]), `${family}: the neighbour -> a pod behind a forward drop`);
    t.true(reaches(a.netns, family === 'ip4' ? h1.address : V6(h1)), `${family}: pod -> its own host`);
  }
  // What the LAN learnt: each container address at its host's MAC, no container's MAC at all.
  const table = neighbourTable();
  const mac1 = await macOf(h1);
  const mac2 = await macOf(h2);
  for (const p of [a, c]) {
    for (const ip of [p.ip4, p.ip6]) t.is(table.get(ip), p.host === h1 ? mac1 : mac2, `the neighbour holds ${ip} at ${p.host.name}'s MAC`);
  }
  const podMacs = new Set([a.mac, b.mac, c.mac]);
  t.deepEqual(
    [...table.values()].filter((m) => podMacs.has(m)),
    [],
    `no container MAC in the neighbour's table: ${JSON.stringify([...table])}`,
  );
  const fabricMacs = (JSON.parse(sh('bridge', ['-j', 'fdb', 'show', 'br', lab.fabric])) as { mac: string }[]).map((f) => f.mac);
  t.false(
    fabricMacs.some((m) => podMacs.has(m)),
    'the fabric switch never saw a container MAC',
  );
  // CHECK holds on a live pod.
  const check = await h1.cni('check', { conflist: conf1, containerId: a.id, netns: a.netns });
  t.is(check.code, 0, check.stdout + check.stderr);

  await delPod(a, conf1);
  await delPod(a, conf1);
  t.false(reaches(NEIGHBOUR, a.ip4), "a deleted pod's address is not answered");
  // The runtime removed b's namespace before its DEL: its veth pair went with it, its proxy entries did not.
  h1.removePod(b.netns);
  await delPod(b, conf1);
  await delPod(c, conf2);
  await delPod(c, conf2);
  t.deepEqual(await hostState(h1), before.h1, 'nothing left on h1');
  t.deepEqual(await hostState(h2), before.h2, 'nothing left on h2');
});

test.serial('a new endpoint is announced: the LAN updates what it held for the address without asking', async (t) => {
  const h1 = host('h1');
  // One address per family, so the test knows it beforehand; the neighbour holds it elsewhere.
  const conf = l2bridge('lan1', 108, 108);
  sh('ip', ['-n', NEIGHBOUR, 'neigh', 'replace', '10.79.0.108', 'lladdr', '02:00:00:00:01:08', 'dev', 'eth0', 'nud', 'stale']);
  sh('ip', ['-n', NEIGHBOUR, 'neigh', 'replace', 'fd79::108', 'lladdr', '02:00:00:00:01:08', 'dev', 'eth0', 'nud', 'stale']);
  const p = await addPod(h1, 'announced', conf);
  t.is(p.ip4, '10.79.0.108');
  const mac = await macOf(h1);
  let table = neighbourTable();
  for (let i = 0; i < 20 && (table.get('10.79.0.108') !== mac || table.get('fd79::108') !== mac); i++) {
    await new Promise((r) => setTimeout(r, 50));
    table = neighbourTable();
  }
  t.is(table.get('10.79.0.108'), mac, 'gratuitous ARP');
  t.is(table.get('fd79::108'), mac, 'unsolicited neighbour advertisement');
  await delPod(p, conf);
});

test.serial("outboundNat: traffic beyond the host's prefix leaves with the host's address, within it with the container's own", async (t) => {
  const h1 = host('h1');
  const nat = l2bridge('natlan', 120, 123, { outboundNat: true });
  const plain = l2bridge('lan', 100, 107);
  const n = await addPod(h1, 'nat', nat);
  const p = await addPod(h1, 'plain', plain);
  const counter = countSources([h1.address, V6(h1), n.ip4, n.ip6, p.ip4, p.ip6]);
  try {
    for (const [outside, inside, hostAddr, own] of [
      [OUTSIDE4, NB4, h1.address, n.ip4],
      [OUTSIDE6, NB6, V6(h1), n.ip6],
    ] as const) {
      t.true(reaches(n.netns, outside), `${outside} beyond the prefix`);
      t.is(counter.count(hostAddr), 1, `${outside} saw the host's address`);
      t.is(counter.count(own), 0, `${outside} did not see the container's`);
      t.true(reaches(n.netns, inside), `${inside} within the prefix`);
      t.is(counter.count(own), 1, `${inside} saw the container's own address`);
      t.is(counter.count(hostAddr), 1);
    }
    // Without outboundNat the container's own address goes everywhere.
    t.true(reaches(p.netns, OUTSIDE4));
    t.true(reaches(p.netns, OUTSIDE6));
    t.is(counter.count(p.ip4), 1);
    t.is(counter.count(p.ip6), 1);
    t.is(counter.count(h1.address), 1, 'nothing of the plain network was masqueraded');
  } finally {
    counter.remove();
  }
  await delPod(n, nat);
  await delPod(p, plain);
  t.false(
    ((await hostState(h1)).tables as string[]).some((x) => x.includes('berth-l2b')),
    'the NAT table went with the last pod',
  );
});

test.serial('bad input: a CNI error with the right code naming the problem, and nothing left', async (t) => {
  const h1 = host('h1');
  const netns = h1.addPod('bad');
  const before = await hostState(h1);
  const add = async (conf: object) => {
    const r = await h1.cni('add', { conflist: conf, containerId: 'bad', netns });
    t.not(r.code, 0);
    return JSON.parse(r.stdout) as { code: number; msg: string };
  };
  const base = l2bridge('lan', 100, 107);
  const plugin = base.plugins[0]!;
  const missing = await add({ ...base, plugins: [{ ...plugin, master: undefined }] });
  t.is(missing.code, 7);
  t.regex(missing.msg, /master is required/);
  const unknown = await add({ ...base, plugins: [{ ...plugin, master: 'nosuch0' }] });
  t.is(unknown.code, 7);
  t.regex(unknown.msg, /the uplink "nosuch0" does not exist/);
  const outside = await add({ ...base, plugins: [{ ...plugin, ipam: { type: 'berth-ipam', ranges: [[{ subnet: '10.79.0.128/25', rangeStart: '10.79.0.130', rangeEnd: '10.79.0.131' }]] } }] });
  t.is(outside.code, 7);
  t.regex(outside.msg, /10\.79\.0\.13[01] is outside the prefixes of uplink eth0 \(10\.79\.0\.0\/25, fd79::\/80\)/);
  const outside6 = await add({ ...base, plugins: [{ ...plugin, ipam: { type: 'berth-ipam', ranges: [[{ subnet: 'fd79:1::/64', rangeStart: 'fd79:1::2', rangeEnd: 'fd79:1::3' }]] } }] });
  t.is(outside6.code, 7);
  t.regex(outside6.msg, /fd79:1::[23] is outside the prefixes of uplink eth0/);
  const own = await add({ ...base, plugins: [{ ...plugin, ipam: { type: 'berth-ipam', ranges: [[{ subnet: '10.79.0.0/25', rangeStart: h1.address, rangeEnd: h1.address }]] } }] });
  t.is(own.code, 7);
  t.regex(own.msg, /10\.79\.0\.11 is the host's own address on eth0/);
  const dhcp = await add({ ...base, plugins: [{ ...plugin, ipam: { type: 'berth-dhcp' } }] });
  t.is(dhcp.code, 2);
  t.regex(dhcp.msg, /static/);
  t.deepEqual(await hostState(h1), before);
  t.is((JSON.parse(sh('ip', ['-n', netns.split('/').pop()!, '-j', 'link', 'show'])) as unknown[]).length, 1, 'only lo in the pod');
  // The addresses were given back: the one address of a range is handed out again.
  const again = await addPod(h1, 'after-bad', l2bridge('lan', 107, 107));
  t.is(again.ip4, '10.79.0.107');
  await delPod(again, l2bridge('lan', 107, 107));
});

test.serial('through berthd: the same network served by the host agent, behind a forward drop', async (t) => {
  const h2 = host('h2');
  const before = await hostState(h2);
  const berthd = await h2.startBerthd();
  try {
    const conf = l2bridge('lan', 110, 117);
    const p = await addPod(h2, 'via-berthd', conf);
    t.true(reaches(p.netns, NB4));
    t.true(reaches(p.netns, NB6));
    t.true(reaches(NEIGHBOUR, p.ip4));
    t.true(reaches(NEIGHBOUR, p.ip6));
    // A refused request shows in berthd's log: the requests went through it.
    const bad = await h2.cni('add', { conflist: { ...conf, plugins: [{ ...conf.plugins[0]!, master: 'nosuch1' }] }, containerId: 'bad-berthd', netns: p.netns });
    t.not(bad.code, 0);
    t.regex(berthd.log(), /berth-l2bridge[\s\S]*nosuch1/);
    await delPod(p, conf);
    await delPod(p, conf);
  } finally {
    await berthd.stop();
  }
  t.deepEqual(await hostState(h2), before, 'nothing left on h2');
});

test.serial('Docker: docker network create -d berth-l2bridge on the LAN; a container reaches the neighbour and another host, and is reached at the host MAC', async (t) => {
  const h1 = host('h1');
  const d = await h1.startDockerd();
  const berthd = await h1.startBerthd([], { docker: true });
  try {
    const create = ['network', 'create', '-d', 'berth-l2bridge', '--ipam-driver', 'berth'];
    const v6 = ['--ipv6', '--subnet', 'fd79::/80', '--gateway', NB6, '--ip-range', 'fd79::40/122'];
    await d.dockerOk([...create, '--subnet', '10.79.0.0/25', '--gateway', NB4, '--ip-range', '10.79.0.64/28', ...v6, '-o', 'parent=eth0', 'l2b']);
    await d.dockerOk(['run', '-d', '--name', 'c1', '--network', 'l2b', IMAGE, 'sleep', '3600']);
    const ip = await d.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "l2b").IPAddress}}', 'c1']);
    t.regex(ip, /^10\.79\.0\.(6[4-9]|7\d)$/);
    const ip6 = await d.dockerOk(['inspect', '-f', '{{(index .NetworkSettings.Networks "l2b").GlobalIPv6Address}}', 'c1']);
    t.regex(ip6, /^fd79::[4-7][0-9a-f]$/);
    t.is((await d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', NB6])).code, 0, 'the neighbour over IPv6, which is the gateway');
    t.true(reaches(NEIGHBOUR, ip6), 'the neighbour reaches the container over IPv6');
    t.is((await d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', NB4])).code, 0, 'the neighbour, which is the gateway');
    t.is((await d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', host('h2').address])).code, 0, 'another host');
    t.is((await d.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', OUTSIDE4])).code, 0, 'beyond the prefix, through the gateway');
    t.true(reaches(NEIGHBOUR, ip), 'the neighbour reaches the container');
    t.is(neighbourTable().get(ip), await macOf(h1), "the neighbour holds the container's address at the host's MAC");
    const outside = await d.docker([...create, '--subnet', '10.79.0.128/25', '-o', 'parent=eth0', 'far']);
    t.not(outside.code, 0);
    t.regex(outside.stderr, /10\.79\.0\.128\/25 is outside the prefixes of uplink eth0/);
    await d.dockerOk(['rm', '-f', 'c1']);
    await d.dockerOk(['network', 'rm', 'l2b']);
    const unknown = await d.docker([...create, '--subnet', '10.79.0.0/25', '-o', 'parent=nosuch2', 'nowhere']);
    t.not(unknown.code, 0);
    t.regex(unknown.stderr, /the uplink "nosuch2" does not exist/);
    const after = await hostState(h1);
    t.false(
      (after.links as string[]).some((l) => /^b[lw][0-9a-f]{12}$/.test(l)),
      'no veth left',
    );
    t.deepEqual(after.proxies, [], 'no proxy entry left');
    t.false((after.tables as string[]).some((x) => x.includes('berth-l2b')));
    t.false(after.records as boolean);
  } finally {
    await h1.stopDockerd();
    await berthd.stop();
  }
});
