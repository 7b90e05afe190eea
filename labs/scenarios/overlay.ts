/**
 * overlay: one berth-overlay network across hosts. Hosts h1 and h2 (network namespaces on a
 * fabric bridge, each with its own /run/berth) run a berthd each in one cluster through etcd on
 * the fabric; a pod on each (added through the berth-overlay CNI plugin, as a runtime does)
 * gets an address from its host's block of the cluster subnet. Shown: the VXLAN device and what
 * each host programs for its peer (FDB entry, permanent neighbour, route), the pods reaching
 * each other with their own source address, the fabric counting the encapsulated packets (UDP
 * 4789 carrying the network's VNI, counted by nftables on the fabric bridge), and a third host
 * joining and reachable well within a second.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster, type ClusterHost } from '../framework/cluster.js';
import type { LabContext } from '../framework/context.js';
import { shellJoin } from '../framework/context.js';
import { BERTH } from '../framework/lab-namespace.js';
import type { LabDefinition } from '../framework/lab.js';
import { endProcess, runCommand, waitUntil } from '../framework/process.js';
import { firstLine, type StepRecord } from '../framework/report.js';

const UNDERLAY = '192.168.80';
const SUBNET = '10.244.0.0/16';
const VNI = 4242;
const DEVICE = `bvx-${VNI}`;
const NETWORK = 'pods';
const PORT = 7000;

interface Pod {
  readonly name: string;
  readonly host: ClusterHost;
  readonly netns: string;
  readonly ip: string;
}

/** The block (a.b.c.0) a pod's address is in: berth leases each node a /24 of the subnet. */
const blockOf = (ip: string) => `${ip.split('.').slice(0, 3).join('.')}.0`;

/** A pod: an `ip netns` namespace, attached to `host` by the berth-overlay plugin (CNI ADD on the host). */
async function addPod(ctx: LabContext, host: ClusterHost, name: string, conf: string, cniBin: string, note?: string): Promise<Pod> {
  const netns = `${host.name}-${name}`;
  ctx.defer(`pod ${netns}`, () => runCommand(['ip', 'netns', 'del', netns]));
  for (const argv of [
    ['ip', 'netns', 'add', netns],
    ['ip', '-n', netns, 'link', 'set', 'lo', 'up'],
  ]) {
    const s = await ctx.sh(argv, argv[2] === 'add' ? note : undefined);
    if (s.code !== 0) {
      s.succeeded(argv.join(' '));
      throw new Error(`the pod ${netns} could not be made: ${s.ran.stderr.trim()}`);
    }
  }
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: netns, CNI_NETNS: `/run/netns/${netns}`, CNI_IFNAME: 'eth0', CNI_PATH: cniBin };
  const plugin = join(cniBin, 'berth-overlay');
  const add = await host.sh(['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), `BERTH_CACHE_DIR=${join(ctx.dir, 'v8cache')}`, plugin], undefined, {
    stdin: conf,
    show: `${shellJoin(Object.entries(env).map(([k, v]) => `${k}=${v}`))} ${plugin} < ${NETWORK}.conf`,
  });
  let ip = '';
  try {
    ip = ((JSON.parse(add.stdout) as { ips?: { address?: string }[] }).ips?.[0]?.address ?? '').split('/')[0] ?? '';
  } catch {
    // Checked below.
  }
  add.check(
    `${name} on ${host.name} gets an address of the cluster subnet`,
    add.code === 0 && ip.startsWith('10.244.'),
    add.code === 0 ? `${ip || 'no address'}` : firstLine(add.ran.stderr) || firstLine(add.stdout),
  );
  if (!ip) throw new Error(`CNI ADD of ${netns} on ${host.name} failed: ${(add.ran.stderr || add.stdout).trim()}`);
  ctx.addPlace({
    kind: 'container',
    name: netns,
    host: host.name,
    exec: ['ip', 'netns', 'exec', netns],
    shell: ['ip', 'netns', 'exec', netns, 'sh'],
    netns: () => Promise.resolve(`/run/netns/${netns}`),
  });
  return { name, host, netns, ip };
}

function ping(ctx: LabContext, from: Pod, to: Pod, note?: string): Promise<StepRecord> {
  return ctx.inNetns(from.netns, ['ping', '-c', '1', '-W', '2', to.ip], note);
}

function checkPing(s: StepRecord, from: Pod, to: Pod): boolean {
  return s.check(`${from.name} (${from.host.name}) reaches ${to.name} (${to.host.name})`, s.code === 0, s.code === 0 ? firstLine(s.stdout.split('\n')[1] ?? '') : `no answer from ${to.ip}`);
}

/** The counters of the fabric's rules, in order. */
function counters(listing: string): number[] {
  return [...listing.matchAll(/counter packets (\d+) bytes \d+/g)].map((m) => Number(m[1]));
}

/**
 * A TCP server in `server` that answers each connection with the address it came from; the
 * client in `client` prints it: the source address `server` saw.
 */
async function sourceSeen(ctx: LabContext, client: Pod, server: Pod): Promise<StepRecord> {
  const srv = spawn('ip', ['netns', 'exec', server.netns, process.execPath, '-e', `net.createServer((s) => s.end(s.remoteAddress)).listen(${PORT}, '0.0.0.0', () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  ctx.defer(`the server in ${server.netns}`, () => endProcess(srv, 'SIGKILL'));
  let up = false;
  srv.stdout!.on('data', () => (up = true));
  await waitUntil(() => up, 10_000, `the server in ${server.netns}`);
  const code = `const s = net.connect(${PORT}, '${server.ip}'); s.setTimeout(2000, () => process.exit(1)); s.on('error', () => process.exit(1)); s.pipe(process.stdout)`;
  const s = await ctx.step(
    { show: `ip netns exec ${client.netns} node -e ${shellJoin([code])}`, argv: ['ip', 'netns', 'exec', client.netns, process.execPath, '-e', code], timeoutMs: 10_000 },
    `A server in ${server.name} answers each connection with the address it came from: ${client.name}'s own, not its host's.`,
  );
  await endProcess(srv, 'SIGKILL');
  return s;
}

export const overlayLab: LabDefinition = {
  name: 'overlay',
  purpose: 'multi-host overlay: hosts in one cluster through etcd, pods on each reaching each other over VXLAN with their own addresses; the VNI on the wire; a host joining',
  async run(ctx) {
    const cluster = await Cluster.build(ctx, UNDERLAY);
    const [h1, h2] = [await cluster.addHost(1), await cluster.addHost(2)];

    const cniBin = join(ctx.dir, 'cni-bin');
    (
      await ctx.step(
        { show: `berth install --cni-bin-dir ${cniBin}`, argv: [process.execPath, BERTH, 'install', '--cni-bin-dir', cniBin] },
        "berth's CNI plugins, where the hosts' runtime looks for them (one file system: the hosts share it).",
      )
    ).succeeded('the plugins are installed');
    const conf = `${JSON.stringify({ cniVersion: '1.0.0', name: NETWORK, type: 'berth-overlay', subnet: SUBNET, subnetLen: 24, vni: VNI }, null, 2)}\n`;
    const confFile = join(ctx.dir, `${NETWORK}.conf`);
    writeFileSync(confFile, conf);
    (await ctx.sh(['cat', confFile], `The network: ${SUBNET}, a /24 block of it per host, VXLAN ${VNI} between the hosts.`)).succeeded('the configuration is written');

    await h1.startBerthd(`[hN] marks a command on host hN (berth lab shell overlay hN). berthd on each host joins the cluster through etcd, the host's underlay address as its VTEP.`);
    await h2.startBerthd();

    for (const argv of [
      ['nft', 'add', 'table', 'bridge', 'fabric'],
      ['nft', 'add', 'chain', 'bridge', 'fabric', 'forward', '{ type filter hook forward priority 0; policy accept; }'],
      ['nft', 'add', 'rule', 'bridge', 'fabric', 'forward', 'udp', 'dport', '4789', 'counter'],
      ['nft', 'add', 'rule', 'bridge', 'fabric', 'forward', 'udp', 'dport', '4789', '@th,96,24', String(VNI), 'counter'],
    ]) {
      const s = await ctx.sh(
        argv,
        argv[2] === 'table'
          ? `The fabric counts what crosses it: VXLAN packets (UDP 4789), and those whose VXLAN header carries VNI ${VNI} (the 24 bits after the UDP header and 4 bytes of flags).`
          : undefined,
      );
      if (s.code !== 0) {
        s.succeeded(argv.join(' '));
        throw new Error(`the fabric's counters could not be set: ${s.ran.stderr.trim()}`);
      }
    }

    const a = await addPod(ctx, h1, 'a', conf, cniBin, 'A pod on each host, added as a runtime does: the plugin with the CNI_* variables and the network configuration on stdin.');
    const b = await addPod(ctx, h2, 'b', conf, cniBin);
    const bIp = b.ip;
    const blocks = await h1.sh(['ip', '-br', 'addr', 'show', 'type', 'bridge'], "Each host's pods are on a local bridge holding .1 of the host's block.");
    blocks.check('the hosts hold different blocks of the subnet', blockOf(a.ip) !== blockOf(bIp), `a ${a.ip} (block ${blockOf(a.ip)}/24), b ${bIp} (block ${blockOf(bIp)}/24)`);

    const dev = await h1.sh(['ip', '-d', 'link', 'show', DEVICE], `The VXLAN device of the network on h1: VNI ${VNI}, h1's underlay address as its local end, UDP 4789, learning off.`);
    const vxlan = /vxlan id (\d+)[^\n]*?local (\S+)[^\n]*?dstport (\d+)/.exec(dev.stdout);
    dev.check(
      `${DEVICE} is VXLAN ${VNI} from ${h1.address}, port 4789, without learning`,
      vxlan?.[1] === String(VNI) && vxlan[2] === h1.address && vxlan[3] === '4789' && /nolearning/.test(dev.stdout),
      vxlan ? `id ${vxlan[1]}, local ${vxlan[2]}, dstport ${vxlan[3]}${/nolearning/.test(dev.stdout) ? ', nolearning' : ', learning'}` : firstLine(dev.ran.stderr) || 'no VXLAN details',
    );
    const fdb = await h1.sh(['bridge', 'fdb', 'show', 'dev', DEVICE], "h1's forwarding table for the tunnel: h2's VTEP MAC is behind h2's underlay address.");
    fdb.check(
      `h1's FDB sends to h2 (${h2.address})`,
      fdb.stdout.includes(`dst ${h2.address}`),
      fdb.stdout.includes(`dst ${h2.address}`) ? firstLine(fdb.stdout.split('\n').find((l) => l.includes(`dst ${h2.address}`)) ?? '') : 'no entry for h2',
    );
    const neigh = await h1.sh(['ip', 'neigh', 'show', 'dev', DEVICE], "A permanent neighbour for h2's block: nothing is flooded or learnt across the overlay.");
    const bGw = blockOf(bIp);
    neigh.check(`h1 holds a permanent neighbour for ${bGw}`, new RegExp(`^${bGw.replaceAll('.', '\\.')} lladdr \\S+ PERMANENT`, 'm').test(neigh.stdout), firstLine(neigh.stdout) || 'no neighbour');
    const route = await h1.sh(['ip', 'route', 'show', 'dev', DEVICE], "And the route to h2's block through the tunnel.");
    route.check(`h1 routes ${bGw}/24 over ${DEVICE}`, route.stdout.includes(`${bGw}/24 via ${bGw}`), firstLine(route.stdout) || 'no route');

    if (ctx.sabotage) await ctx.sh(['nft', 'add', 'rule', 'bridge', 'fabric', 'forward', 'udp', 'dport', '4789', 'drop'], 'Sabotage (test only): the fabric drops VXLAN.');
    checkPing(await ping(ctx, a, b, 'Across hosts: a on h1 reaches b on h2 by its address.'), a, b);
    checkPing(await ping(ctx, b, a), b, a);
    const seen = await sourceSeen(ctx, a, b);
    const saw = seen.stdout.trim();
    seen.check(`b sees a's own address (${a.ip}), not h1's`, seen.code === 0 && saw === a.ip, seen.code === 0 ? `b saw ${saw || 'nothing'}` : 'no connection');

    const wire = await ctx.sh(['nft', 'list', 'chain', 'bridge', 'fabric', 'forward'], `On the wire: the pods' packets crossed the fabric inside UDP 4789 with VNI ${VNI} (0x${VNI.toString(16)}).`);
    const [all = 0, ofVni = 0] = counters(wire.stdout);
    wire.check(`the fabric carried VXLAN packets of VNI ${VNI}`, ofVni >= 2, `${ofVni} packets with VNI ${VNI} (of ${all} on UDP 4789)`);
    wire.check('every VXLAN packet on the fabric is of the network', all > 0 && all === ofVni, `${all} on UDP 4789, ${ofVni} of them with VNI ${VNI}`);

    const h3 = await cluster.addHost(3);
    await h3.startBerthd('A third host joins: the others program it as soon as its record lands in etcd.');
    const c = await addPod(ctx, h3, 'c', conf, cniBin);
    const added = Date.now();
    const pingC = ['ip', 'netns', 'exec', a.netns, 'ping', '-c', '1', '-W', '0.2', c.ip];
    let ran = await runCommand(pingC);
    while (ran.code !== 0 && Date.now() - added < 3000) ran = await runCommand(pingC);
    const ms = Date.now() - added;
    const join_ = ctx.log.open(shellJoin(pingC), ran, `From h1, c on the new host is reachable at once (pinged from the moment its ADD returned).`);
    join_.check('c on h3 is reachable from a within a second of its ADD', ran.code === 0 && ms < 1000, ran.code === 0 ? `answered ${ms} ms after the ADD` : `no answer in ${ms} ms`);
    checkPing(await ping(ctx, c, b), c, b);
    const fdb3 = await h1.sh(['bridge', 'fdb', 'show', 'dev', DEVICE], "h1's table now holds both peers.");
    fdb3.check(
      `h1's FDB sends to h2 and h3`,
      [h2, h3].every((h) => fdb3.stdout.includes(`dst ${h.address}`)),
      `${
        [h2, h3]
          .filter((h) => fdb3.stdout.includes(`dst ${h.address}`))
          .map((h) => h.name)
          .join(', ') || 'neither'
      }`,
    );
    const status = await h2.berth(['status'], "berth status on any host: the cluster's nodes, their blocks and VTEPs, etcd's health.");
    const listed = [h1, h2, h3].filter((h) => new RegExp(`^${h.name}\\s.*${h.address.replaceAll('.', '\\.')}`, 'm').test(status.stdout));
    status.check(
      'berth status lists the three nodes and a healthy etcd',
      listed.length === 3 && /etcd \S+: healthy/.test(status.stdout),
      `${listed.map((h) => h.name).join(', ') || 'no node'} listed; etcd ${/etcd \S+: healthy/.test(status.stdout) ? 'healthy' : 'not healthy'}`,
    );
    return {};
  },
};
