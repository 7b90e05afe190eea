/** The Markdown page of a run: the machine, the command, every comparison and figure, the charts. */
import { targetText } from '../method/comparison.js';
import type { BenchResult } from '../method/result.js';
import type { Machine } from './machine.js';

const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function machineLine(m: Machine): string {
  return `kernel ${m.kernel}, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, reference plugins containernetworking-plugins ${m.referencePlugins}`;
}

/**
 * The comparisons' table: ratio = berth / reference of the metric with the rounds' spread and
 * the 95 % interval of its median, the null pair with its spread.
 */
export function comparisonTable(results: readonly BenchResult[]): string {
  const rows = [
    '| benchmark | metric | berth | reference | ratio [rounds min..max] | 95 % interval of the ratio | null pair [rounds min..max] | target | verdict |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results)
    for (const c of r.comparisons)
      rows.push(
        `| ${r.name} | ${cell(c.metric)} (${c.better} is better) | ${cell(c.candidate)}: ${num(c.candidateValue)} ${c.unit} | ${cell(c.baseline)}: ${num(c.baselineValue)} ${c.unit} | ` +
          `${c.ratio.median.toFixed(3)} [${c.ratio.low.toFixed(3)}..${c.ratio.high.toFixed(3)}] | ${c.ratio.ci95.low.toFixed(3)}..${c.ratio.ci95.high.toFixed(3)} | ${c.null.median.toFixed(3)} [${c.null.low.toFixed(3)}..${c.null.high.toFixed(3)}] | ` +
          `${cell(targetText(c.target))} | ${c.verdict} |`,
      );
  return rows.join('\n');
}

export function figureTable(results: readonly BenchResult[]): string {
  const rows = ['| benchmark | figure | value | goal | verdict |', '|---|---|---|---|---|'];
  for (const r of results) for (const f of r.figures) rows.push(`| ${r.name} | ${cell(f.name)} | ${num(f.value)} ${f.unit} | ${cell(f.goal ?? '')} | ${f.verdict} |`);
  return rows.join('\n');
}

export function resultsPage(opts: {
  machine: Machine;
  command: string;
  date: string;
  results: readonly BenchResult[];
  charts: readonly { file: string; title: string }[];
  failed: readonly string[];
}): string {
  const out = [
    '# Benchmark results',
    '',
    `Run of ${opts.date} on ${machineLine(opts.machine)}.`,
    '',
    `Reproduce: \`${opts.command}\``,
    '',
    'Each ratio is berth / reference of the metric, the median of per-round ratios (sides interleaved in rounds), with the smallest and largest round and the bootstrap 95 % interval of the median.',
    'The null pair is the reference measured twice in the same rounds: when its ratio is further than 10 % from 1, the verdict is "too noisy to tell".',
    '',
    comparisonTable(opts.results),
    '',
    figureTable(opts.results),
    '',
  ];
  if (opts.failed.length) out.push(`Benchmarks that did not finish: ${opts.failed.join(', ')}.`, '');
  for (const c of opts.charts) out.push(`![${c.title}](${c.file})`, '');
  return out.join('\n');
}
