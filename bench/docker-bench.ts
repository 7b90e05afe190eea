/**
 * `docker run --network` benchmark: a berth-nat network (berthd as Docker's remote network
 * driver) against Docker's built-in bridge network, same dockerd, same image, same run,
 * runs interleaved so drift hits both sides alike. Each run is `docker run --rm --network N
 * IMAGE true`: create, connect (CreateEndpoint, Join, ProgramExternalConnectivity), start,
 * exit, disconnect, remove. With `--publish`, every run also publishes one port (`-p`).
 *
 *   scripts/bench-docker.sh [--runs N] [--publish]
 *
 * Runs inside a private network + mount namespace (scripts/bench-docker.sh or bench/run.ts
 * does the unshare) with its own dockerd and berthd (test/netns/docker/harness.ts). Each run is
 * a round (bench/method/rounds.ts): the bridge, the bridge again (the null pair) and berth-nat,
 * in rotating order. The figure is the median of the per-round ratios berth-nat / bridge
 * (target: at most 1.2), with the rounds' spread and the bootstrap 95 % interval of the median.
 */
import { parseArgs } from 'node:util';
import { DockerEnv, IMAGE, dockerUnavailable } from '../test/netns/docker/harness.js';
import { RESULT_OPTIONS, finish } from './method/bench-cli.js';
import { compare } from './method/comparison.js';
import { interleave, series } from './method/rounds.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    publish: { type: 'boolean', default: false },
    ...RESULT_OPTIONS,
  },
});
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const started = Date.now();

const unavailable = dockerUnavailable();
if (unavailable) {
  console.error(`cannot benchmark: ${unavailable}`);
  process.exit(1);
}

const sides = [
  { name: 'docker bridge', network: 'bench-bridge', create: ['-d', 'bridge', '--subnet', '10.234.1.0/24', '-o', 'com.docker.network.bridge.name=br-bench'] },
  { name: 'berth-nat', network: 'bench-nat', create: ['-d', 'berth-nat', '--subnet', '10.234.2.0/24'] },
] as const;

const env = await DockerEnv.start();
let failed = false;
try {
  for (const s of sides) await env.dockerOk(['network', 'create', ...s.create, s.network]);
  let port = 18000;
  const samples = new Map<string, number[]>(sides.map((s) => [s.name, []]));
  const side = (s: (typeof sides)[number], keep: boolean) => async () => {
    const args = ['run', '--rm', '--network', s.network, ...(values.publish ? ['-p', `${port++}:80`] : []), IMAGE, 'true'];
    const start = process.hrtime.bigint();
    await env.dockerOk(args);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (keep) samples.get(s.name)!.push(Math.round(ms * 10) / 10);
    return { ms };
  };
  const [bridge, nat] = sides;
  for (let i = 0; i < WARMUP; i++) for (const s of sides) await side(s, false)();
  const rounds = await interleave({ name: bridge.name, measure: side(bridge, true), nullMeasure: side(bridge, false) }, [{ name: nat.name, measure: side(nat, true) }], RUNS);
  const operation = `docker run --rm --network N ${IMAGE} true${values.publish ? ' (with -p)' : ''}`;
  const ok = finish(
    {
      name: values.name ?? (values.publish ? 'docker-publish' : 'docker-run'),
      title: `${operation}: berth-nat vs Docker's bridge`,
      settings: { runs: RUNS, warmup: WARMUP, publish: values.publish },
      comparisons: [
        compare({
          metric: operation,
          unit: 'ms',
          better: 'lower',
          baseline: bridge.name,
          candidate: nat.name,
          baselineRounds: series(rounds, bridge.name, 'ms'),
          nullRounds: series(rounds, 'null', 'ms'),
          candidateRounds: series(rounds, nat.name, 'ms'),
          target: { atMost: 1.2 },
        }),
      ],
      figures: [],
      distributions: sides.map((s) => ({ operation: 'docker run', implementation: s.name, unit: 'ms', samples: samples.get(s.name)! })),
      series: [],
      seconds: Math.round((Date.now() - started) / 1000),
    },
    values.out,
  );
  // Like bench-cni: a missed target is a failure.
  if (!ok) failed = true;
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  for (const s of sides) await env.docker(['network', 'rm', s.network]);
  await env.stop();
}
process.exit(failed ? 1 : 0);
