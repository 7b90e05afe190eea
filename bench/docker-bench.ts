/**
 * `docker run --network` benchmark: a berth-nat network (berthd as Docker's remote network
 * driver) against Docker's built-in bridge network, same dockerd, same image, same run,
 * runs interleaved so drift hits both sides alike. Each run is `docker run --rm --network N
 * IMAGE true`: create, connect (CreateEndpoint, Join, ProgramExternalConnectivity), start,
 * exit, disconnect, remove. With `--publish`, every run also publishes one port (`-p`).
 *
 *   scripts/bench-docker.sh [--runs N] [--publish]
 *
 * Runs inside a private network + mount namespace (scripts/bench-docker.sh does the
 * unshare) with its own dockerd and berthd (test/netns/docker/harness.ts). Prints p50/p95
 * per side and the berth/bridge ratio of the p50s (target: at most 1.2; exits 1 when missed).
 */
import { parseArgs } from 'node:util';
import { DockerEnv, IMAGE, dockerUnavailable } from '../test/netns/docker/harness.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, warmup: { type: 'string', default: '2' }, publish: { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
});
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);

const unavailable = dockerUnavailable();
if (unavailable) {
  console.error(`cannot benchmark: ${unavailable}`);
  process.exit(1);
}

const sides = [
  { name: 'docker bridge', network: 'bench-bridge', create: ['-d', 'bridge', '--subnet', '10.234.1.0/24', '-o', 'com.docker.network.bridge.name=br-bench'] },
  { name: 'berth-nat', network: 'bench-nat', create: ['-d', 'berth-nat', '--subnet', '10.234.2.0/24'] },
] as const;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const env = await DockerEnv.start();
let failed = false;
try {
  for (const s of sides) await env.dockerOk(['network', 'create', ...s.create, s.network]);
  const times = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  for (let i = 0; i < WARMUP + RUNS; i++) {
    // Alternate which side goes first.
    const order = i % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      const args = ['run', '--rm', '--network', s.network, ...(values.publish ? ['-p', `${18000 + i}:80`] : []), IMAGE, 'true'];
      const start = process.hrtime.bigint();
      await env.dockerOk(args);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (i >= WARMUP) times.get(s.name)!.push(ms);
    }
  }
  const result = sides.map((s) => {
    const t = [...times.get(s.name)!].sort((a, b) => a - b);
    return { side: s.name, runs: t.length, p50: percentile(t, 50), p95: percentile(t, 95) };
  });
  const bridge = result[0]!;
  const nat = result[1]!;
  const ratio = nat.p50 / bridge.p50;
  if (values.json) {
    console.log(JSON.stringify({ runs: RUNS, publish: values.publish, results: result, ratio }));
  } else {
    console.log(`docker run --rm --network N ${IMAGE} true${values.publish ? ' (with -p)' : ''}, ${RUNS} runs per side, interleaved`);
    for (const r of result) console.log(`  ${r.side.padEnd(14)} p50 ${r.p50.toFixed(1).padStart(7)} ms   p95 ${r.p95.toFixed(1).padStart(7)} ms`);
    console.log(`  berth-nat / docker bridge (p50): ${ratio.toFixed(2)}x (target <= 1.20x): ${ratio <= 1.2 ? 'met' : 'NOT met'}`);
  }
  // Like bench-cni: a missed target is a failure.
  if (ratio > 1.2) failed = true;
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  for (const s of sides) await env.docker(['network', 'rm', s.network]);
  await env.stop();
}
process.exit(failed ? 1 : 0);
