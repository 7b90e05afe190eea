/**
 * berth-overlay as Kubernetes runs it (CNI, a block of the subnet per node), on four hosts of
 * a cluster lab (test/support/cluster-lab.ts): each host a network and mount namespace on one
 * fabric, a real etcd on the fabric, a berthd per host in the cluster, pods added through the
 * libcni client inside each host.
 *
 * Shown here: pods on three hosts reach each other with their own source address; each host
 * holds FDB, neighbour and route for every other (and nothing learnt); the VXLAN device is as
 * configured; traffic leaving the cluster subnet is masqueraded; berth status shows the
 * cluster; a joining node is reachable within a second; a dead node is dropped by all and its
 * block freed after the grace; etcd down leaves traffic and ADD working and berthd catches up;
 * berthd SIGKILLed and restarted keeps traffic flowing; DEL twice; nothing left; routed mode.
 * Every host's firewall drops forwarded traffic (`iptables -P FORWARD DROP`, as Docker and ufw
 * leave it): berth's devices pass it through the forward passage.
 *
 * Addresses: 192.168.77.0/24 (underlay), 10.244.0.0/16 and 10.245.0.0/16 (pods), only inside
 * this run's namespaces.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DIST_BIN, sh } from '../../support/netns.js';
import { startClusterLab, type ClusterLab, type LabBerthd, type LabHost } from '../../support/cluster-lab.js';

const VNI = 4242;
const conflist = (over: Record<string, unknown> = {}) => ({
  cniVersion: '1.0.0',
  name: 'ovl',
  plugins: [{ type: 'berth-overlay', subnet: '10.244.0.0/16', subnetLen: 24, vni: VNI, ipMasq: true, ...over }],
});
/** Short TTL and grace so that death and reclaim are seen within the test. */
const CLUSTER_TIMING = ['--node-ttl', '3', '--subnet-grace', '4'];

let lab: ClusterLab;
const berthd = new Map<string, LabBerthd>();
interface Pod {
  readonly host: LabHost;
  readonly netns: string;
  readonly id: string;
  readonly ip: string;
}
const pods = new Map<string, Pod>();

function host(name: string): LabHost {
  return lab.host(name);
}

async function startBerthd(h: LabHost): Promise<LabBerthd> {
  const b = await h.startBerthd([...h.berthdArgsForCluster(), ...CLUSTER_TIMING]);
  berthd.set(h.name, b);
  return b;
}

async function addPod(h: LabHost, name: string, conf = conflist()): Promise<Pod> {
  const netns = h.addPod(name);
  const id = `${h.name}-${name}`;
  const r = await h.cni('add', { conflist: conf, containerId: id, netns });
  if (r.code !== 0) throw new Error(`ADD ${id} on ${h.name}: ${r.stdout}${r.stderr}\n${berthd.get(h.name)?.log() ?? ''}`);
  const result = JSON.parse(r.stdout) as { ips: { address: string }[] };
  const pod = { host: h, netns, id, ip: result.ips[0]!.address.split('/')[0]! };
  pods.set(id, pod);
  return pod;
}

async function delPod(p: Pod, conf = conflist()): Promise<void> {
  const r = await p.host.cni('del', { conflist: conf, containerId: p.id, netns: p.netns });
  if (r.code !== 0) throw new Error(`DEL ${p.id}: ${r.stdout}${r.stderr}`);
}

function podExec(p: Pod, cmd: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', p.netns.split('/').pop()!, cmd, ...args]);
}

function reaches(from: Pod, to: string): boolean {
  try {
    podExec(from, 'ping', ['-c', '1', '-W', '1', to]);
    return true;
  } catch {
    return false;
  }
}

async function json<T>(h: LabHost, cmd: string, args: string[]): Promise<T> {
  const r = await h.exec(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} on ${h.name}: ${r.stderr}`);
  return JSON.parse(r.stdout || '[]') as T;
}

/** What a host holds for its overlay peers: FDB destinations, permanent neighbours, berth's routes. */
async function peerState(h: LabHost, device = `bvx-${VNI}`) {
  const fdb = await json<{ mac: string; dst?: string }[]>(h, 'bridge', ['-j', 'fdb', 'show', 'dev', device]);
  const neigh = await json<{ dst: string; lladdr: string; state: string[] }[]>(h, 'ip', ['-j', 'neigh', 'show', 'dev', device]);
  const routes = await json<{ dst: string; gateway?: string; dev: string; flags: string[] }[]>(h, 'ip', ['-j', 'route', 'show', 'proto', '78']);
  return {
    fdb: fdb
      .filter((f) => f.dst)
      .map((f) => f.dst!)
      .sort(),
    neigh: neigh
      .filter((n) => n.state.includes('PERMANENT'))
      .map((n) => n.dst)
      .sort(),
    routes: routes.map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}${r.flags.includes('onlink') ? ' onlink' : ''}`).sort(),
  };
}

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await ok()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** A TCP server in `p` that answers each connection with the peer's address; the client's view of it. */
function peerAddressSeenBy(server: { exec: (args: string[]) => ReturnType<typeof spawn> }, client: Pod, address: string, port: number): Promise<string> {
  const srv = server.exec(['node', '-e', `require('net').createServer((s)=>s.end(s.remoteAddress)).listen(${port},'${address}',()=>console.log('up'))`]);
  return new Promise<string>((resolve, reject) => {
    srv.stdout!.once('data', () => {
      try {
        resolve(
          podExec(client, 'node', [
            '-e',
            `const s=require('net').connect(${port},'${address}');let d='';s.on('data',(c)=>d+=c);s.on('end',()=>console.log(d));s.on('error',(e)=>{console.error(e.message);process.exit(1)})`,
          ]).trim(),
        );
      } catch (err) {
        reject(err as Error);
      } finally {
        srv.kill('SIGKILL');
      }
    });
    srv.once('error', reject);
  });
}

test.before(async () => {
  lab = await startClusterLab({ hosts: 4, prefix: 'ovc' });
  // Hosts as a firewall leaves them (Docker's, ufw's): forwarded traffic dropped unless accepted.
  for (const h of lab.hosts) {
    const r = await h.exec('iptables', ['-w', '-P', 'FORWARD', 'DROP']);
    if (r.code !== 0) throw new Error(`iptables on ${h.name}: ${r.stderr}`);
  }
  for (const name of ['h1', 'h2', 'h3']) await startBerthd(host(name));
});

test.after.always(async () => {
  await lab?.stop();
});

test.serial('pods on three hosts reach each other; every host holds FDB, neighbour and route for the other two; the VXLAN device is as configured', async (t) => {
  const a = await addPod(host('h1'), 'a');
  const b = await addPod(host('h2'), 'b');
  const c = await addPod(host('h3'), 'c');
  const blocks = [a, b, c].map((p) => p.ip.split('.').slice(0, 3).join('.'));
  t.is(new Set(blocks).size, 3, `one block per node: ${blocks.join(', ')}`);
  for (const [from, to] of [
    [a, b],
    [a, c],
    [b, a],
    [b, c],
    [c, a],
    [c, b],
  ] as const) {
    t.true(reaches(from, to.ip), `${from.id} reaches ${to.id} (${to.ip})`);
  }

  const h1 = await peerState(host('h1'));
  t.deepEqual(h1.fdb, ['192.168.77.12', '192.168.77.13']);
  t.deepEqual(h1.neigh, [`${blocks[1]}.0`, `${blocks[2]}.0`]);
  t.deepEqual(h1.routes, [`${blocks[1]}.0/24 via ${blocks[1]}.0 dev bvx-${VNI} onlink`, `${blocks[2]}.0/24 via ${blocks[2]}.0 dev bvx-${VNI} onlink`]);

  const [dev] = await json<{ mtu: number; address: string; linkinfo: { info_data: { id: number; port: number; local: string; learning: boolean } } }[]>(host('h1'), 'ip', [
    '-d',
    '-j',
    'link',
    'show',
    `bvx-${VNI}`,
  ]);
  t.like(dev!.linkinfo.info_data, { id: VNI, port: 4789, local: '192.168.77.11', learning: false });
  t.is(dev!.mtu, 1450, 'the underlay (1500) minus 50');
  const [podIf] = JSON.parse(podExec(a, 'ip', ['-j', 'link', 'show', 'eth0'])) as { mtu: number }[];
  t.is(podIf!.mtu, 1450, "the pods' MTU is the VXLAN device's");
});

test.serial('a pod keeps its source address across hosts; traffic leaving the cluster subnet is masqueraded', async (t) => {
  const a = pods.get('h1-a')!;
  const b = pods.get('h2-b')!;
  const inPod = (p: Pod) => ({ exec: (args: string[]) => spawn('ip', ['netns', 'exec', p.netns.split('/').pop()!, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) });
  t.is(await peerAddressSeenBy(inPod(b), a, b.ip, 7001), a.ip, "h2's pod sees h1's pod's own address");
  // The fabric's own address (in the test run's namespace) is outside the cluster subnet.
  const outside = { exec: (args: string[]) => spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }) };
  t.is(await peerAddressSeenBy(outside, a, lab.gateway, 7002), '192.168.77.11', "h1's underlay address: masqueraded");
});

test.serial('berth status on a node shows the cluster: nodes, their blocks and VTEPs, etcd healthy', async (t) => {
  const r = await host('h2').exec(process.execPath, [join(DIST_BIN, 'berth'), 'status', '--format', 'json']);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { cluster: { node: string; etcdHealthy: boolean; nodes: { name: string }[]; overlays: { vni: number; nodes: { node: string; vtep: string }[] }[] } };
  t.is(s.cluster.node, 'h2');
  t.true(s.cluster.etcdHealthy);
  t.deepEqual(s.cluster.nodes.map((n) => n.name).sort(), ['h1', 'h2', 'h3']);
  t.deepEqual(
    s.cluster.overlays[0]!.nodes.map((n) => `${n.node} ${n.vtep}`),
    ['h1 192.168.77.11', 'h2 192.168.77.12', 'h3 192.168.77.13'],
  );
  const table = await host('h2').exec(process.execPath, [join(DIST_BIN, 'berth'), 'status']);
  t.regex(table.stdout, /Cluster: +node h2, underlay 192\.168\.77\.12; etcd http:\/\/192\.168\.77\.1:\d+: healthy/);
  t.regex(table.stdout, new RegExp(`Overlay ovl: VNI ${VNI}, subnet 10\\.244\\.0\\.0/16`));
});

test.serial('a node that joins is reachable from the others within a second', async (t) => {
  const h4 = host('h4');
  await startBerthd(h4);
  const d = await addPod(h4, 'd');
  const a = pods.get('h1-a')!;
  const ms = await until(`h1's pod reaches h4's pod ${d.ip}`, () => reaches(a, d.ip), 5000, 20);
  t.log(`h4's first pod reachable from h1 ${ms} ms after its ADD returned`);
  t.true(ms < 1000, `${ms} ms`);
  t.true(reaches(d, pods.get('h3-c')!.ip));
});

test.serial("a node whose lease expires is dropped from everyone's FDB, neighbours and routes; its block returns to the pool after the grace", async (t) => {
  const d = pods.get('h4-d')!;
  const block = `${d.ip.split('.').slice(0, 3).join('.')}.0`;
  await berthd.get('h4')!.kill();
  lab.partition(host('h4')); // gone for good, as a crashed node
  const ms = await until(
    'h1 and h2 drop h4',
    async () => {
      const [s1, s2] = [await peerState(host('h1')), await peerState(host('h2'))];
      return ![...s1.fdb, ...s2.fdb].includes('192.168.77.14') && !s1.routes.some((r) => r.startsWith(block)) && !s2.neigh.includes(block);
    },
    15_000,
    200,
  );
  t.log(`h4 dropped by the others ${ms} ms after it died (node TTL 3 s)`);
  const claims = async () => (await host('h1').exec('etcdctl', ['--endpoints', lab.etcdUrl, 'get', '--prefix', '--keys-only', `/berth/overlay/vni-${VNI}/subnets/`])).stdout;
  t.regex(await claims(), new RegExp(`${block}-24`), 'the block is still held during the grace');
  await until('the block returns to the pool', async () => !(await claims()).includes(`${block}-24`), 20_000, 500);
  lab.heal(host('h4'));
  // The dead node's pod: DEL works without berthd (the plugin runs in-process) and leaves nothing.
  await delPod(d);
  t.deepEqual(await json<object[]>(host('h4'), 'ip', ['-j', 'link', 'show', 'type', 'vxlan']), []);
});

test.serial('etcd down: traffic flows, an ADD on a node that holds its block works, and berthd catches up when etcd returns', async (t) => {
  const [a, b] = [pods.get('h1-a')!, pods.get('h2-b')!];
  await lab.etcd.stop();
  t.true(reaches(a, b.ip), 'existing traffic flows');
  const b2 = await addPod(host('h2'), 'b2');
  t.is(b2.ip.split('.').slice(0, 3).join('.'), b.ip.split('.').slice(0, 3).join('.'), "from h2's block");
  t.true(reaches(a, b2.ip), 'the new pod is reached at once: the route covers the block');
  await lab.etcd.start();
  // A node that joins now is seen by the nodes whose watches were broken.
  await startBerthd(host('h4'));
  const d2 = await addPod(host('h4'), 'd2');
  const ms = await until("h1's pod reaches h4's new pod", () => reaches(a, d2.ip), 15_000, 100).catch(async (err: Error) => {
    t.log(berthd.get('h1')!.log().split('\n').slice(-15).join('\n'), JSON.stringify(await peerState(host('h1'))));
    throw err;
  });
  t.log(`caught up ${ms} ms after h4's ADD`);
  await delPod(b2);
  await delPod(d2);
});

test.serial('berthd SIGKILLed and restarted: traffic keeps flowing; one VXLAN device afterwards; new pods work', async (t) => {
  const [a, b] = [pods.get('h1-a')!, pods.get('h2-b')!];
  const name = a.netns.split('/').pop()!;
  const ping = spawn('ip', ['netns', 'exec', name, 'ping', '-i', '0.05', '-w', '4', '-W', '1', b.ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  ping.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const done = new Promise((r) => ping.once('exit', r));
  await new Promise((r) => setTimeout(r, 500));
  await berthd.get('h2')!.kill();
  await startBerthd(host('h2'));
  await done;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  t.truthy(m, out);
  const [sent, got] = [Number(m![1]), Number(m![2])];
  t.log(`${got}/${sent} pings answered across the restart`);
  t.true(sent - got <= 1, `${sent - got} lost`);
  t.is((await json<object[]>(host('h2'), 'ip', ['-j', 'link', 'show', 'type', 'vxlan'])).length, 1);
  const b3 = await addPod(host('h2'), 'b3');
  t.is(b3.ip.split('.').slice(0, 3).join('.'), b.ip.split('.').slice(0, 3).join('.'), 'the node kept its block across the restart');
  t.true(reaches(a, b3.ip));
  await delPod(b3);
});

test.serial('DEL twice succeeds; after the last pod of a node nothing is left there and the others drop its route', async (t) => {
  const a = pods.get('h1-a')!;
  const block = `${a.ip.split('.').slice(0, 3).join('.')}.0`;
  await delPod(a);
  await delPod(a);
  const h1 = host('h1');
  t.deepEqual(await json<object[]>(h1, 'ip', ['-j', 'link', 'show', 'type', 'vxlan']), []);
  t.deepEqual(await json<object[]>(h1, 'ip', ['-j', 'link', 'show', 'type', 'bridge']), []);
  t.deepEqual(await json<object[]>(h1, 'ip', ['-j', 'route', 'show', 'proto', '78']), []);
  await until("h2 drops h1's route", async () => !(await peerState(host('h2'))).routes.some((r) => r.startsWith(block)), 5000);
  t.pass();
});

test.serial('routed mode: blocks of peers on the same underlay subnet are routed via their underlay address, not encapsulated', async (t) => {
  const routed = conflist({ subnet: '10.245.0.0/16', vni: 4243, mode: 'routed', ipMasq: false });
  routed.name = 'ovr';
  const x = await addPod(host('h2'), 'x', routed);
  const y = await addPod(host('h3'), 'y', routed);
  t.true(reaches(x, y.ip));
  t.true(reaches(y, x.ip));
  const h2 = await peerState(host('h2'), 'bvx-4243');
  const yBlock = `${y.ip.split('.').slice(0, 3).join('.')}.0/24`;
  t.true(h2.routes.includes(`${yBlock} via 192.168.77.13 dev eth0`), h2.routes.join('\n'));
  t.deepEqual(h2.fdb, [], 'no FDB entries: nothing is encapsulated');
  await delPod(x, routed);
  await delPod(y, routed);
});

test.serial('bad input: a CNI error with the right code and nothing left behind', async (t) => {
  const h3 = host('h3');
  const netns = h3.addPod('bad');
  const links = async () => (await json<{ ifname: string }[]>(h3, 'ip', ['-j', 'link', 'show'])).map((l) => l.ifname).sort();
  const before = await links();
  const add = async (conf: object) => {
    const r = await h3.cni('add', { conflist: conf, containerId: 'bad', netns });
    t.not(r.code, 0);
    return JSON.parse(r.stdout) as { code: number; msg: string };
  };
  const other = await add(conflist({ subnet: '10.250.0.0/16' }));
  t.is(other.code, 7);
  t.regex(other.msg, new RegExp(`VNI ${VNI} is already the cluster network with subnet 10\\.244\\.0\\.0/16`));
  const withIpam = await add({ ...conflist(), plugins: [{ ...conflist().plugins[0], ipam: { type: 'host-local' } }] });
  t.is(withIpam.code, 2);
  t.regex(withIpam.msg, /remove the ipam section/);
  // berthd down and this node never joined VNI 4299: the plugin runs in-process and cannot lease a block.
  await berthd.get('h3')!.stop();
  const alone = await add({ ...conflist({ subnet: '10.246.0.0/16', vni: 4299 }), name: 'lonely' });
  t.is(alone.code, 11);
  t.regex(alone.msg, /no block on this node yet: berthd \(with --etcd-endpoints\) must be running/);
  t.deepEqual(await links(), before);
  await startBerthd(h3);
});
