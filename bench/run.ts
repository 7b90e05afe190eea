/**
 * Runs the benchmarks (all, or those named) one after the other, each in a private network
 * and mount namespace of its own, and writes the run's results: results.json (the machine and
 * every figure), results.md (the tables) and charts/*.svg, into bench-results/ (or --out).
 *
 *   npm run bench [-- [--quick] [--self-check] [--out DIR] [--against RESULTS.json] [--list] [NAME|PREFIX ...]]
 *
 * A name selects one benchmark; a prefix (cni, docker, policy) all that start with it.
 * --quick runs each with small sizes. --self-check runs each with the smallest sizes that go
 * through all its steps and checks that every selected benchmark ran and wrote its results,
 * whatever its verdicts (scripts/test.sh runs it); it writes into a scratch folder unless
 * --out is given.
 * --against names an earlier run's results.json: each ratio of this run is checked against the
 * earlier run's rounds, their smallest to largest ratio (reproduction.md).
 * Without --self-check, the exit status is 1 when a benchmark failed or a target was NOT met.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchResult } from './method/result.js';
import { BENCHMARKS, select, type Benchmark, type Size } from './run-select.js';
import { checkResult } from './report/check.js';
import { chartsOf } from './report/charts.js';
import { machine } from './report/machine.js';
import { resultsPage } from './report/markdown.js';
import { reproduce, reproductionSummary, reproductionTable, type Reproduction } from './report/reproduce.js';

const ROOT = resolve(new URL('.', import.meta.url).pathname, '..', '..');

function runOne(b: Benchmark, size: Size, out: string): Promise<number> {
  const env = { ...process.env };
  // Runtimes do not set it; and a CA file outside the namespace would only slow Node down.
  delete env.NODE_EXTRA_CA_CERTS;
  const args = [
    '--net',
    '--mount',
    '--propagation',
    'private',
    '--',
    'bash',
    join(ROOT, 'scripts', 'in-private-netns.sh'),
    process.execPath,
    join(ROOT, 'dist', 'bench', b.script),
    ...b.args,
    ...b[size],
    '--name',
    b.name,
    '--out',
    out,
  ];
  return new Promise((res) => {
    const p = spawn('unshare', args, { stdio: 'inherit', env, cwd: ROOT });
    p.once('exit', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      'self-check': { type: 'boolean', default: false },
      out: { type: 'string' },
      list: { type: 'boolean', default: false },
      against: { type: 'string' },
    },
  });
  if (values.list) {
    for (const b of BENCHMARKS) console.log(`${b.name.padEnd(16)} ${b.what}`);
    return 0;
  }
  let chosen: Benchmark[];
  try {
    chosen = select(positionals);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  const selfCheck = values['self-check'];
  const size: Size = selfCheck ? 'check' : values.quick ? 'quick' : 'full';
  const scratch = selfCheck && !values.out ? mkdtempSync(join(tmpdir(), 'berth-bench-check-')) : undefined;
  const dir = resolve(ROOT, values.out ?? scratch ?? 'bench-results');
  mkdirSync(join(dir, 'runs'), { recursive: true });
  const started = Date.now();
  const results: BenchResult[] = [];
  const failed: string[] = [];
  const problems: string[] = [];
  for (const b of chosen) {
    const file = join(dir, 'runs', `${b.name}.json`);
    rmSync(file, { force: true });
    console.log(`\n=== ${b.name}: ${b.what} (${size} run)`);
    const t = Date.now();
    const code = await runOne(b, size, file);
    const seconds = Math.round((Date.now() - t) / 1000);
    if (!existsSync(file)) {
      failed.push(b.name);
      problems.push(`${b.name}: exited ${code} after ${seconds} s without writing its results`);
      continue;
    }
    const result = JSON.parse(readFileSync(file, 'utf8')) as BenchResult;
    results.push(result);
    const issues = checkResult(result);
    if (issues.length) problems.push(...issues.map((i) => `${b.name}: ${i}`));
    console.log(`=== ${b.name}: ${seconds} s, exit ${code}`);
  }
  const m = machine();
  const command = `npm run bench --${values.quick ? ' --quick' : ''}${positionals.length ? ` ${positionals.join(' ')}` : ''}`.replace(/ --$/, '');
  const date = new Date().toISOString();
  mkdirSync(join(dir, 'charts'), { recursive: true });
  const charts = chartsOf(results);
  for (const c of charts) writeFileSync(join(dir, c.file), c.svg);
  // --against: an earlier results.json; each ratio of this run is checked against its rounds' spread.
  let reproduction: Reproduction[] | undefined;
  if (values.against) {
    const earlier = JSON.parse(readFileSync(resolve(values.against), 'utf8')) as { benchmarks: BenchResult[]; date: string };
    reproduction = reproduce(earlier.benchmarks, results);
    const page = `# This run against the run of ${earlier.date}\n\n${reproductionSummary(reproduction)}\n\n${reproductionTable(reproduction)}\n`;
    writeFileSync(join(dir, 'reproduction.md'), page);
    console.log(`\n${page}`);
  }
  const doc = { machine: m, command, date, size, ...(reproduction ? { reproduction } : {}), seconds: Math.round((Date.now() - started) / 1000), failed, benchmarks: results };
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(doc, null, 2)}\n`);
  writeFileSync(join(dir, 'results.md'), resultsPage({ machine: m, command, date, results, charts, failed }));
  console.log(`\nresults: ${join(dir, 'results.json')}, ${join(dir, 'results.md')}, ${charts.length} charts in ${join(dir, 'charts')} (${doc.seconds} s in all)`);
  for (const p of problems) console.log(`problem: ${p}`);
  if (selfCheck) {
    const ok = problems.length === 0 && results.length === chosen.length && charts.length > 0;
    console.log(`self-check: ${results.length}/${chosen.length} benchmarks ran and wrote their results${ok ? '' : ' — FAILED'}`);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    return ok ? 0 : 1;
  }
  const missed = results.flatMap((r) => [...r.comparisons, ...r.figures].filter((c) => c.verdict === 'NOT met').map(() => r.name));
  return failed.length || missed.length ? 1 : 0;
}

process.exitCode = await main();
