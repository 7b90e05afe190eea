/**
 * CNI ADD/DEL benchmark: berth-bridge + berth-ipam against the reference bridge + host-local
 * (Debian's containernetworking-plugins), both with ipMasq and isGateway, in the same run,
 * driven through cniclient (the reference libcni), sequentially and 8 in parallel. berth runs
 * both ways a node runs it: through berthd (the installed shim hands the request to berthd's
 * CNI socket) and through the fallback (no berthd: the shim runs the in-process Node plugin).
 *
 *   npm run bench:cni [-- --pods N --rounds R --batches B]
 *
 * With `--nat`: berth-nat (+ berth-ipam) with one port mapping per pod against the
 * reference chain bridge + portmap (+ host-local) with the same mapping.
 * With `--transparent`: berth-transparent (+ berth-ipam) against the reference macvlan (+
 * host-local), both in bridge mode on one uplink (a veth end in the bench's namespace).
 * With `--dhcp`: berth-transparent leasing from a DHCP server through berthd against the
 * reference macvlan + dhcp (its daemon), both from the same dnsmasq on the uplink's LAN (a
 * namespace behind the uplink's veth peer; `--no-ping`, so the server's address probe does not
 * dominate both sides).
 * With `--rss`: berthd's resident memory at idle and after each of three rounds of 1,000 pods
 * (ADD then DEL, 8 in parallel) through its socket; it must not grow by more than 10 %. Before
 * each reading the bench runs a full garbage collection in berthd through its inspector (berthd
 * gets `--inspect` on this namespace's loopback), then takes the smallest of readings every
 * 250 ms over `--rss-settle` seconds. Without the collection a reading says where the collector
 * happened to be (one run read 106, 96.5 and 101 MiB after three equal rounds; 107, 122 and
 * 95 MiB at the moment the rounds ended); berthd's live heap after it is reported beside.
 *
 * Method (bench/method/): the reference, the reference again (the null pair) and each berth
 * path are interleaved in rounds, each side with its own pods' namespaces. One at a time, a
 * round interleaves the sides pod by pod (every side's ADD of pod i, in rotating order; then
 * the DELs likewise); 8 in parallel, a round runs each side's batch of ADDs then DELs
 * `--batches` times (2 by default), in mirrored order. The figures are the medians of the per-round ratios berth / reference with
 * the rounds' spread and a bootstrap 95 % interval; `--rss-pods` sets the pods per RSS round.
 *
 * Runs inside a private network namespace (scripts/bench-cni.sh or bench/run.ts does the
 * unshare). Prints the comparisons and writes them with `--out FILE`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { RESULT_OPTIONS, finish } from './method/bench-cli.js';
import { compare, type Comparison, type Target } from './method/comparison.js';
import type { Distribution, Figure } from './method/result.js';
import { NULL_SIDE, roundOrder, series, type Rounds } from './method/rounds.js';
import { median, percentile } from './method/stats.js';
import { INSPECTOR_PORT, collectGarbage } from './berthd-gc.js';
import { closeFd, openNetlink, openNetnsFd } from '../dataplane/linux/index.js';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..', '..');
const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '8' },
    batches: { type: 'string', default: '2' },
    nat: { type: 'boolean', default: false },
    transparent: { type: 'boolean', default: false },
    dhcp: { type: 'boolean', default: false },
    rss: { type: 'boolean', default: false },
    'rss-pods': { type: 'string', default: '1000' },
    'rss-settle': { type: 'string', default: '10' },
    ...RESULT_OPTIONS,
  },
});
const started = Date.now();
const PODS = Number(values.pods);
const ROUNDS = Number(values.rounds);
/** Batches per side in a round 8 in parallel: an even number, in mirrored pairs. */
const BATCHES = Number(values.batches);
if (!(BATCHES >= 2 && BATCHES % 2 === 0)) {
  console.error(`--batches must be an even number of at least 2, not ${values.batches}`);
  process.exit(2);
}
const RSS_PODS = Number(values['rss-pods']);

/** The project's libcni client, built by scripts/setup.sh from test/tools/cniclient; no other is used. */
const cniclient = join(ROOT, '.tools', 'cniclient');
if (!existsSync(cniclient)) {
  console.error(`the libcni client ${cniclient} is missing: run bash scripts/setup.sh (it builds test/tools/cniclient into .tools/cniclient)`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const bin = join(work, 'bin');
spawnSync(process.execPath, [join(ROOT, 'dist', 'bin', 'berth'), 'install', '--cni-bin-dir', bin], { stdio: 'inherit' });

/** The same clean environment for both sides: runtimes do not set NODE_EXTRA_CA_CERTS. */
const baseEnv: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: `${bin}:/usr/lib/cni`, BERTH_CACHE_DIR: join(work, 'v8cache') };
/** berthd's run directory (its CNI socket is there) and the fallback's, which has no socket. */
const FAST_RUN = join(work, 'run-berthd');
const FALLBACK_RUN = join(work, 'run-fallback');

interface Impl {
  readonly name: string;
  /** Which way berth runs; undefined for the reference. */
  readonly path?: 'berthd' | 'fallback';
  readonly conf: object;
  /** Capability arguments for the pod with this index (the runtime's CNI_CAPS). */
  readonly caps?: (pod: number) => object;
}

/** One TCP port mapping per pod, a distinct host port each. */
const onePort = (pod: number) => ({ portMappings: [{ hostPort: 20000 + pod, containerPort: 80, protocol: 'tcp' }] });

const natImpls: Impl[] = [
  {
    name: 'reference bridge+portmap',
    conf: {
      cniVersion: '1.0.0',
      name: 'bench-ref-nat',
      plugins: [
        {
          type: 'bridge',
          bridge: 'bref1',
          isGateway: true,
          isDefaultGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', ranges: [[{ subnet: '10.203.0.0/16' }]], dataDir: join(work, 'host-local-nat') },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    caps: onePort,
  },
  ...(['berthd', 'fallback'] as const).map((path, i) => ({
    name: `berth-nat+berth-ipam (${path})`,
    path,
    conf: {
      cniVersion: '1.0.0',
      name: `bench-berth-nat-${path}`,
      plugins: [
        {
          type: 'berth-nat',
          bridge: `bnat${i}`,
          capabilities: { portMappings: true },
          ipam: { type: 'berth-ipam', ranges: [[{ subnet: `10.${204 + i * 2}.0.0/16` }]], dataDir: join(work, `berth-ipam-nat-${path}`) },
        },
      ],
    },
    // The two berth networks publish from different host port ranges.
    caps: (pod: number) => ({ portMappings: [{ hostPort: 30000 + i * 5000 + pod, containerPort: 80, protocol: 'tcp' }] }),
  })),
];

const bridgeImpls: Impl[] = [
  {
    name: 'reference bridge+host-local',
    conf: {
      cniVersion: '1.0.0',
      name: 'bench-ref',
      plugins: [{ type: 'bridge', bridge: 'bref0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.201.0.0/16' }]], dataDir: join(work, 'host-local') } }],
    },
  },
  ...(['berthd', 'fallback'] as const).map((path, i) => ({
    name: `berth-bridge+berth-ipam (${path})`,
    path,
    conf: {
      cniVersion: '1.0.0',
      name: `bench-berth-${path}`,
      plugins: [
        {
          type: 'berth-bridge',
          bridge: `bberth${i}`,
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'berth-ipam', ranges: [[{ subnet: `10.${202 + i * 3}.0.0/16` }]], dataDir: join(work, `berth-ipam-${path}`) },
        },
      ],
    },
  })),
];

/** Whether the pods' interfaces are macvlans on an uplink (berth-transparent and its references). */
const MACVLAN = Boolean(values.transparent || values.dhcp);
/** The macvlan drivers' uplink: one end of a veth pair in this namespace. */
const UPLINK = 'bench-up';
const transparentImpls: Impl[] = [
  {
    name: 'reference macvlan+host-local',
    conf: {
      cniVersion: '1.0.0',
      name: 'bench-ref-mv',
      plugins: [{ type: 'macvlan', master: UPLINK, mode: 'bridge', ipam: { type: 'host-local', ranges: [[{ subnet: '10.210.0.0/16' }]], dataDir: join(work, 'host-local-mv') } }],
    },
  },
  ...(['berthd', 'fallback'] as const).map((path, i) => ({
    name: `berth-transparent+berth-ipam (${path})`,
    path,
    conf: {
      cniVersion: '1.0.0',
      name: `bench-berth-mv-${path}`,
      plugins: [{ type: 'berth-transparent', master: UPLINK, ipam: { type: 'berth-ipam', ranges: [[{ subnet: `10.${211 + i}.0.0/16` }]], dataDir: join(work, `berth-ipam-mv-${path}`) } }],
    },
  })),
];
if (MACVLAN) {
  spawnSync('ip', ['link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', `${UPLINK}-p`], { stdio: 'inherit' });
  spawnSync('ip', ['link', 'set', UPLINK, 'up'], { stdio: 'inherit' });
}

/** The LAN's DHCP server (dnsmasq in a namespace behind the uplink) and the reference's DHCP daemon. */
const LAN = `bench-lan-${process.pid}`;
const REF_DHCP_SOCKET = join(work, 'ref-dhcp.sock');
const dhcpProcs: ReturnType<typeof spawn>[] = [];
if (values.dhcp) {
  const ip = (...args: string[]) => spawnSync('ip', args, { stdio: 'inherit' });
  ip('netns', 'add', LAN);
  ip('link', 'set', `${UPLINK}-p`, 'netns', LAN);
  ip('-n', LAN, 'addr', 'add', '10.220.0.1/16', 'dev', `${UPLINK}-p`);
  ip('-n', LAN, 'link', 'set', `${UPLINK}-p`, 'up');
  const dnsmasqArgs = ['--keep-in-foreground', '--conf-file=/dev/null', '--port=0', `--interface=${UPLINK}-p`, '--bind-interfaces', '--except-interface=lo'];
  dnsmasqArgs.push('--dhcp-range=10.220.1.0,10.220.250.255,255.255.0.0,1h', '--dhcp-option=option:router,10.220.0.1', '--no-ping', '--dhcp-authoritative');
  dnsmasqArgs.push(`--dhcp-leasefile=${join(work, 'dnsmasq.leases')}`, `--pid-file=${join(work, 'dnsmasq.pid')}`, '--user=root', '--log-facility=/dev/null');
  dhcpProcs.push(spawn('ip', ['netns', 'exec', LAN, 'dnsmasq', ...dnsmasqArgs], { stdio: 'ignore' }));
  dhcpProcs.push(spawn('/usr/lib/cni/dhcp', ['daemon', '-socketpath', REF_DHCP_SOCKET], { stdio: 'ignore' }));
  for (let i = 0; i < 100 && !existsSync(REF_DHCP_SOCKET); i++) await new Promise((r) => setTimeout(r, 50));
}
const dhcpImpls: Impl[] = [
  {
    name: 'reference macvlan+dhcp',
    conf: { cniVersion: '1.0.0', name: 'bench-ref-dhcp', plugins: [{ type: 'macvlan', master: UPLINK, mode: 'bridge', ipam: { type: 'dhcp', daemonSocketPath: REF_DHCP_SOCKET } }] },
  },
  {
    name: 'berth-transparent+berth-dhcp (berthd)',
    path: 'berthd',
    conf: { cniVersion: '1.0.0', name: 'bench-berth-dhcp', plugins: [{ type: 'berth-transparent', master: UPLINK, ipam: { type: 'berth-dhcp' } }] },
  },
];

const impls = values.nat ? natImpls : values.dhcp ? dhcpImpls : values.transparent ? transparentImpls : bridgeImpls;
/**
 * Targets on berth through berthd / reference: ADD and DEL p50 at most half the reference's
 * time, 8 parallel ADD/s at least twice; with a port mapping against bridge + portmap, a
 * quarter and 4x. The fallback's figures are printed beside them, without a target.
 */
const TARGET = values.nat ? { latency: 0.25, throughput: 4 } : { latency: 0.5, throughput: 2 };

/** berthd for the fast path, in this private namespace, serving only CNI. */
const berthd = spawn(
  process.execPath,
  [
    // The RSS rounds collect garbage in berthd through its inspector before each reading.
    ...(values.rss ? [`--inspect=127.0.0.1:${INSPECTOR_PORT}`] : []),
    join(ROOT, 'dist', 'bin', 'berthd'),
    '--no-docker',
    '--no-policy',
    '--metrics-address',
    'none',
    '--log-level',
    'warn',
    '--run-dir',
    FAST_RUN,
    '--data-dir',
    join(work, 'berthd-data'),
    '--docker-socket',
    join(work, 'no-docker.sock'),
    '--firewall-check-interval',
    '0',
  ],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: baseEnv.PATH! } },
);
// berthd's warnings pass through, line by line; the inspector's notices of each collection do not.
createInterface({ input: berthd.stderr! }).on('line', (line) => {
  if (!/^(Debugger (listening|attached|ending)|For help, see)/.test(line)) process.stderr.write(line + '\n');
});
for (let i = 0; i < 200 && !existsSync(join(FAST_RUN, 'cni.sock')); i++) await new Promise((r) => setTimeout(r, 50));
if (!existsSync(join(FAST_RUN, 'cni.sock'))) {
  berthd.kill('SIGKILL');
  console.error('berthd did not open its CNI socket');
  process.exit(1);
}

/** berthd's resident set, in MiB. */
function berthdRssMiB(): number {
  const status = readFileSync(`/proc/${berthd.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

/** Every reading of berthd's RSS, per round: kept in the results, so the settling can be seen. */
const rssReadings: number[][] = [];

/** berthd's V8 heap in use after each full collection, in MiB. */
const heapAfterGc: number[] = [];

/** berthd's settled RSS: a full collection, then the smallest reading over `--rss-settle` seconds of idle. */
async function settledRssMiB(): Promise<number> {
  heapAfterGc.push(Math.round((await collectGarbage()) * 10) / 10);
  const readings: number[] = [];
  const until = Date.now() + Number(values['rss-settle']) * 1000;
  do {
    readings.push(Math.round(berthdRssMiB() * 10) / 10);
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < until);
  rssReadings.push(readings);
  return Math.min(...readings);
}

/**
 * The pods' namespaces, a set of PODS for each side (the null pair has its own): one at a time,
 * the sides' ADDs are interleaved pod by pod, so every side has its pods attached at once.
 */
const SIDE_NAMES = [...impls.map((i) => i.name), NULL_SIDE];
const namespacesOf = new Map<string, string[]>();
const allNamespaces: string[] = [];
SIDE_NAMES.forEach((side, s) => {
  const set = Array.from({ length: PODS }, (_, i) => `bench-${process.pid}-${s}-${i}`);
  for (const name of set) spawnSync('ip', ['netns', 'add', name]);
  namespacesOf.set(side, set);
  allNamespaces.push(...set);
});
const namespaces = namespacesOf.get(impls[0]!.name)!;

const confFiles = new Map<Impl, string>();
impls.forEach((impl, i) => {
  const file = join(work, `impl-${i}.conflist`);
  writeFileSync(file, JSON.stringify(impl.conf));
  confFiles.set(impl, file);
});

function run(op: string, impl: Impl, ns: string): Promise<number> {
  const confFile = confFiles.get(impl)!;
  // Numbered over every side's pods: the reference and its null pair publish distinct ports.
  const caps = impl.caps?.(allNamespaces.indexOf(ns));
  const runDir = impl.path === 'berthd' ? FAST_RUN : FALLBACK_RUN;
  const env = { ...baseEnv, BERTH_RUN_DIR: runDir, CNI_CACHE: join(work, 'cache'), ...(caps ? { CNI_CAPS: JSON.stringify(caps) } : {}) };
  return new Promise((res, rej) => {
    const start = process.hrtime.bigint();
    const p = spawn(cniclient!, [op, confFile, `/run/netns/${ns}`, `bench-${ns}`, 'eth0'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) rej(new Error(`${impl.name} ${op} ${ns} failed: ${err}`));
      else res(ms);
    });
  });
}

async function phase(op: string, impl: Impl, concurrency: number, pods: readonly string[] = namespaces): Promise<{ lat: number[]; wall: number }> {
  const lat: number[] = [];
  const queue = [...pods];
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let ns = queue.shift(); ns; ns = queue.shift()) lat.push(await run(op, impl, ns));
    }),
  );
  return { lat, wall: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** A side of the comparison: an implementation, or the reference again as the null pair. */
interface BenchSide {
  readonly name: string;
  readonly impl: Impl;
  readonly pods: readonly string[];
}
const sideOf = (name: string, impl: Impl): BenchSide => ({ name, impl, pods: namespacesOf.get(name)! });

/**
 * One round one at a time, interleaved pod by pod: each pod's ADD on every side (in the order
 * roundOrder gives that step), then each pod's DEL likewise. Each side's p50 then comes from
 * the same seconds as the others': this shared two-CPU machine has spells in which the same
 * ADD takes half or twice as long, and a side measured as a block of its own (one side's pods,
 * then the next side's) caught a different spell than its neighbours (null pairs of 0.45 and
 * 1.6 in one run).
 */
async function sequentialRound(sides: readonly BenchSide[], r: number, samples: Map<string, number[]>): Promise<Record<string, Record<string, number>>> {
  const lat = new Map<string, number[]>();
  for (const [k, op] of (['add', 'del'] as const).entries())
    for (let i = 0; i < PODS; i++)
      for (const side of roundOrder(sides, (2 * r + k) * PODS + i)) {
        const ms = await run(op, side.impl, side.pods[i]!);
        const key = `${op.toUpperCase()}|${side.name}`;
        lat.set(key, [...(lat.get(key) ?? []), ms]);
        if (side.name !== NULL_SIDE) samples.set(key, [...(samples.get(key) ?? []), ms]);
      }
  return Object.fromEntries(sides.map((x) => [x.name, { addP50: median(lat.get(`ADD|${x.name}`)!), delP50: median(lat.get(`DEL|${x.name}`)!) }]));
}

/**
 * One round in parallel: every side's pods ADDed then DELed `concurrency` at a time, side after
 * side, BATCHES times in mirrored pairs (ABCD DCBA, rotated from pair to pair); the side's rate
 * is its operations over its summed wall time, so a drift within the round weighs on all alike.
 * A batch of 8 ends with its slowest operation: one batch per side per round gave null pairs
 * of 0.67 to 1.35 round by round.
 */
async function parallelRound(sides: readonly BenchSide[], r: number, concurrency: number): Promise<Record<string, Record<string, number>>> {
  const wall = new Map<string, { add: number; del: number; n: number }>(sides.map((x) => [x.name, { add: 0, del: 0, n: 0 }]));
  for (let b = 0; b < BATCHES; b++)
    for (const side of roundOrder(sides, BATCHES * r + b)) {
      // One untimed ADD and DEL first: the side's binaries and files are then as warm as they
      // were for whichever side ran just before it.
      await run('add', side.impl, side.pods[0]!);
      await run('del', side.impl, side.pods[0]!);
      const a = await phase('add', side.impl, concurrency, side.pods);
      const d = await phase('del', side.impl, concurrency, side.pods);
      const w = wall.get(side.name)!;
      w.add += a.wall;
      w.del += d.wall;
      w.n += side.pods.length;
    }
  return Object.fromEntries([...wall].map(([name, w]) => [name, { addPerSec: w.n / w.add, delPerSec: w.n / w.del }]));
}

/** The comparisons of every berth side against the reference, for one concurrency's rounds. */
function comparisonsOf(rounds: Rounds, concurrency: number): (Comparison & { group: string })[] {
  const [ref, ...berth] = impls as [Impl, ...Impl[]];
  const metrics: { key: string; metric: string; unit: string; better: 'lower' | 'higher'; target?: Target }[] =
    concurrency === 1
      ? [
          { key: 'addP50', metric: 'ADD p50, one at a time', unit: 'ms', better: 'lower', target: { atMost: TARGET.latency } },
          { key: 'delP50', metric: 'DEL p50, one at a time', unit: 'ms', better: 'lower', target: { atMost: TARGET.latency } },
        ]
      : [
          { key: 'addPerSec', metric: `ADD/s, ${concurrency} in parallel`, unit: 'ops/s', better: 'higher', target: { atLeast: TARGET.throughput } },
          { key: 'delPerSec', metric: `DEL/s, ${concurrency} in parallel`, unit: 'ops/s', better: 'higher' },
        ];
  return berth.flatMap((b) =>
    metrics.map((m) => ({
      group: b.path ?? b.name,
      ...compare({
        metric: m.metric,
        unit: m.unit,
        better: m.better,
        baseline: ref.name,
        candidate: b.name,
        baselineRounds: series(rounds, ref.name, m.key),
        nullRounds: series(rounds, NULL_SIDE, m.key),
        candidateRounds: series(rounds, b.name, m.key),
        // The fallback has no target: it is there to be seen beside the fast path.
        ...(b.path === 'fallback' || !m.target ? {} : { target: m.target }),
      }),
    })),
  );
}

/**
 * What the kernel alone takes to remove a pod's interface, the floor under every DEL (berth's
 * and the reference's): the p50 of netlink deletes of the same kind of link, made up for the
 * purpose in the pods' namespaces (a veth pair whose peer is in this namespace; a macvlan on
 * the uplink).
 */
function deleteFloorMs(): number {
  const host = openNetlink();
  const times: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      for (const ns of namespaces) {
        const path = `/run/netns/${ns}`;
        const fd = openNetnsFd(path);
        try {
          if (MACVLAN) {
            host.addLink({ name: 'floor0', kind: 'macvlan', parent: host.getLink(UPLINK)!.index, mode: 'bridge' });
            host.setLink(host.getLink('floor0')!.index, { netnsFd: fd });
          } else {
            host.addLink({ name: 'floor-h', kind: 'veth', peer: { name: 'floor0', netnsFd: fd } });
          }
        } finally {
          closeFd(fd);
        }
        const pod = openNetlink(path);
        try {
          const link = pod.getLink('floor0')!;
          pod.setLink(link.index, { up: true });
          const t = performance.now();
          pod.deleteLink(link.index);
          times.push(performance.now() - t);
        } finally {
          pod.close();
        }
      }
    }
  } finally {
    host.close();
  }
  return median(times);
}

const comparisons: (Comparison & { group: string })[] = [];
const samples = new Map<string, number[]>();
const roundsByConcurrency: Record<string, Rounds> = {};
const rssRounds: number[] = [];
let delFloorMs: number | undefined;
try {
  // Warm the page cache and create every bridge's first-use state once, outside the timings.
  for (const impl of impls) {
    await run('add', impl, namespaces[0]!);
    await run('del', impl, namespaces[0]!);
  }
  if (values.rss) {
    const fast = impls.find((i) => i.path === 'berthd')!;
    rssRounds.push(await settledRssMiB());
    for (let round = 0; round < 3; round++) {
      for (let done = 0; done < RSS_PODS; done += namespaces.length) {
        await phase('add', fast, 8);
        await phase('del', fast, 8);
      }
      rssRounds.push(await settledRssMiB());
    }
  } else {
    const [ref, ...berth] = impls as [Impl, ...Impl[]];
    const sides = [sideOf(ref.name, ref), sideOf(NULL_SIDE, ref), ...berth.map((b) => sideOf(b.name, b))];
    for (const concurrency of [1, 8]) {
      const rounds: Rounds = [];
      for (let r = 0; r < ROUNDS; r++) {
        const figures = concurrency === 1 ? await sequentialRound(sides, r, samples) : await parallelRound(sides, r, concurrency);
        rounds.push(figures);
        const shown = Object.entries(figures).map(([n, f]) => (concurrency === 1 ? `${n} ADD ${f.addP50!.toFixed(1)} ms` : `${n} ${f.addPerSec!.toFixed(1)} ADD/s`));
        console.log(`  concurrency ${concurrency}, round ${r + 1}/${ROUNDS}: ${shown.join(', ')}`);
      }
      roundsByConcurrency[concurrency] = rounds;
      comparisons.push(...comparisonsOf(rounds, concurrency));
    }
    delFloorMs = deleteFloorMs();
  }
} finally {
  berthd.kill('SIGTERM');
  await new Promise((r) => berthd.once('exit', r));
  for (const ns of allNamespaces) spawnSync('ip', ['netns', 'del', ns]);
  for (const p of dhcpProcs) p.kill('SIGTERM');
  if (values.dhcp) spawnSync('ip', ['netns', 'del', LAN]);
  rmSync(work, { recursive: true, force: true });
}

const figures: Figure[] = [];
if (delFloorMs !== undefined) {
  const kind = MACVLAN ? 'a macvlan' : 'a veth pair';
  figures.push({ name: `DEL floor: the kernel deleting ${kind} through netlink, p50 (paid by every DEL)`, value: delFloorMs, unit: 'ms', verdict: 'information' });
}
if (values.rss) {
  const [idle, ...after] = rssRounds as [number, ...number[]];
  // Idle to round 1 is warm-up: code paths paged in and compiled, the thread pool's malloc arenas,
  // the heap sized. A leak shows as growth after it, in the RSS and in the live heap alike.
  const growth = (Math.max(...after.slice(1)) - after[0]!) / after[0]!;
  const heap = heapAfterGc.map((x, i) => ({ x, when: i === 0 ? 'at idle' : `after round ${i} of ${RSS_PODS} pods` }));
  figures.push({ name: 'berthd RSS at idle (full collection, then settled)', value: idle, unit: 'MiB', verdict: 'information' });
  after.forEach((x, i) => figures.push({ name: `berthd RSS after round ${i + 1} of ${RSS_PODS} pods (full collection, then settled)`, value: x, unit: 'MiB', verdict: 'information' }));
  heap.forEach(({ x, when }) => figures.push({ name: `berthd V8 heap in use after a full collection, ${when}`, value: x, unit: 'MiB', verdict: 'information' }));
  figures.push({ name: 'RSS growth from idle to round 1 (warm-up)', value: ((after[0]! - idle) / idle) * 100, unit: '%', verdict: 'information' });
  figures.push({ name: 'RSS growth from round 1 to the largest later round', value: growth * 100, unit: '%', goal: '<= 10 %', verdict: growth <= 0.1 ? 'met' : 'NOT met' });
}
const what = values.rss
  ? `berthd RSS, rounds of ${RSS_PODS} pods (ADD + DEL, 8 in parallel, through the CNI socket)`
  : values.nat
    ? 'CNI ADD/DEL with one port mapping per pod'
    : values.dhcp
      ? 'CNI ADD/DEL, macvlan in bridge mode, addresses from one dnsmasq'
      : values.transparent
        ? 'CNI ADD/DEL, macvlan in bridge mode on one uplink'
        : 'CNI ADD/DEL, bridge with ipMasq + isGateway';
const distributions: Distribution[] = [...samples].map(([key, xs]) => {
  const [operation, implementation] = key.split('|') as [string, string];
  return { operation: `${operation} (1 at a time)`, implementation, unit: 'ms', samples: xs.map((x) => Math.round(x * 100) / 100) };
});
const latency = distributions.map((d) => ({ operation: d.operation, implementation: d.implementation, p50: percentile(d.samples, 50), p95: percentile(d.samples, 95) }));
for (const l of latency) console.log(`  ${l.operation} ${l.implementation.padEnd(40)} p50 ${l.p50.toFixed(1)} ms, p95 ${l.p95.toFixed(1)} ms`);
const ok = finish(
  {
    name: values.name ?? 'cni',
    title: `${what}, through cniclient (libcni)`,
    settings: { pods: PODS, rounds: ROUNDS, batches: BATCHES, ...(values.rss ? { rssPods: RSS_PODS } : {}) },
    comparisons,
    figures,
    distributions,
    series: [],
    details: { latency, rounds: roundsByConcurrency, ...(values.rss ? { rssReadingsMiB: rssReadings } : {}) },
    seconds: Math.round((Date.now() - started) / 1000),
  },
  values.out,
);
process.exitCode = ok ? 0 : 1;
