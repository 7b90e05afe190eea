/**
 * Policy engine benchmark (scripts/bench-policy.sh runs it in a private network namespace):
 *
 * 1. compile: 1,000 policies over 5,000 pods → IR → nftables objects; time and object count
 *    (target: under 1 s);
 * 2. change: with that installed in the kernel, the time to apply one changed policy, from
 *    the object to the committed transaction (target: under 50 ms);
 * 2b. the same change through berthd's API (ApplyPolicies → store → agent → transaction),
 *    with berthd started on a store holding the whole world; timed after `--warmup` changes
 *    (berthd runs for weeks; its first changes after a start are slower and are reported apart,
 *    as information);
 * 3. per-connection cost: the CPU time per new TCP connection between two pods of a
 *    berth-bridge network with 0, 100, 1,000 and 10,000 policies installed, against the same
 *    with no policy in force (target: at 10,000, at most 1/0.9 of it, what "a rate of at
 *    least 0.9" means for a CPU-bound path). Both pods are isolated by two of the policies
 *    (deny all in their namespace, allow client -> server on 8080), so every new connection
 *    walks the policy chains; the other policies select the 5,000 other pods. The cost is
 *    the CPU time of the client and the server processes over a fixed number of connections
 *    (the packets' netfilter work runs on their time slices): unlike a rate, CPU time does not
 *    depend on how much of the two CPUs other work leaves free. Without and with the policies
 *    (see `switcher`) and the null pair (without, again) are interleaved in rounds
 *    (bench/method/rounds.ts).
 *
 *   node dist/bench/policy-bench.js [--pods 5000] [--policies 1000] [--levels 0,100,1000,10000]
 *                                   [--connections 2000] [--rounds 8] [--concurrency 2] [--changes 60] [--warmup 20]
 *                                   [--skip-rate] [--skip-agent] [--name N --out FILE]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { RESULT_OPTIONS, finish } from './method/bench-cli.js';
import { compare, type Comparison } from './method/comparison.js';
import { goalVerdict, type Distribution, type Figure, type Series } from './method/result.js';
import { interleave, series as roundSeries } from './method/rounds.js';
import { bootstrapMedianInterval, median, percentile } from './method/stats.js';
import { openNftables } from '../dataplane/linux/index.js';
import { connectApi } from '../daemon/grpc/client.js';
import { applyPolicyManifests } from '../policy/policy-store.js';
import { FileStore } from '../store/file/file-store.js';
import { PolicyCompiler } from '../policy/compile/policy-compiler.js';
import { parsePolicyObjects, type PolicyObject } from '../policy/model/policy-object.js';
import { NftPolicyDataplane } from '../policy/nft/nft-policy-dataplane.js';
import { diffNftState } from '../policy/nft/nft-diff.js';
import { countObjects, type NftState } from '../policy/nft/nft-state.js';
import { NftRenderer } from '../policy/nft/render-nft.js';
import { changedPolicy, clusterManifests, policyManifests } from './policy-world.js';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..', '..');
const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '5000' },
    policies: { type: 'string', default: '1000' },
    levels: { type: 'string', default: '0,100,1000,10000' },
    connections: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '2' },
    changes: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '20' },
    'skip-rate': { type: 'boolean', default: false },
    'skip-agent': { type: 'boolean', default: false },
    ...RESULT_OPTIONS,
  },
});
const started = Date.now();
const CHANGES = Number(values.changes);
/** Changes through berthd before the timed ones (the first after its start run on cold code). */
const WARMUP = Number(values.warmup);
const NAMESPACES = 50;
const PODS = Number(values.pods);
const POLICIES = Number(values.policies);
const LEVELS = values.levels.split(',').map(Number);
const results: Record<string, unknown> = {};
const figures: Figure[] = [];
const distributions: Distribution[] = [];
const comparisons: (Comparison & { group: string })[] = [];
const series: Series[] = [];

const ms = (n: number) => `${n.toFixed(1)} ms`;
const say = (line: string) => console.log(line);
const pct = (xs: number[], p: number) => percentile(xs, p * 100);
const round2 = (x: number) => Math.round(x * 100) / 100;

function load(compiler: PolicyCompiler, objects: readonly PolicyObject[]): void {
  for (const o of objects) compiler.setObject(o);
}

// --- 1. compile time and object count -------------------------------------------------------
function benchCompile(): { compiler: PolicyCompiler } {
  const size = { namespaces: NAMESPACES, podsPerNamespace: Math.ceil(PODS / NAMESPACES) };
  const manifests = [...clusterManifests(size), ...policyManifests(POLICIES, NAMESPACES)];
  let t = performance.now();
  const objects = parsePolicyObjects(manifests);
  const parseMs = performance.now() - t;
  t = performance.now();
  const compiler = new PolicyCompiler();
  load(compiler, objects);
  const ir = compiler.compile();
  const compileMs = performance.now() - t;
  t = performance.now();
  const state = new NftRenderer().render(ir);
  const renderMs = performance.now() - t;
  const count = countObjects(state);
  results.compile = { pods: size.namespaces * size.podsPerNamespace, policies: POLICIES, parseMs, compileMs, renderMs, totalMs: compileMs + renderMs, objects: count };
  say(`== compile: ${POLICIES} policies over ${size.namespaces * size.podsPerNamespace} pods`);
  say(`   parse+validate ${ms(parseMs)}; compile to IR ${ms(compileMs)}; render nftables ${ms(renderMs)}; compile total ${ms(compileMs + renderMs)} (target < 1000 ms)`);
  say(`   nftables objects: ${count.total} (${count.chains} chains, ${count.rules} rules, ${count.sets} sets and maps, ${count.elements} elements)`);
  const total = compileMs + renderMs;
  figures.push({
    name: `compile ${POLICIES} policies over ${size.namespaces * size.podsPerNamespace} pods (IR + nftables)`,
    value: total,
    unit: 'ms',
    goal: '< 1000 ms',
    verdict: goalVerdict(total < 1000),
  });
  figures.push({ name: 'nftables objects of that', value: count.total, unit: 'objects', verdict: 'information' });
  return { compiler };
}

// --- 2. one policy change ------------------------------------------------------------------
function benchChange(compiler: PolicyCompiler): void {
  // As berthd keeps it (its PolicyEnforcer's warmStandby): the copy not in use is written at install.
  const dataplane = new NftPolicyDataplane(openNftables(), { warmStandby: true });
  let t = performance.now();
  dataplane.apply(compiler.compile());
  const installMs = performance.now() - t;
  const times: number[] = [];
  const commands: number[] = [];
  for (let round = 0; round < CHANGES; round++) {
    const [o] = parsePolicyObjects([changedPolicy(round)]);
    t = performance.now();
    load(compiler, [o!]);
    const report = dataplane.apply(compiler.compile());
    times.push(performance.now() - t);
    commands.push(report.commands);
  }
  dataplane.clear();
  results.change = { installMs, medianMs: median(times), p95Ms: pct(times, 0.95), maxMs: Math.max(...times), commands: median(commands) };
  say(`== one policy change, with the ${POLICIES} policies installed (installing them all: ${ms(installMs)}, one transaction)`);
  say(`   apply one changed policy: median ${ms(median(times))}, p95 ${ms(pct(times, 0.95))} (target < 50 ms); ${median(commands)} commands per transaction`);
  figures.push({ name: `one policy change applied, ${POLICIES} installed: p95`, value: pct(times, 0.95), unit: 'ms', goal: '< 50 ms', verdict: goalVerdict(pct(times, 0.95) < 50) });
  distributions.push({ operation: 'one policy change', implementation: 'engine to kernel', unit: 'ms', samples: times.map(round2) });
}

// --- 2b. one policy change through berthd ---------------------------------------------------
/**
 * The same change as an operator makes it: an ApplyPolicies call on berthd's API (store write,
 * the agent's sync, the transaction), timed from the call to its answer, which comes after the
 * kernel has committed. berthd starts on a store holding the whole world.
 */
async function benchAgentChange(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'berth-policy-agent-'));
  const socket = join(work, 'berthd.sock');
  const size = { namespaces: NAMESPACES, podsPerNamespace: Math.ceil(PODS / NAMESPACES) };
  await applyPolicyManifests(new FileStore({ dataDir: join(work, 'data'), fsync: false }), [...clusterManifests(size), ...policyManifests(POLICIES, NAMESPACES)]);
  const t0 = performance.now();
  const daemon = spawn(
    process.execPath,
    [join(ROOT, 'dist', 'bin', 'berthd'), '--no-docker', '--metrics-address', 'none', '--log-level', 'warn', '--data-dir', join(work, 'data'), '--run-dir', join(work, 'run'), '--api-socket', socket],
    { stdio: 'inherit' },
  );
  const api = connectApi(socket, { timeoutMs: 120_000 });
  try {
    while (!existsSync(socket)) await new Promise((r) => setTimeout(r, 50));
    const startMs = performance.now() - t0;
    const warm: number[] = [];
    const times: number[] = [];
    let modes = '';
    for (let round = 0; round < WARMUP + CHANGES; round++) {
      const t = performance.now();
      const reply = await api.applyPolicies({ manifestsJson: [JSON.stringify(changedPolicy(round))], sources: [] });
      (round < WARMUP ? warm : times).push(performance.now() - t);
      if (round === 0) modes = reply.sync?.mode ?? '?';
    }
    results.agentChange = {
      startMs,
      warmup: { changes: WARMUP, medianMs: median(warm), p95Ms: pct(warm, 0.95), maxMs: Math.max(...warm) },
      medianMs: median(times),
      p95Ms: pct(times, 0.95),
      firstMode: modes,
    };
    say(`== one policy change through berthd (ApplyPolicies: store, agent sync, transaction; berthd started and synced in ${ms(startMs)})`);
    if (warm.length) say(`   the first ${WARMUP} after its start: median ${ms(median(warm))}, p95 ${ms(pct(warm, 0.95))}, max ${ms(Math.max(...warm))} (information)`);
    say(`   the ${CHANGES} after those: median ${ms(median(times))}, p95 ${ms(pct(times, 0.95))} (target < 50 ms)`);
    if (warm.length) {
      figures.push({ name: `one policy change through berthd, the first ${WARMUP} after its start: p95`, value: pct(warm, 0.95), unit: 'ms', verdict: 'information' });
    }
    figures.push({ name: `one policy change through berthd (ApplyPolicies), ${POLICIES} installed: median`, value: median(times), unit: 'ms', verdict: 'information' });
    figures.push({
      name: `one policy change through berthd (ApplyPolicies), ${POLICIES} installed: p95`,
      value: pct(times, 0.95),
      unit: 'ms',
      goal: '< 50 ms',
      verdict: goalVerdict(pct(times, 0.95) < 50),
    });
    distributions.push({ operation: 'one policy change', implementation: 'through berthd', unit: 'ms', samples: times.map(round2) });
  } finally {
    api.close();
    daemon.kill('SIGKILL');
    spawnSync('/usr/sbin/nft', ['delete', 'table', 'inet', 'berth-policy']);
    rmSync(work, { recursive: true, force: true });
  }
}

// --- 3. connection rate --------------------------------------------------------------------
interface Lab {
  readonly clientNs: string;
  readonly serverIp: string;
  readonly clientIp: string;
  readonly server: ChildProcess;
  /** The server's own pid (it runs under `ip netns exec`). */
  readonly serverPid: number;
  readonly cleanup: () => void;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function makeLab(): Promise<Lab> {
  const work = mkdtempSync(join(tmpdir(), 'berth-policy-bench-'));
  const bin = join(work, 'bin');
  sh(process.execPath, [join(ROOT, 'dist', 'bin', 'berth'), 'install', '--cni-bin-dir', bin]);
  const conf = JSON.stringify({
    cniVersion: '1.0.0',
    name: 'policy-bench',
    type: 'berth-bridge',
    bridge: 'bpbench0',
    isGateway: true,
    ipam: { type: 'berth-ipam', ranges: [[{ subnet: '10.214.0.0/24' }]], dataDir: join(work, 'data') },
  });
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: bin, CNI_IFNAME: 'eth0', BERTH_RUN_DIR: join(work, 'run'), BERTH_CACHE_DIR: join(work, 'cache') };
  const names = ['pb-client', 'pb-server'];
  const cni = (command: string, ns: string) => {
    const r = spawnSync(join(bin, 'berth-bridge'), [], { input: conf, encoding: 'utf8', env: { ...env, CNI_COMMAND: command, CNI_CONTAINERID: ns, CNI_NETNS: `/run/netns/${ns}` } });
    if (r.status !== 0) throw new Error(`CNI ${command} ${ns}: ${r.stdout} ${r.stderr}`);
    return r.stdout;
  };
  const ips: string[] = [];
  for (const ns of names) {
    sh('/usr/sbin/ip', ['netns', 'add', ns]);
    sh('/usr/sbin/ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    ips.push((JSON.parse(cni('ADD', ns)) as { ips: { address: string }[] }).ips[0]!.address.split('/')[0]!);
  }
  const loadJs = join(ROOT, 'dist', 'bench', 'policy-load.js');
  const server = spawn('/usr/sbin/ip', ['netns', 'exec', 'pb-server', 'taskset', '-c', LOAD_CPU, process.execPath, loadJs, 'serve', '8080'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const serverPid = await new Promise<number>((ok) => createInterface({ input: server.stdout! }).once('line', (line) => ok(Number(line.split(' ')[1]))));
  return {
    serverPid,
    clientNs: 'pb-client',
    clientIp: ips[0]!,
    serverIp: ips[1]!,
    server,
    cleanup: () => {
      server.kill();
      for (const ns of names) {
        try {
          cni('DEL', ns);
        } catch {
          // best effort: the namespace goes anyway
        }
        spawnSync('/usr/sbin/ip', ['netns', 'del', ns]);
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * The CPU the client and the server share: the packets' softirq work then runs on the time
 * slices of the two processes (veth delivers on the sending CPU), and neither pays for
 * cache lines moving between CPUs, which other work on the machine would make vary.
 */
const LOAD_CPU = String(cpus().length - 1);

/** CPU time of all threads of a process so far, in microseconds (schedstat: nanoseconds on a CPU, not ticks). */
function cpuUsOf(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  return ns / 1000;
}

/** CPU time (client + server) per new connection over a fixed number of them, and the rate seen. */
function measureCost(lab: Lab, connections: number): { cpuUsPerConnection: number; rate: number } {
  const loadJs = join(ROOT, 'dist', 'bench', 'policy-load.js');
  const server0 = cpuUsOf(lab.serverPid);
  const out = sh('/usr/sbin/ip', ['netns', 'exec', lab.clientNs, 'taskset', '-c', LOAD_CPU, process.execPath, loadJs, 'cost', lab.serverIp, '8080', String(connections), values.concurrency]);
  const serverUs = cpuUsOf(lab.serverPid) - server0;
  const r = JSON.parse(out) as { done: number; failed: number; seconds: number; cpuUs: number };
  if (r.failed) throw new Error(`${r.failed} connections failed: the policies should allow client -> server`);
  return { cpuUsPerConnection: (r.cpuUs + serverUs) / r.done, rate: r.done / r.seconds };
}

/** The objects of one level: `n` policies, two of which isolate the server and let the client in. */
function levelObjects(lab: Lab, n: number): PolicyObject[] {
  if (n === 0) return [];
  const bench = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench', labels: { team: 'bench' } } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'client', namespace: 'bench', labels: { app: 'client' } }, status: { podIP: lab.clientIp } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'server', namespace: 'bench', labels: { app: 'server' } }, status: { podIP: lab.serverIp } },
    { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: 'bench' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'client-to-server', namespace: 'bench' },
      spec: {
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080 }] }],
        egress: [{ to: [{ podSelector: { matchLabels: { app: 'server' } } }], ports: [{ port: 8080 }] }],
      },
    },
  ];
  const size = { namespaces: NAMESPACES, podsPerNamespace: Math.ceil(PODS / NAMESPACES) };
  return parsePolicyObjects([...clusterManifests(size), ...policyManifests(n - 2, NAMESPACES), ...bench]);
}

/**
 * Switches between "the level's policies in force" and "no policy in force" in one small
 * transaction each way, so the two rates can be measured alternately, seconds apart, and a
 * busy machine's drift cancels out. Off: the level's table loses its two hooked base chains
 * (its other objects stay in the kernel, untouched by any packet) and a table with no policy
 * (the base chains with empty dispatch maps, what berth installs for zero policies) takes over.
 */
function switcher(nft: ReturnType<typeof openNftables>, full: NftState): { on: () => void; off: () => void } {
  let inForce = true;
  const chains = new Map([...full.chains].filter(([name]) => name !== 'egress' && name !== 'ingress'));
  const unhooked: NftState = { ...full, chains };
  const zero = new NftPolicyDataplane(nft, { table: 'berth-policy-zero' });
  const empty = new PolicyCompiler().compile();
  return {
    off: () => {
      if (!inForce) return;
      nft.run(diffNftState(full, unhooked));
      zero.apply(empty);
      inForce = false;
    },
    on: () => {
      if (inForce) return;
      zero.clear();
      nft.run(diffNftState(unhooked, full));
      inForce = true;
    },
  };
}

async function benchCost(): Promise<void> {
  // Connections end with a reset; their conntrack entries need not linger (this namespace only).
  writeFileSync('/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close', '1');
  const lab = await makeLab();
  const nft = openNftables();
  try {
    const connections = Number(values.connections);
    const rounds = Number(values.rounds);
    measureCost(lab, connections); // warm-up: the load generator's code paths, conntrack
    const table: object[] = [];
    const withLine: Series['points'][number][] = [];
    const withoutLine: Series['points'][number][] = [];
    say(`== CPU time per new TCP connection, client -> server pod (client + server processes; ${connections} connections per measurement, ${values.concurrency} in parallel, ${rounds} rounds)`);
    say('   per round: without the policies, with them, and without again (the null pair), in rotating order');
    for (const level of LEVELS) {
      const dataplane = new NftPolicyDataplane(nft);
      const compiler = new PolicyCompiler();
      load(compiler, levelObjects(lab, level));
      const t = performance.now();
      const report = dataplane.apply(compiler.compile());
      const objects = countObjects(dataplane.applied!).total;
      const installMs = performance.now() - t;
      const sw = switcher(nft, dataplane.applied!);
      const side = (name: string, state: () => void) => ({
        name,
        measure: async () => {
          state();
          const m = measureCost(lab, connections);
          return { cpuUs: m.cpuUsPerConnection, rate: m.rate };
        },
      });
      const without = 'no policy in force';
      const withName = `${level} policies`;
      const rs = await interleave(side(without, sw.off), [side(withName, sw.on)], rounds);
      sw.on();
      dataplane.clear();
      const cost = compare({
        metric: `CPU per new connection, ${level} policies`,
        unit: 'µs',
        better: 'lower',
        baseline: without,
        candidate: withName,
        baselineRounds: roundSeries(rs, without, 'cpuUs'),
        nullRounds: roundSeries(rs, 'null', 'cpuUs'),
        candidateRounds: roundSeries(rs, withName, 'cpuUs'),
        ...(level === LEVELS[LEVELS.length - 1] && level >= 10000 ? { target: { atMost: 1.11 } } : {}),
      });
      comparisons.push({ group: 'per-connection cost', ...cost });
      const point = (xs: number[]) => ({ x: level, y: median(xs), ...bootstrapMedianInterval(xs) });
      withLine.push(point(roundSeries(rs, withName, 'cpuUs')));
      withoutLine.push(point(roundSeries(rs, without, 'cpuUs')));
      const rates = { with: median(roundSeries(rs, withName, 'rate')), without: median(roundSeries(rs, without, 'rate')) };
      table.push({ policies: level, objects, installMs, commands: report.commands, cost, rates, rounds: rs });
      say(
        `   ${String(level).padStart(6)} policies (${String(objects).padStart(6)} nftables objects, installed in ${ms(installMs)}): ` +
          `${cost.candidateValue.toFixed(1)} µs vs ${cost.baselineValue.toFixed(1)} µs without, ratio ${cost.ratio.median.toFixed(3)} [${cost.ratio.low.toFixed(3)}..${cost.ratio.high.toFixed(3)}], ` +
          `null ${cost.null.median.toFixed(3)}: ${cost.verdict} (rates ${rates.with.toFixed(0)}/s vs ${rates.without.toFixed(0)}/s, information)`,
      );
    }
    const chart = 'CPU per new connection vs number of policies';
    series.push({ chart, x: 'policies installed', y: 'CPU µs per connection (client + server)', name: 'with the policies in force', points: withLine });
    series.push({ chart, x: 'policies installed', y: 'CPU µs per connection (client + server)', name: 'no policy in force (same rounds)', points: withoutLine });
    results.cost = table;
  } finally {
    lab.cleanup();
  }
}

// In a scope of its own: the compiler is garbage before the agent's rounds, whose client (this
// process) would otherwise carry its heap through them.
(() => benchChange(benchCompile().compiler))();
if (!values['skip-agent']) await benchAgentChange();
if (!values['skip-rate']) await benchCost();
const ok = finish(
  {
    name: values.name ?? 'policy',
    title: 'Policy engine: compile, one change, CPU per new connection',
    settings: {
      pods: PODS,
      policies: POLICIES,
      levels: LEVELS,
      connections: Number(values.connections),
      rounds: Number(values.rounds),
      concurrency: Number(values.concurrency),
      changes: CHANGES,
      warmup: WARMUP,
    },
    comparisons,
    figures,
    distributions,
    series,
    details: results,
    seconds: Math.round((Date.now() - started) / 1000),
  },
  values.out,
);
process.exitCode = ok ? 0 : 1;
