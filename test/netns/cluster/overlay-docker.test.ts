/**
 * berth-overlay as Docker runs it, on two hosts of a cluster lab (test/support/cluster-lab.ts):
 * each host a network and mount namespace on one fabric with etcd, and in each its own Docker
 * engine (dockerd as in test/netns/docker/harness.ts, its own /run/docker/plugins) served by
 * its own berthd in the cluster; each engine's firewall is as on a host that just booted
 * (Docker's FORWARD drop). Everything is done with the Docker CLI inside the hosts, as an
 * operator would on each machine:
 *
 *   docker network create -d berth-overlay --ipam-driver berth --subnet 10.30.0.0/24 -o vni=4300 n
 *
 * Shown here: the network is created on both engines; containers on the two hosts get
 * different addresses of the one subnet and ping each other; the same VNI with another subnet
 * is refused with an error naming the VNI (and leaves nothing); removing the network on one
 * engine leaves the other host's containers working; the cluster network (its keys in etcd
 * and the IPAM pool) goes with the last engine; no bov-/bvx- link is left on either host.
 *
 * Addresses: 192.168.77.0/24 (underlay, the lab's default), 10.30.0.0/24 (the network),
 * 10.31.0.0/24 (the refused one), only inside this run's namespaces.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { IMAGE } from '../docker/harness.js';
import { startClusterLab, type ClusterLab, type LabHost } from '../../support/cluster-lab.js';

const VNI = 4300;
const SUBNET = '10.30.0.0/24';
const OTHER_SUBNET = '10.31.0.0/24';
const NET = 'n';
const OVERLAY_KEYS = `/berth/overlay/vni-${VNI}/`;
const POOL_KEYS = '/berth/berthd/ipam/pools/';

let lab: ClusterLab;
/** Container name → its address on NET, as Docker reported it when it started. */
const addressOf = new Map<string, string>();

const h = (name: string): LabHost => lab.host(name);

function createNetwork(host: LabHost, subnet: string, name: string) {
  return host.dockerd.docker(['network', 'create', '-d', 'berth-overlay', '--ipam-driver', 'berth', '--subnet', subnet, '-o', `vni=${VNI}`, name]);
}

/** A busybox container on NET sleeping on `host`; answers its address. */
async function runContainer(host: LabHost, name: string): Promise<string> {
  const d = host.dockerd;
  await d.dockerOk(['run', '-d', '--name', name, '--network', NET, IMAGE, 'sleep', '3600']);
  const ip = await d.dockerOk(['inspect', '-f', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`, name]);
  addressOf.set(name, ip);
  return ip;
}

/** `docker exec <container> ping -c 1 -W 2 <address>`, tried until it answers or `withinMs` passed. */
async function pings(host: LabHost, container: string, address: string, withinMs = 10_000): Promise<boolean> {
  const end = Date.now() + withinMs;
  for (;;) {
    const r = await host.dockerd.docker(['exec', container, 'ping', '-c', '1', '-W', '2', address]);
    if (r.code === 0) return true;
    if (Date.now() > end) return false;
  }
}

/** The keys under /berth/ in the lab's etcd (etcdctl on the fabric). */
function etcdKeys(): string[] {
  const r = spawnSync('etcdctl', ['--endpoints', lab.etcdUrl, 'get', '--prefix', '--keys-only', '/berth/'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ETCDCTL_API: '3' } });
  if (r.status !== 0) throw new Error(`etcdctl: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

const keysUnder = (prefix: string) => etcdKeys().filter((k) => k.startsWith(prefix));

/** The overlay's links (bridges bov-*, VXLAN devices bvx-*) inside a host. */
async function overlayLinks(host: LabHost): Promise<string[]> {
  const r = await host.exec('ip', ['-j', 'link', 'show']);
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith('bov-') || n.startsWith('bvx-'));
}

/** Asserts that `container` on `host` pings `address`; the hosts' peer state in the message when not. */
async function assertPings(t: ExecutionContext, host: LabHost, container: string, address: string): Promise<void> {
  const ok = await pings(host, container, address);
  t.true(ok, ok ? '' : `${container} (${addressOf.get(container)}, ${host.name}) does not ping ${address}\n${await peerState()}`);
}

/** What each host holds for the other (routes, FDB) and what Docker's forward drop let through: for failure messages. */
async function peerState(): Promise<string> {
  const out: string[] = [];
  for (const host of lab.hosts) {
    for (const cmd of [
      ['ip', 'route', 'show', 'proto', '78'],
      ['bridge', 'fdb', 'show', 'dev', `bvx-${VNI}`],
      ['nft', 'list', 'chain', 'ip', 'filter', 'DOCKER-USER'],
    ]) {
      const r = await host.exec(cmd[0]!, cmd.slice(1));
      out.push(`${host.name}$ ${cmd.join(' ')}\n${r.stdout}${r.stderr}`);
    }
  }
  return out.join('\n');
}

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.before(async () => {
  lab = await startClusterLab({ hosts: 2, prefix: 'ovd', docker: true });
  for (const host of lab.hosts) {
    await host.startDockerd();
    await host.startBerthd(host.berthdArgsForCluster(), { docker: true });
  }
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('the network is created on both engines; containers on two hosts get different addresses of the subnet and ping each other', async (t) => {
  for (const host of [h('h1'), h('h2')]) {
    const r = await createNetwork(host, SUBNET, NET);
    t.is(r.code, 0, `network create on ${host.name}: ${r.stderr}`);
  }
  const a = await runContainer(h('h1'), 'c1');
  const b = await runContainer(h('h2'), 'c2');
  t.regex(a, /^10\.30\.0\.\d+$/);
  t.regex(b, /^10\.30\.0\.\d+$/);
  t.not(a, b, 'two hosts, two addresses of the one pool');
  await assertPings(t, h('h1'), 'c1', b);
  await assertPings(t, h('h2'), 'c2', a);
  t.deepEqual(keysUnder(POOL_KEYS), [`${POOL_KEYS}berth-global/${SUBNET}`], 'the one pool of both engines is in etcd');
});

test.serial('the same VNI with another subnet is refused with an error naming the VNI, and leaves nothing', async (t) => {
  const r = await createNetwork(h('h2'), OTHER_SUBNET, 'm');
  t.not(r.code, 0, 'network create m must fail');
  t.regex(r.stderr, new RegExp(`VNI ${VNI}`), r.stderr);
  t.regex(r.stderr, new RegExp(SUBNET.replace(/\./g, '\\.')), 'the error says which subnet the VNI has');
  t.false((await h('h2').dockerd.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).split('\n').includes('m'));
  t.deepEqual(
    keysUnder(POOL_KEYS).filter((k) => k.includes(OTHER_SUBNET.split('/')[0]!)),
    [],
    'the refused subnet holds no pool',
  );
  await assertPings(t, h('h1'), 'c1', addressOf.get('c2')!);
});

test.serial('removing the network on one engine leaves the other host working; the cluster network goes with the last engine', async (t) => {
  const d1 = h('h1').dockerd;
  const d2 = h('h2').dockerd;
  await d1.dockerOk(['rm', '-f', 'c1']);
  await d1.dockerOk(['network', 'rm', NET]);
  t.deepEqual(await overlayLinks(h('h1')), [], 'h1 has no overlay link left');
  t.true(keysUnder(OVERLAY_KEYS).length > 0, 'h2 still holds the cluster network');
  t.false(
    keysUnder(OVERLAY_KEYS).some((k) => k.includes('/h1')),
    `h1 has no record left in the network: ${keysUnder(OVERLAY_KEYS).join(', ')}`,
  );

  const c2 = addressOf.get('c2')!;
  t.is(await d2.dockerOk(['inspect', '-f', `{{(index .NetworkSettings.Networks "${NET}").IPAddress}}`, 'c2']), c2);
  t.regex(await d2.dockerOk(['exec', 'c2', 'ip', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${c2.replace(/\./g, '\\.')}/24`), 'c2 still has its address');
  await runContainer(h('h2'), 'c3');
  await assertPings(t, h('h2'), 'c3', c2);

  await d2.dockerOk(['rm', '-f', 'c2', 'c3']);
  await d2.dockerOk(['network', 'rm', NET]);
  await until('the cluster network and its pool gone from etcd', () => keysUnder(OVERLAY_KEYS).length === 0 && keysUnder(POOL_KEYS).length === 0, 5000).catch(() => undefined);
  t.deepEqual(keysUnder(OVERLAY_KEYS), [], 'no key of the cluster network');
  t.deepEqual(keysUnder(POOL_KEYS), [], 'no IPAM pool');
  t.deepEqual(
    etcdKeys().filter((k) => k.includes(SUBNET.split('/')[0]!)),
    [],
    'nothing of the subnet: neither the pool nor its addresses',
  );
});

test.serial('nothing left: no bov-/bvx- link on either host', async (t) => {
  for (const host of [h('h1'), h('h2')]) {
    t.deepEqual(await overlayLinks(host), [], `links left on ${host.name}`);
    t.false((await host.dockerd.dockerOk(['network', 'ls', '--format', '{{.Name}}'])).split('\n').includes(NET));
  }
});
