/**
 * CNI ADD/DEL benchmark: berth-bridge + berth-ipam against the reference bridge + host-local
 * (Debian's containernetworking-plugins), both with ipMasq and isGateway, in the same run,
 * driven through cniclient (the reference libcni), sequentially and 8 in parallel.
 *
 *   npm run bench:cni [-- --pods N --rounds R]
 *
 * With `--nat`: berth-nat (+ berth-ipam) with one port mapping per pod against the
 * reference chain bridge + portmap + firewall (+ host-local) with the same mapping.
 *
 * Runs inside a private network namespace (scripts/bench-cni.sh does the unshare). Prints
 * p50/p95 latencies, operations per second and the reference/berth ratios.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..', '..');
const { values } = parseArgs({
  options: { pods: { type: 'string', default: '40' }, rounds: { type: 'string', default: '2' }, json: { type: 'boolean', default: false }, nat: { type: 'boolean', default: false } },
});
const PODS = Number(values.pods);
const ROUNDS = Number(values.rounds);

const cniclient = [join(ROOT, '.tools', 'cniclient'), '/usr/local/bin/cniclient'].find((p) => spawnSync('test', ['-x', p]).status === 0);
if (!cniclient) {
  console.error('cniclient is not built: run scripts/setup.sh first');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const bin = join(work, 'bin');
spawnSync(process.execPath, [join(ROOT, 'dist', 'bin', 'berth'), 'install', '--cni-bin-dir', bin], { stdio: 'inherit' });

/** The same clean environment for both sides: runtimes do not set NODE_EXTRA_CA_CERTS. */
const baseEnv: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: `${bin}:/usr/lib/cni`, BERTH_RUN_DIR: join(work, 'run'), BERTH_CACHE_DIR: join(work, 'v8cache') };

interface Impl {
  readonly name: string;
  readonly conf: object;
  /** Capability arguments for the pod with this index (the runtime's CNI_CAPS). */
  readonly caps?: (pod: number) => object;
}

/** One TCP port mapping per pod, a distinct host port each. */
const onePort = (pod: number) => ({ portMappings: [{ hostPort: 20000 + pod, containerPort: 80, protocol: 'tcp' }] });

const natImpls: Impl[] = [
  {
    name: 'reference bridge+portmap+firewall',
    conf: {
      cniVersion: '1.0.0',
      name: 'bench-ref-nat',
      plugins: [
        { type: 'bridge', bridge: 'bref1', isGateway: true, isDefaultGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.203.0.0/16' }]], dataDir: join(work, 'host-local-nat') } },
        { type: 'portmap', capabilities: { portMappings: true } },
        { type: 'firewall' },
      ],
    },
    caps: onePort,
  },
  {
    name: 'berth-nat+berth-ipam',
    conf: { cniVersion: '1.0.0', name: 'bench-berth-nat', plugins: [{ type: 'berth-nat', bridge: 'bnat0', capabilities: { portMappings: true }, ipam: { type: 'berth-ipam', ranges: [[{ subnet: '10.204.0.0/16' }]], dataDir: join(work, 'berth-ipam-nat') } }] },
    caps: onePort,
  },
];

const bridgeImpls: Impl[] = [
  {
    name: 'reference bridge+host-local',
    conf: { cniVersion: '1.0.0', name: 'bench-ref', plugins: [{ type: 'bridge', bridge: 'bref0', isGateway: true, ipMasq: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.201.0.0/16' }]], dataDir: join(work, 'host-local') } }] },
  },
  {
    name: 'berth-bridge+berth-ipam',
    conf: { cniVersion: '1.0.0', name: 'bench-berth', plugins: [{ type: 'berth-bridge', bridge: 'bberth0', isGateway: true, ipMasq: true, ipam: { type: 'berth-ipam', ranges: [[{ subnet: '10.202.0.0/16' }]], dataDir: join(work, 'berth-ipam') } }] },
  },
];

const impls = values.nat ? natImpls : bridgeImpls;
/** The targets: berth-nat 3x the reference chain on latency and throughput; berth-bridge ADD 1x, DEL 2x. */
const TARGET = values.nat ? { add: 3, del: 3, throughput: 3 } : { add: 1, del: 2, throughput: 0 };

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
  const env = { ...baseEnv, CNI_CACHE: join(work, 'cache'), ...(caps ? { CNI_CAPS: JSON.stringify(caps) } : {}) };
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

try {
  // Warm the page cache and create both bridges' first-use state once, outside the timings.
  for (const impl of impls) {
    await run('add', impl, namespaces[0]!);
    await run('del', impl, namespaces[0]!);
  }
  for (const concurrency of [1, 8]) {
    const acc = new Map<string, { add: number[]; del: number[]; addWall: number; delWall: number }>();
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate who goes first, so drift in the machine's load does not favour one side.
      for (const impl of r % 2 === 0 ? impls : [...impls].reverse()) {
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
} finally {
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
  rmSync(work, { recursive: true, force: true });
}

const f = (x: number) => x.toFixed(1).padStart(7);
console.log(`\nCNI ADD/DEL through cniclient (libcni), ${PODS} pods x ${ROUNDS} rounds, ${values.nat ? 'one port mapping per pod' : 'ipMasq + isGateway'}, ms`);
console.log('implementation                 conc   ADD p50  ADD p95  DEL p50  DEL p95   ADD/s   DEL/s');
for (const r of rows) console.log(`${r.impl.padEnd(30)} ${String(r.concurrency).padStart(4)} ${f(r.addP50)}  ${f(r.addP95)}  ${f(r.delP50)}  ${f(r.delP95)} ${f(r.addPerSec)} ${f(r.delPerSec)}`);
console.log('\nratios (reference / berth; > 1 means berth is faster):');
let pass = true;
for (const c of [1, 8]) {
  const ref = rows.find((r) => r.concurrency === c && r.impl.startsWith('reference'))!;
  const b = rows.find((r) => r.concurrency === c && r.impl.startsWith('berth'))!;
  const addRatio = ref.addP50 / b.addP50;
  const delRatio = ref.delP50 / b.delP50;
  const thr = b.addPerSec / ref.addPerSec;
  const delThr = b.delPerSec / ref.delPerSec;
  const ok = addRatio >= TARGET.add && delRatio >= TARGET.del && thr >= TARGET.throughput && delThr >= TARGET.throughput;
  pass &&= ok;
  const thrTarget = TARGET.throughput ? `, ADD/s and DEL/s >= ${TARGET.throughput.toFixed(2)}x` : '';
  console.log(`  concurrency ${c}: ADD p50 ${addRatio.toFixed(2)}x, DEL p50 ${delRatio.toFixed(2)}x, ADD/s ${thr.toFixed(2)}x, DEL/s ${delThr.toFixed(2)}x  [target: ADD >= ${TARGET.add.toFixed(2)}x, DEL >= ${TARGET.del.toFixed(2)}x${thrTarget}] ${ok ? 'met' : 'NOT met'}`);
}
if (values.json) console.log(JSON.stringify(rows));
process.exitCode = pass ? 0 : 3;
