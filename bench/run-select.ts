/**
 * The benchmarks bench/run.ts knows, with their sizes for a full run, a quick one and the
 * self-check (the smallest run that still goes through every step and writes every figure),
 * and their selection by name.
 */

export interface Benchmark {
  readonly name: string;
  readonly what: string;
  readonly script: string;
  readonly args: readonly string[];
  readonly full: readonly string[];
  readonly quick: readonly string[];
  readonly check: readonly string[];
}

export type Size = 'full' | 'quick' | 'check';

// A round 8 in parallel runs each side's batch `--batches` times: four for the plugins that
// take a tenth of a second (a batch of 8 then lasts under a second), two where the reference
// takes longer (portmap; DHCP).
const cni = (name: string, mode: string[], what: string, batches = '4'): Benchmark => ({
  name,
  what,
  script: 'cni-bench.js',
  args: mode,
  full: ['--pods', '8', '--rounds', '8', '--batches', batches],
  quick: ['--pods', '2', '--rounds', '3'],
  check: ['--pods', '2', '--rounds', '2'],
});

const docker = (name: string, mode: string[], what: string): Benchmark => ({
  name,
  what,
  script: 'docker-bench.js',
  args: mode,
  full: ['--runs', '16'],
  quick: ['--runs', '3', '--warmup', '1'],
  check: ['--runs', '2', '--warmup', '0'],
});

export const BENCHMARKS: readonly Benchmark[] = [
  cni('cni-bridge', [], 'CNI ADD/DEL: berth-bridge (through berthd, fallback) vs reference bridge + host-local'),
  cni('cni-nat', ['--nat'], 'CNI ADD/DEL with a port mapping: berth-nat vs reference bridge + portmap', '2'),
  cni('cni-transparent', ['--transparent'], 'CNI ADD/DEL: berth-transparent vs reference macvlan + host-local'),
  {
    ...cni('cni-dhcp', ['--dhcp'], 'CNI ADD/DEL with DHCP: berth-transparent + berth-dhcp vs reference macvlan + dhcp daemon'),
    // The reference's DHCP ADD takes about 2 s: fewer pods, and more rounds than the others, since
    // a round's p50 of 3 pods moves more than one of 8 (6 rounds left one run's DEL p50 outside
    // the rounds of the run before it).
    full: ['--pods', '3', '--rounds', '10', '--batches', '2'],
    quick: ['--pods', '1', '--rounds', '3'],
    check: ['--pods', '1', '--rounds', '2'],
  },
  {
    name: 'cni-rss',
    what: "berthd's RSS over rounds of pods through its CNI socket",
    script: 'cni-bench.js',
    args: ['--rss'],
    full: ['--pods', '40', '--rss-pods', '1000'],
    quick: ['--pods', '10', '--rss-pods', '30', '--rss-settle', '2'],
    check: ['--pods', '4', '--rss-pods', '8', '--rss-settle', '1'],
  },
  docker('docker-run', [], 'docker run on berth-nat vs the built-in bridge'),
  docker('docker-publish', ['--publish'], 'docker run -p on berth-nat vs the built-in bridge'),
  {
    name: 'policy',
    what: 'policy compile, one change (direct and through berthd), CPU per new connection vs number of policies',
    script: 'policy-bench.js',
    args: [],
    full: [],
    quick: ['--pods', '1000', '--policies', '200', '--levels', '0,1000', '--connections', '1000', '--rounds', '4', '--changes', '20', '--warmup', '5'],
    check: ['--pods', '500', '--policies', '50', '--levels', '0,100', '--connections', '200', '--rounds', '2', '--changes', '3', '--warmup', '1'],
  },
  {
    name: 'overlay',
    what: 'overlay throughput vs a hand-built VXLAN pair, convergence, RSS',
    script: 'overlay-bench.js',
    args: [],
    full: ['--seconds', '4', '--rounds', '12', '--joins', '10'],
    quick: ['--quick', '--seconds', '1', '--rounds', '3', '--joins', '2', '--sizes', '3'],
    check: ['--quick', '--seconds', '1', '--rounds', '2', '--joins', '1', '--sizes', '3'],
  },
];

/** The benchmarks the words select: a name, or a prefix before a dash; all for none. */
export function select(words: readonly string[]): Benchmark[] {
  if (words.length === 0) return [...BENCHMARKS];
  const unknown = words.filter((w) => !BENCHMARKS.some((b) => b.name === w || b.name.startsWith(`${w}-`)));
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}: the benchmarks are ${BENCHMARKS.map((b) => b.name).join(', ')}`);
  return BENCHMARKS.filter((b) => words.some((w) => b.name === w || b.name.startsWith(`${w}-`)));
}
