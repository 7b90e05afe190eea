/**
 * Whether a run reproduces an earlier one: each comparison's ratio against the earlier run's
 * spread (its smallest and largest round; why not the 95 % interval of the median: see
 * RatioSummary) for the same benchmark, metric and candidate, and each null pair within 10 % of 1.
 */
import { quietEnough } from '../method/comparison.js';
import type { BenchResult } from '../method/result.js';

export interface Reproduction {
  readonly benchmark: string;
  readonly metric: string;
  readonly candidate: string;
  readonly earlier: { readonly median: number; readonly low: number; readonly high: number };
  readonly now: number;
  readonly within: boolean;
  /** A headline ratio: one with a target (the others are printed for information). */
  readonly headline: boolean;
  readonly nullNow: number;
  readonly nullQuiet: boolean;
}

export function reproduce(earlier: readonly BenchResult[], now: readonly BenchResult[]): Reproduction[] {
  const out: Reproduction[] = [];
  for (const r of now)
    for (const c of r.comparisons) {
      const e = earlier.find((x) => x.name === r.name)?.comparisons.find((x) => x.metric === c.metric && x.candidate === c.candidate);
      if (!e) continue;
      out.push({
        benchmark: r.name,
        metric: c.metric,
        candidate: c.candidate,
        earlier: { median: e.ratio.median, low: e.ratio.low, high: e.ratio.high },
        now: c.ratio.median,
        within: c.ratio.median >= e.ratio.low && c.ratio.median <= e.ratio.high,
        headline: c.target !== undefined,
        nullNow: c.null.median,
        nullQuiet: quietEnough(c.null.median),
      });
    }
  return out;
}

/** The counts a reader wants first: headline ratios within, all ratios within, quiet null pairs. */
export function reproductionSummary(rows: readonly Reproduction[]): string {
  const headline = rows.filter((x) => x.headline);
  const count = (xs: readonly Reproduction[], p: (x: Reproduction) => boolean) => `${xs.filter(p).length} of ${xs.length}`;
  return (
    `Headline ratios (those with a target) inside the earlier run's rounds (min..max): ${count(headline, (x) => x.within)}; ` +
    `all ratios: ${count(rows, (x) => x.within)}; null pairs of this run within 10 % of 1: ${count(rows, (x) => x.nullQuiet)}.`
  );
}

export function reproductionTable(rows: readonly Reproduction[]): string {
  const lines = ['| benchmark | metric | candidate | headline | earlier ratio [rounds min..max] | this run | within | null pair now |', '|---|---|---|---|---|---|---|---|'];
  for (const x of rows)
    lines.push(
      `| ${x.benchmark} | ${x.metric} | ${x.candidate} | ${x.headline ? 'yes' : ''} | ${x.earlier.median.toFixed(3)} [${x.earlier.low.toFixed(3)}..${x.earlier.high.toFixed(3)}] | ${x.now.toFixed(3)} | ${x.within ? 'yes' : 'no'} | ${x.nullNow.toFixed(3)}${x.nullQuiet ? '' : ' (too noisy)'} |`,
    );
  return lines.join('\n');
}
