/**
 * CNI ADD/DEL benchmark: berth-bridge + berth-ipam against the reference bridge + host-local
 * (Debian's containernetworking-plugins), both with ipMasq and isGateway, in the same run,
 * driven through cniclient (the reference libcni), sequentially and 8 in parallel. berth runs
 * both ways a node runs it: through berthd (the installed shim hands the request to berthd's
 * CNI socket) and through the fallback (no berthd: the shim runs the in-process Node plugin).
 *
 *   npm run bench:cni [-- --pods N --rounds R]
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
 * (ADD then DEL, 8 in parallel) through its socket; it must not grow by more than 10 %.
 *
 * Runs inside a private network namespace (scripts/bench-cni.sh does the unshare). Prints
 * p50/p95 latencies, operations per second and the reference/berth ratios.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..', '..');
const { values } = parseArgs({
  options: {
    pods: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    nat: { type: 'boolean', default: false },
    transparent: { type: 'boolean', default: false },
    dhcp: { type: 'boolean', default: false },
    rss: { type: 'boolean', default: false },
  },
});
const PODS = Number(values.pods);
const ROUNDS = Number(values.rounds);

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
if (values.transparent || values.dhcp) {
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
 * Targets (reference / berth through berthd): ADD and DEL p50 at most half the reference's
 * time, 8 parallel ADD/s at least twice; with a port mapping against bridge + portmap, 4x.
 * The fallback's figures are printed beside them, without a target.
 */
const TARGET = values.nat ? { add: 4, del: 4, throughput: 4 } : { add: 2, del: 2, throughput: 2 };

/** berthd for the fast path, in this private namespace, serving only CNI. */
const berthd = spawn(
  process.execPath,
  [
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
  { stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: baseEnv.PATH! } },
);
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

const namespaces: string[] = [];
for (let i = 0; i < PODS; i++) {
  const name = `bench-${process.pid}-${i}`;
  spawnSync('ip', ['netns', 'add', name]);
  namespaces.push(name);
}

const confFiles = new Map<Impl, string>();
impls.forEach((impl, i) => {
  const file = join(work, `impl-${i}.conflist`);
  writeFileSync(file, JSON.stringify(impl.conf));
  confFiles.set(impl, file);
});

function run(op: string, impl: Impl, ns: string): Promise<number> {
  const confFile = confFiles.get(impl)!;
  const caps = impl.caps?.(namespaces.indexOf(ns));
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

async function phase(op: string, impl: Impl, concurrency: number): Promise<{ lat: number[]; wall: number }> {
  const lat: number[] = [];
  const queue = [...namespaces];
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let ns = queue.shift(); ns; ns = queue.shift()) lat.push(await run(op, impl, ns));
    }),
  );
  return { lat, wall: Number(process.hrtime.bigint() - start) / 1e9 };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Row {
  impl: string;
  concurrency: number;
  addP50: number;
  addP95: number;
  delP50: number;
  delP95: number;
  addPerSec: number;
  delPerSec: number;
}
const rows: Row[] = [];

const rssRounds: number[] = [];
try {
  // Warm the page cache and create every bridge's first-use state once, outside the timings.
  for (const impl of impls) {
    await run('add', impl, namespaces[0]!);
    await run('del', impl, namespaces[0]!);
  }
  if (values.rss) {
    const fast = impls.find((i) => i.path === 'berthd')!;
    rssRounds.push(berthdRssMiB());
    for (let round = 0; round < 3; round++) {
      for (let done = 0; done < 1000; done += namespaces.length) {
        await phase('add', fast, 8);
        await phase('del', fast, 8);
      }
      rssRounds.push(berthdRssMiB());
    }
  } else {
    for (const concurrency of [1, 8]) {
      const acc = new Map<string, { add: number[]; del: number[]; addWall: number; delWall: number }>();
      for (let r = 0; r < ROUNDS; r++) {
        // Rotate who goes first, so drift in the machine's load does not favour one side.
        const order = impls.map((_, i) => impls[(i + r) % impls.length]!);
        for (const impl of order) {
          const a = await phase('add', impl, concurrency);
          const d = await phase('del', impl, concurrency);
          const e = acc.get(impl.name) ?? { add: [], del: [], addWall: 0, delWall: 0 };
          e.add.push(...a.lat);
          e.del.push(...d.lat);
          e.addWall += a.wall;
          e.delWall += d.wall;
          acc.set(impl.name, e);
        }
      }
      for (const impl of impls) {
        const e = acc.get(impl.name)!;
        rows.push({
          impl: impl.name,
          concurrency,
          addP50: pct(e.add, 50),
          addP95: pct(e.add, 95),
          delP50: pct(e.del, 50),
          delP95: pct(e.del, 95),
          addPerSec: e.add.length / e.addWall,
          delPerSec: e.del.length / e.delWall,
        });
      }
    }
  }
} finally {
  berthd.kill('SIGTERM');
  await new Promise((r) => berthd.once('exit', r));
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  for (const p of dhcpProcs) p.kill('SIGTERM');
  if (values.dhcp) spawnSync('ip', ['netns', 'del', LAN]);
  rmSync(work, { recursive: true, force: true });
}

if (values.rss) {
  const [idle, ...after] = rssRounds as [number, ...number[]];
  // Idle to round 1 is warm-up (heap sized, code compiled); a leak shows as growth after it.
  const growth = (Math.max(...after.slice(1)) - after[0]!) / after[0]!;
  console.log(`\nberthd RSS (MiB): idle ${idle.toFixed(1)}; after each round of 1,000 pods (ADD + DEL, 8 in parallel, through the CNI socket): ${after.map((x) => x.toFixed(1)).join(', ')}`);
  console.log(`idle to round 3: ${(((after.at(-1)! - idle) / idle) * 100).toFixed(1)} % (warm-up included)`);
  console.log(`growth from round 1 to the largest later round: ${(growth * 100).toFixed(1)} % [target: <= 10 %] ${growth <= 0.1 ? 'met' : 'NOT met'}`);
  process.exitCode = growth <= 0.1 ? 0 : 1;
} else {
  report();
}

function report(): void {
  const f = (x: number) => x.toFixed(1).padStart(7);
  const what = values.nat
    ? 'one port mapping per pod'
    : values.dhcp
      ? 'macvlan in bridge mode, addresses from one dnsmasq'
      : values.transparent
        ? 'macvlan in bridge mode on one uplink'
        : 'ipMasq + isGateway';
  console.log(`\nCNI ADD/DEL through cniclient (libcni), ${PODS} pods x ${ROUNDS} rounds, ${what}, ms`);
  console.log('implementation                           conc   ADD p50  ADD p95  DEL p50  DEL p95   ADD/s   DEL/s');
  for (const r of rows) console.log(`${r.impl.padEnd(40)} ${String(r.concurrency).padStart(4)} ${f(r.addP50)}  ${f(r.addP95)}  ${f(r.delP50)}  ${f(r.delP95)} ${f(r.addPerSec)} ${f(r.delPerSec)}`);
  console.log('\nratios (reference / berth; > 1 means berth is faster):');
  let pass = true;
  for (const c of [1, 8]) {
    const ref = rows.find((r) => r.concurrency === c && r.impl.startsWith('reference'))!;
    for (const b of rows.filter((r) => r.concurrency === c && r.impl.startsWith('berth'))) {
      const addRatio = ref.addP50 / b.addP50;
      const delRatio = ref.delP50 / b.delP50;
      const thr = b.addPerSec / ref.addPerSec;
      const delThr = b.delPerSec / ref.delPerSec;
      const judged = b.impl.includes('(berthd)');
      // Latency targets apply to one pod at a time; throughput to 8 in parallel.
      const ok = c === 1 ? addRatio >= TARGET.add && delRatio >= TARGET.del : thr >= TARGET.throughput;
      if (judged) pass &&= ok;
      const target = c === 1 ? `ADD >= ${TARGET.add}x, DEL >= ${TARGET.del}x` : `ADD/s >= ${TARGET.throughput}x`;
      console.log(
        `  ${b.impl.padEnd(40)} concurrency ${c}: ADD p50 ${addRatio.toFixed(2)}x, DEL p50 ${delRatio.toFixed(2)}x, ADD/s ${thr.toFixed(2)}x, DEL/s ${delThr.toFixed(2)}x  ${judged ? `[target: ${target}] ${ok ? 'met' : 'NOT met'}` : '(fallback: no target)'}`,
      );
    }
  }
  if (values.json) console.log(JSON.stringify(rows));
  process.exitCode = pass ? 0 : 1;
}
