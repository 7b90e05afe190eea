/**
 * What one benchmark hands to the runner (bench/run.ts): its comparisons, its figures that have
 * no baseline, the samples behind its latency distributions and the series for its charts,
 * written as JSON to the file named by `--out`. Every benchmark prints the same lines for them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { targetText, type Comparison, type Verdict } from './comparison.js';

/** A figure without a baseline (compile time, RSS, convergence), with its goal if it has one. */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The goal as text, e.g. "< 1000 ms". */
  readonly goal?: string;
  readonly verdict: Verdict;
}

/** Samples of one operation by one implementation, for the latency charts. */
export interface Distribution {
  readonly operation: string;
  readonly implementation: string;
  readonly unit: string;
  readonly samples: readonly number[];
}

/** A line of an x-y chart, e.g. CPU per connection against the number of policies. */
export interface Series {
  readonly chart: string;
  readonly x: string;
  readonly y: string;
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number; readonly low?: number; readonly high?: number }[];
}

export interface BenchResult {
  readonly name: string;
  readonly title: string;
  readonly settings: Record<string, unknown>;
  readonly comparisons: readonly (Comparison & { readonly group?: string })[];
  readonly figures: readonly Figure[];
  readonly distributions: readonly Distribution[];
  readonly series: readonly Series[];
  /** Anything else the benchmark measured, kept as it was (per-round details). */
  readonly details?: unknown;
  readonly seconds: number;
}

export function writeResult(file: string, result: BenchResult): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** One line per comparison: the figure, its rounds' spread and 95 % interval, the null pair and the verdict. */
export function comparisonLine(c: Comparison): string {
  const goal = c.target ? ` [target ${targetText(c.target)}]` : '';
  return (
    `${c.metric}: ${c.candidate} ${num(c.candidateValue)} vs ${c.baseline} ${num(c.baselineValue)} ${c.unit}; ` +
    `ratio ${c.ratio.median.toFixed(3)} [rounds ${c.ratio.low.toFixed(3)}..${c.ratio.high.toFixed(3)}; 95% ${c.ratio.ci95.low.toFixed(3)}..${c.ratio.ci95.high.toFixed(3)}], ` +
    `null ${c.null.median.toFixed(3)} [${c.null.low.toFixed(3)}..${c.null.high.toFixed(3)}]${goal}: ${c.verdict}`
  );
}

export function figureLine(f: Figure): string {
  return `${f.name}: ${num(f.value)} ${f.unit}${f.goal ? ` [goal ${f.goal}]` : ''}: ${f.verdict}`;
}

/** The verdict of a figure against a goal "below" or "at most" a limit. */
export function goalVerdict(ok: boolean): Verdict {
  return ok ? 'met' : 'NOT met';
}
