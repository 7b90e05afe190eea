/**
 * Overlay benchmark: berth-overlay across hosts of a cluster lab (test/support/cluster-lab.ts:
 * hosts as network + mount namespaces on one fabric bridge, etcd on the fabric, a berthd per
 * host), in one run:
 *
 * 1. Pod-to-pod TCP throughput between two hosts, iperf3 (server in a pod of h2, client in a
 *    pod of h1, `-t SECONDS -O 1 -J`, the received rate), in rounds:
 *    A  berth-overlay in VXLAN mode (VNI 4242, 10.244.0.0/16, ipMasq);
 *    B  a VXLAN pair built by hand on the same two hosts, the same shape as berth's (flannel's):
 *       `vxh` (VNI 77, port 4790, nolearning, local = the host's address, dev eth0, MTU that of
 *       berth's pods: underlay - 50), a bridge with the gateway, a veth to a pod of its own, and
 *       per peer a permanent FDB entry, a permanent neighbour and an onlink route, by `ip` and
 *       `bridge`. Both sides share the hosts' netfilter (berth's tables see B's packets too),
 *       the fabric and the machine's CPUs;
 *    C  berth-overlay in routed mode (VNI 4243, 10.245.0.0/16), for information.
 *    A, B, B again (the null pair) and C are interleaved in rounds of rotating order
 *    (bench/method/rounds.ts); the figure is the median of the per-round ratios A/B with its
 *    rounds' spread and the bootstrap 95 % interval of the median, and the goal (>= 0.95x).
 * 2. Convergence of a node joining a cluster of 3 and of 10 hosts that have a pod each: the
 *    time from the joiner's first pod ADD returning until a pod on an existing host gets an
 *    answer from the new pod (ping every 10 ms, timestamps from ping -D). The joiner is one lab
 *    host that comes back as a new node each round: state wiped, berthd started with a new
 *    node name and --node-ttl 2; after the round its pod is deleted, berthd stopped, and the
 *    next round waits until every existing host dropped it and its lease expired. The observer
 *    rotates over the existing hosts. p50 and p95 per size; goal p95 < 1 s. Beside them the
 *    measurement's floor: the same measurement against a pod reachable all along.
 * 3. berthd's resident memory (VmRSS) on each host, with the pods up: after the throughput
 *    set-up (2 hosts) and with 10 hosts.
 *
 *   bash scripts/bench-overlay.sh [--quick] [--seconds N] [--rounds R] [--joins J] [--sizes 3,10] [--out FILE]
 *
 * Defaults: 10 s, 6 rounds, 20 joins per size (about 6 minutes on 2 CPUs); --quick: 2 s,
 * 3 rounds, 5 joins (about 70 s). Exits 1 when a goal is not met.
 *
 * Runs inside a private network and mount namespace (scripts/bench-overlay.sh does the
 * unshare, or bench/run.ts); everything it makes goes with lab.stop(). Prints the figures and
 * writes them (bench/method/result.ts) to FILE when `--out` names one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RESULT_OPTIONS, finish } from './method/bench-cli.js';
import { compare, type Comparison } from './method/comparison.js';
import { goalVerdict, type Figure } from './method/result.js';
import { interleave, series, type Rounds } from './method/rounds.js';
import { median } from './method/stats.js';
import { startClusterLab, type ClusterLab, type LabBerthd, type LabHost } from '../test/support/cluster-lab.js';
import { ROOT, sh } from '../test/support/netns.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    joins: { type: 'string' },
    sizes: { type: 'string', default: '3,10' },
    ...RESULT_OPTIONS,
  },
});
const QUICK = values.quick;
/** iperf3's measured seconds per run (one more is run and omitted: slow start). */
const SECONDS = Number(values.seconds ?? (QUICK ? 2 : 10));
const ROUNDS = Number(values.rounds ?? (QUICK ? 3 : 6));
/** Joins measured per cluster size. */
const JOINS = Number(values.joins ?? (QUICK ? 5 : 20));
const OUT = values.out === undefined ? undefined : resolve(ROOT, values.out);
for (const [flag, n] of Object.entries({ seconds: SECONDS, rounds: ROUNDS, joins: JOINS }))
  if (!Number.isInteger(n) || n < 1) {
    console.error(`--${flag} wants a whole number of at least 1`);
    process.exit(2);
  }
/** Cluster sizes whose convergence is measured (`--sizes`; the RSS of the largest is reported). */
const SIZES = values.sizes.split(',').map(Number);
if (!SIZES.every((n) => Number.isInteger(n) && n >= 2)) {
  console.error('--sizes wants cluster sizes of at least 2, e.g. 3,10');
  process.exit(2);
}
const LARGEST = Math.max(...SIZES);
const GOAL = { ratio: 0.95, p95Ms: 1000 };
const JOIN_TIMEOUT_MS = 10_000;

const OVERLAY = { name: 'ovl', vni: 4242, subnet: '10.244.0.0/16' } as const;
const ROUTED = { name: 'ovr', vni: 4243, subnet: '10.245.0.0/16', mode: 'routed' } as const;
/** The hand-built pair: VNI, port and addresses berth does not use. */
const HAND = { vni: 77, port: 4790, net: '10.77', device: 'vxh', bridge: 'brh' } as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function conflist(net: { name: string; vni: number; subnet: string; mode?: string }): object {
  const { name, ...options } = net;
  return { cniVersion: '1.0.0', name, plugins: [{ type: 'berth-overlay', subnetLen: 24, ipMasq: true, ...options }] };
}

// ---------------------------------------------------------------- pods, hosts, processes

interface Pod {
  readonly host: LabHost;
  readonly netns: string;
  readonly id: string;
  readonly ip: string;
}

/** A pod on `host` attached through the libcni client; also answers how long the ADD took. */
async function addPod(host: LabHost, name: string, conf: object): Promise<{ pod: Pod; addMs: number }> {
  const netns = host.addPod(name);
  const id = `${host.name}-${name}`;
  const start = performance.now();
  const r = await host.cni('add', { conflist: conf, containerId: id, netns });
  const addMs = performance.now() - start;
  if (r.code !== 0) throw new Error(`ADD ${id}: ${r.stdout}${r.stderr}`);
  const ip = (JSON.parse(r.stdout) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!;
  return { pod: { host, netns, id, ip }, addMs };
}

async function deletePod(pod: Pod, conf: object): Promise<void> {
  const r = await pod.host.cni('del', { conflist: conf, containerId: pod.id, netns: pod.netns });
  if (r.code !== 0) throw new Error(`DEL ${pod.id}: ${r.stdout}${r.stderr}`);
  pod.host.removePod(pod.netns);
}

/** A command inside a host; throws with its message when it fails. */
async function onHost(host: LabHost, cmd: string, ...args: string[]): Promise<string> {
  const r = await host.exec(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} on ${host.name}: ${r.stderr}`);
  return r.stdout;
}

/** Processes this benchmark starts in pods (iperf3 servers, pings); killed at the end. */
const podProcs = new Set<ChildProcess>();

function spawnInPod(netns: string, cmd: string, args: string[]): ChildProcess {
  const p = spawn('nsenter', [`--net=${netns}`, '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
  podProcs.add(p);
  p.once('exit', () => podProcs.delete(p));
  return p;
}

/** Collects a process's stdout until it exits. */
function output(p: ChildProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) => p.once('close', (code) => res({ code: code ?? -1, stdout, stderr })));
}

/** One berthd in the lab's cluster; `name` defaults to the host's name. */
function startBerthd(lab: ClusterLab, host: LabHost, name = host.name, extra: string[] = []): Promise<LabBerthd> {
  return host.startBerthd(['--etcd-endpoints', lab.etcdUrl, '--advertise-address', host.address, '--node-name', name, ...extra]);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

interface RssRow {
  host: string;
  pid: number;
  mib: number;
}

function rssOf(berthds: Map<string, LabBerthd>): RssRow[] {
  const rows = [...berthds].map(([host, b]) => ({ host, pid: b.pid, mib: round1(rssMiB(b.pid)) }));
  return rows.sort((x, y) => Number(x.host.slice(1)) - Number(y.host.slice(1)));
}

// ---------------------------------------------------------------- the hand-built VXLAN pair

const handMac = (i: number) => `0e:77:00:00:00:${i.toString(16).padStart(2, '0')}`;

/** On host i (1 or 2): vxh, the bridge with 10.77.i.1/24, a pod 10.77.i.2 on a veth. */
async function buildHandHost(host: LabHost, i: number, mtu: number): Promise<Pod> {
  const ip = (...args: string[]) => onHost(host, 'ip', ...args);
  await ip('link', 'add', HAND.device, 'type', 'vxlan', 'id', String(HAND.vni), 'local', host.address, 'dev', 'eth0', 'dstport', String(HAND.port), 'nolearning');
  await ip('link', 'set', HAND.device, 'address', handMac(i), 'mtu', String(mtu), 'up');
  await ip('address', 'add', `${HAND.net}.${i}.0/32`, 'dev', HAND.device);
  await ip('link', 'add', HAND.bridge, 'type', 'bridge');
  await ip('address', 'add', `${HAND.net}.${i}.1/24`, 'dev', HAND.bridge);
  await ip('link', 'set', HAND.bridge, 'up');
  const netns = host.addPod('hand');
  const podName = netns.split('/').pop()!;
  await ip('link', 'add', 'vhand', 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(mtu), 'netns', podName);
  await ip('link', 'set', 'vhand', 'master', HAND.bridge, 'up');
  sh('ip', ['-n', podName, 'address', 'add', `${HAND.net}.${i}.2/24`, 'dev', 'eth0']);
  sh('ip', ['-n', podName, 'link', 'set', 'eth0', 'up']);
  sh('ip', ['-n', podName, 'route', 'add', 'default', 'via', `${HAND.net}.${i}.1`]);
  return { host, netns, id: `${host.name}-hand`, ip: `${HAND.net}.${i}.2` };
}

/** On host i, what it needs of peer j: FDB, neighbour, route, as berth programs its peers. */
async function handPeer(host: LabHost, j: number, peer: LabHost): Promise<void> {
  await onHost(host, 'bridge', 'fdb', 'append', handMac(j), 'dev', HAND.device, 'dst', peer.address, 'self', 'permanent');
  await onHost(host, 'ip', 'neigh', 'add', `${HAND.net}.${j}.0`, 'lladdr', handMac(j), 'dev', HAND.device, 'nud', 'permanent');
  await onHost(host, 'ip', 'route', 'add', `${HAND.net}.${j}.0/24`, 'via', `${HAND.net}.${j}.0`, 'dev', HAND.device, 'onlink');
}

/** The pair between h1 and h2 with berth's MTU; answers the client pod (h1) and the server pod (h2). */
async function buildHandPair(h1: LabHost, h2: LabHost, mtu: number): Promise<[Pod, Pod]> {
  const a = await buildHandHost(h1, 1, mtu);
  const b = await buildHandHost(h2, 2, mtu);
  await handPeer(h1, 2, h2);
  await handPeer(h2, 1, h1);
  return [a, b];
}

async function linkMtu(pod: Pod): Promise<number> {
  const [link] = JSON.parse(sh('ip', ['-n', pod.netns.split('/').pop()!, '-j', 'link', 'show', 'eth0'])) as { mtu: number }[];
  return link!.mtu;
}

// ---------------------------------------------------------------- throughput

interface Path {
  readonly name: 'berth' | 'hand' | 'routed';
  readonly client: Pod;
  readonly server: Pod;
}

interface IperfResult {
  gbps: number;
  retransmits: number;
  /** iperf3's CPU use of the client (local) and server (remote), percent of one machine. */
  cpuClient: number;
  cpuServer: number;
}

/** iperf3 -s in the server pod, until the end of the run. */
async function startIperfServer(pod: Pod): Promise<void> {
  // --forceflush: iperf3 buffers a pipe, and the server's banner would never arrive.
  const p = spawnInPod(pod.netns, 'iperf3', ['-s', '-B', pod.ip, '--forceflush']);
  let out = '';
  await new Promise<void>((res, rej) => {
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Server listening')) res();
    });
    p.once('exit', (code) => rej(new Error(`iperf3 -s in ${pod.id} exited (${code}): ${out}`)));
  });
}

async function iperf(path: Path, seconds: number): Promise<IperfResult> {
  const r = await output(spawnInPod(path.client.netns, 'iperf3', ['-c', path.server.ip, '-t', String(seconds), '-O', '1', '-J', '--connect-timeout', '5000']));
  const j = JSON.parse(r.stdout || '{}') as {
    error?: string;
    end?: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number }; cpu_utilization_percent: { host_total: number; remote_total: number } };
  };
  if (r.code !== 0 || !j.end) throw new Error(`iperf3 ${path.name} to ${path.server.ip}: ${j.error ?? r.stderr}`);
  return {
    gbps: round3(j.end.sum_received.bits_per_second / 1e9),
    retransmits: j.end.sum_sent.retransmits,
    cpuClient: round1(j.end.cpu_utilization_percent.host_total),
    cpuServer: round1(j.end.cpu_utilization_percent.remote_total),
  };
}

/** Rounds of the hand-built pair (baseline, and again as the null pair), berth VXLAN and berth routed. */
async function throughputRounds(paths: Record<Path['name'], Path>): Promise<Rounds> {
  const side = (name: Path['name']) => ({ name, measure: async () => ({ ...(await iperf(paths[name], SECONDS)) }) });
  return interleave(side('hand'), [side('berth'), side('routed')], ROUNDS, (r, figs) => {
    const line = Object.entries(figs).map(([name, x]) => `${name} ${x.gbps!.toFixed(2)} (retr ${x.retransmits}, cpu ${x.cpuClient!.toFixed(0)}/${x.cpuServer!.toFixed(0)} %)`);
    console.log(`  round ${r + 1}: ${line.join(', ')}`);
  });
}

// ---------------------------------------------------------------- convergence

/**
 * Pings `ip` from `netns` every 10 ms from now on; answers the time from `t0` (a Date.now())
 * to the first answer, by ping's own timestamp of it, or undefined after `timeoutMs`.
 */
async function firstAnswer(netns: string, ip: string, t0: number, timeoutMs: number): Promise<number | undefined> {
  const p = spawnInPod(netns, 'ping', ['-n', '-D', '-i', '0.01', '-W', '1', '-w', String(Math.ceil(timeoutMs / 1000)), ip]);
  let buf = '';
  return new Promise((res) => {
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /^\[(\d+\.\d+)\] \d+ bytes from/m.exec(buf);
      if (!m) return;
      p.kill('SIGKILL');
      res(Number(m[1]) * 1000 - t0);
    });
    p.once('exit', () => res(undefined));
  });
}

/** Empties the host's /run/berth and /var/lib/berth (the lab binds these folders there): a new node. */
function wipeHostState(host: LabHost): void {
  for (const dir of ['run', 'lib']) for (const entry of readdirSync(join(host.dir, dir))) rmSync(join(host.dir, dir, entry), { recursive: true, force: true });
}

/** Waits until `check` holds, polling every `stepMs`; throws after `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(stepMs);
  }
}

/** True when no existing host has an FDB entry towards `vtep` on the overlay's device. */
async function droppedEverywhere(existing: LabHost[], vtep: string): Promise<boolean> {
  const dev = `bvx-${OVERLAY.vni}`;
  for (const h of existing) {
    const fdb = JSON.parse((await onHost(h, 'bridge', '-j', 'fdb', 'show', 'dev', dev)) || '[]') as { dst?: string }[];
    if (fdb.some((e) => e.dst === vtep)) return false;
  }
  return true;
}

/** True when etcd holds no node record of `node` (its lease expired). */
async function leaseGone(lab: ClusterLab, node: string): Promise<boolean> {
  const keys = sh('etcdctl', ['--endpoints', lab.etcdUrl, 'get', '--prefix', '--keys-only', '/']);
  return !keys.split('\n').some((k) => k.endsWith(`/nodes/${node}`));
}

/**
 * What the convergence figure cannot go below: the time to the first answer from a pod that
 * is reachable all along (nsenter and ping starting, the first round trip); the median of 5.
 */
async function measurementFloor(from: Pod, to: Pod): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push((await firstAnswer(from.netns, to.ip, Date.now(), 5000)) ?? NaN);
  return round1(pct(times, 50));
}

interface Join {
  node: string;
  observer: string;
  addMs: number;
  /** Undefined: not reached within JOIN_TIMEOUT_MS. */
  ms: number | undefined;
}

/** One join: a new node on `joiner`, its first pod, the wait for `observer`'s pod to reach it, then it leaves. */
async function joinOnce(lab: ClusterLab, joiner: LabHost, node: string, observer: Pod, existing: LabHost[]): Promise<Join> {
  wipeHostState(joiner);
  const berthd = await startBerthd(lab, joiner, node, ['--node-ttl', '2']);
  const conf = conflist(OVERLAY);
  const { pod, addMs } = await addPod(joiner, node, conf);
  const t0 = Date.now();
  const ms = await firstAnswer(observer.netns, pod.ip, t0, JOIN_TIMEOUT_MS);
  await deletePod(pod, conf);
  await berthd.stop();
  await until(`the others drop ${node}`, () => droppedEverywhere(existing, joiner.address), 15_000);
  await until(`the lease of ${node} expires`, () => leaseGone(lab, node), 15_000);
  return { node, observer: observer.host.name, addMs: round1(addMs), ms: ms === undefined ? undefined : round1(ms) };
}

interface Convergence {
  hosts: number;
  joins: Join[];
  p50: number;
  p95: number;
  missed: number;
}

async function convergence(lab: ClusterLab, size: number, joiner: LabHost, observers: Pod[]): Promise<Convergence> {
  const existing = observers.map((p) => p.host);
  const joins: Join[] = [];
  for (let r = 0; r < JOINS; r++) {
    const j = await joinOnce(lab, joiner, `j${size}r${r}`, observers[r % observers.length]!, existing);
    console.log(
      `  ${size} hosts, join ${String(r + 1).padStart(2)}: ${j.ms === undefined ? 'NOT reached' : `${j.ms.toFixed(0).padStart(5)} ms`} (from ${j.observer}; its ADD took ${j.addMs.toFixed(0)} ms)`,
    );
    joins.push(j);
  }
  // A join that was never reached counts as the timeout in the percentiles.
  const times = joins.map((j) => j.ms ?? JOIN_TIMEOUT_MS);
  return { hosts: size, joins, p50: pct(times, 50), p95: pct(times, 95), missed: joins.filter((j) => j.ms === undefined).length };
}

// ---------------------------------------------------------------- figures

const round1 = (x: number) => Math.round(x * 10) / 10;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function machine() {
  return {
    kernel: release(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round1(totalmem() / 2 ** 30),
    node: process.version,
    iperf3: sh('iperf3', ['--version']).split('\n')[0]!.trim(),
  };
}

function throughputComparisons(rounds: Rounds): Comparison[] {
  const of = (name: string, target?: { atLeast: number }) =>
    compare({
      metric: `pod-to-pod TCP throughput (iperf3 -t ${SECONDS})`,
      unit: 'Gbit/s',
      better: 'higher',
      baseline: 'hand-built VXLAN pair',
      candidate: name === 'berth' ? 'berth-overlay VXLAN' : 'berth-overlay routed',
      baselineRounds: series(rounds, 'hand', 'gbps'),
      nullRounds: series(rounds, 'null', 'gbps'),
      candidateRounds: series(rounds, name, 'gbps'),
      ...(target ? { target } : {}),
    });
  return [of('berth', { atLeast: GOAL.ratio }), of('routed')];
}

function printRss(title: string, rows: RssRow[]): void {
  const mibs = rows.map((r) => r.mib);
  console.log(
    `\nberthd RSS, ${title} (MiB): ${rows.map((r) => `${r.host} ${r.mib.toFixed(1)}`).join(', ')}; max ${Math.max(...mibs).toFixed(1)}, mean ${(mibs.reduce((a, b) => a + b, 0) / mibs.length).toFixed(1)}`,
  );
}

// ---------------------------------------------------------------- the run

/** h1 and h2 with berthd, pods on both berth networks and the hand-built pair, iperf3 servers on h2. */
async function setUpThroughput(lab: ClusterLab, berthds: Map<string, LabBerthd>): Promise<Record<Path['name'], Path>> {
  const [h1, h2] = [lab.host('h1'), lab.host('h2')];
  for (const h of [h1, h2]) berthds.set(h.name, await startBerthd(lab, h));
  const vx = [await addPod(h1, 'a', conflist(OVERLAY)), await addPod(h2, 'b', conflist(OVERLAY))].map((x) => x.pod) as [Pod, Pod];
  const routed = [await addPod(h1, 'ra', conflist(ROUTED)), await addPod(h2, 'rb', conflist(ROUTED))].map((x) => x.pod) as [Pod, Pod];
  const mtu = await linkMtu(vx[0]);
  const hand = await buildHandPair(h1, h2, mtu);
  const paths = {
    berth: { name: 'berth', client: vx[0], server: vx[1] },
    hand: { name: 'hand', client: hand[0], server: hand[1] },
    routed: { name: 'routed', client: routed[0], server: routed[1] },
  } as const;
  for (const p of Object.values(paths)) {
    if ((await firstAnswer(p.client.netns, p.server.ip, Date.now(), 5000)) === undefined) throw new Error(`${p.name}: ${p.client.id} does not reach ${p.server.ip}`);
    await startIperfServer(p.server);
  }
  console.log(`pod MTU ${mtu} (berth's and the hand-built pair's); berth ${vx[0].ip} -> ${vx[1].ip}, hand-built ${hand[0].ip} -> ${hand[1].ip}, routed ${routed[0].ip} -> ${routed[1].ip}`);
  return paths;
}

/** Hosts h1..h<size> with berthd and a pod on the VXLAN network each; answers the pods. */
async function setUpCluster(lab: ClusterLab, size: number, berthds: Map<string, LabBerthd>, pods: Map<string, Pod>): Promise<Pod[]> {
  const hosts = lab.hosts.slice(0, size);
  await Promise.all(hosts.filter((h) => !berthds.has(h.name)).map(async (h) => berthds.set(h.name, await startBerthd(lab, h))));
  for (const h of hosts) if (!pods.has(h.name)) pods.set(h.name, (await addPod(h, 'c', conflist(OVERLAY))).pod);
  return hosts.map((h) => pods.get(h.name)!);
}

/** Ctrl-C or a kill still stops the lab (its processes and scratch directory). */
function stopOnSignals(lab: ClusterLab): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      console.error(`\n${signal}: stopping the lab`);
      for (const p of [...podProcs]) p.kill('SIGKILL');
      void lab.stop().finally(() => process.exit(130));
    });
}

async function main(): Promise<void> {
  const started = Date.now();
  const facts = machine();
  console.log(`machine: kernel ${facts.kernel}, ${facts.cpus} CPUs (${facts.cpuModel}), ${facts.memoryGiB} GiB, Node ${facts.node}, ${facts.iperf3}`);
  console.log(`settings: iperf3 -t ${SECONDS} (-O 1), ${ROUNDS} rounds; ${JOINS} joins per size; ${QUICK ? 'quick' : 'full'} run`);
  const lab = await startClusterLab({ hosts: Math.max(...SIZES) + 1, prefix: 'ovb' });
  stopOnSignals(lab);
  const berthds = new Map<string, LabBerthd>();
  try {
    const paths = await setUpThroughput(lab, berthds);
    const rssTwo = rssOf(berthds);
    console.log(`\npod-to-pod TCP throughput h1 -> h2, Gbit/s (iperf3 -t ${SECONDS}; retransmits; CPU client/server)`);
    const rounds = await throughputRounds(paths);
    const comparisons = throughputComparisons(rounds);
    printRss('2 hosts, each with a pod on the VXLAN and on the routed network', rssTwo);
    for (const p of [...podProcs]) p.kill('SIGKILL');

    const joiner = lab.hosts.at(-1)!;
    const pods = new Map<string, Pod>();
    const results: Convergence[] = [];
    let rssTen: RssRow[] = [];
    let floor: number | undefined;
    console.log(`\nconvergence: a new node (${joiner.name}) joins; from its first ADD returning until an existing host's pod reaches its pod (ping every 10 ms)`);
    for (const size of SIZES) {
      const observers = await setUpCluster(lab, size, berthds, pods);
      floor ??= await measurementFloor(observers[0]!, observers[1]!);
      if (size === LARGEST) rssTen = rssOf(new Map([...berthds].filter(([h]) => h !== joiner.name)));
      results.push(await convergence(lab, size, joiner, observers));
    }
    for (const c of results) {
      const met = c.p95 < GOAL.p95Ms && c.missed === 0;
      console.log(
        `  ${String(c.hosts).padStart(2)} hosts + the joiner: p50 ${c.p50.toFixed(0)} ms, p95 ${c.p95.toFixed(0)} ms over ${c.joins.length} joins${c.missed ? `, ${c.missed} NOT reached` : ''} [goal: p95 < ${GOAL.p95Ms} ms] ${met ? 'met' : 'NOT met'}`,
      );
    }
    console.log(`  measurement floor (first answer from a pod reachable all along): ${floor} ms`);
    printRss(`${LARGEST} hosts, each with a pod`, rssTen);

    const figures: Figure[] = [];
    for (const c of results) {
      figures.push({ name: `convergence, ${c.hosts} hosts + a joiner: p50`, value: c.p50, unit: 'ms', verdict: 'information' });
      figures.push({
        name: `convergence, ${c.hosts} hosts + a joiner: p95`,
        value: c.p95,
        unit: 'ms',
        goal: `< ${GOAL.p95Ms} ms, none missed`,
        verdict: goalVerdict(c.p95 < GOAL.p95Ms && c.missed === 0),
      });
    }
    figures.push({ name: 'convergence measurement floor (a pod reachable all along)', value: floor ?? NaN, unit: 'ms', verdict: 'information' });
    figures.push({ name: 'berthd RSS, max over 2 hosts with pods', value: Math.max(...rssTwo.map((r) => r.mib)), unit: 'MiB', verdict: 'information' });
    figures.push({ name: `berthd RSS, max over ${LARGEST} hosts with a pod each`, value: Math.max(...rssTen.map((r) => r.mib)), unit: 'MiB', verdict: 'information' });
    const names = { hand: 'hand-built VXLAN pair', berth: 'berth-overlay VXLAN', routed: 'berth-overlay routed' } as const;
    const ok = finish(
      {
        name: values.name ?? 'overlay',
        title: 'Overlay across two lab hosts: throughput against a hand-built VXLAN pair; convergence of a joining node',
        settings: { quick: QUICK, seconds: SECONDS, rounds: ROUNDS, joins: JOINS, iperf3: facts.iperf3 },
        comparisons,
        figures,
        distributions: [
          ...(['berth', 'hand', 'routed'] as const).map((n) => ({ operation: 'throughput', implementation: names[n], unit: 'Gbit/s', samples: series(rounds, n, 'gbps') })),
          ...results.map((c) => ({ operation: `convergence, ${c.hosts} hosts`, implementation: 'berth-overlay', unit: 'ms', samples: c.joins.map((j) => j.ms ?? JOIN_TIMEOUT_MS) })),
        ],
        series: [],
        details: {
          rounds,
          medianGbps: { berth: median(series(rounds, 'berth', 'gbps')), hand: median(series(rounds, 'hand', 'gbps')) },
          convergence: results,
          rssMiB: { twoHosts: rssTwo, tenHosts: rssTen },
        },
        seconds: Math.round((Date.now() - started) / 1000),
      },
      OUT,
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    for (const p of [...podProcs]) p.kill('SIGKILL');
    await lab.stop();
  }
}

await main();
