/**
 * One comparison of a candidate (berth) against a baseline (the reference) on one metric, and
 * its verdict. The figure is the median of the per-round ratios candidate / baseline; beside
 * it the null pair: the baseline against a second measurement of itself in the same rounds.
 * When the null ratio is further than NOISE_LIMIT from 1, the machine's noise is as large as
 * what is measured, and no verdict is given.
 */
import { median, summarizeRatios, type RatioSummary } from './stats.js';

/** How far the null ratio may be from 1 before a comparison says nothing. */
export const NOISE_LIMIT = 0.1;

/** A goal on the ratio candidate / baseline. */
export type Target = { readonly atMost: number } | { readonly atLeast: number };

export type Verdict = 'met' | 'NOT met' | 'too noisy to tell' | 'information';

export interface Comparison {
  /** What is measured, e.g. "ADD p50 (1 at a time)". */
  readonly metric: string;
  readonly unit: string;
  readonly better: 'lower' | 'higher';
  readonly baseline: string;
  readonly candidate: string;
  /** Medians over the rounds of the per-round values, in `unit`. */
  readonly baselineValue: number;
  readonly candidateValue: number;
  readonly ratio: RatioSummary;
  readonly null: RatioSummary;
  readonly target?: Target;
  readonly verdict: Verdict;
}

export function targetText(t: Target | undefined): string {
  if (!t) return '';
  return 'atMost' in t ? `<= ${t.atMost}x` : `>= ${t.atLeast}x`;
}

/** Whether the null ratio lies within NOISE_LIMIT of 1. */
export function quietEnough(nullRatio: number): boolean {
  return Math.abs(nullRatio - 1) <= NOISE_LIMIT + 1e-12;
}

/** The verdict of a figure: none without a target, none when the null pair is off by more than the limit. */
export function verdictOf(ratio: number, nullRatio: number, target: Target | undefined): Verdict {
  if (!quietEnough(nullRatio)) return 'too noisy to tell';
  if (!target) return 'information';
  const ok = 'atMost' in target ? ratio <= target.atMost : ratio >= target.atLeast;
  return ok ? 'met' : 'NOT met';
}

export interface CompareInput {
  readonly metric: string;
  readonly unit: string;
  readonly better: 'lower' | 'higher';
  readonly baseline: string;
  readonly candidate: string;
  /** Per round: the baseline's value, its second (null) measurement, the candidate's value. */
  readonly baselineRounds: readonly number[];
  readonly nullRounds: readonly number[];
  readonly candidateRounds: readonly number[];
  readonly target?: Target;
}

export function compare(input: CompareInput): Comparison {
  const { baselineRounds: a, nullRounds: a2, candidateRounds: b } = input;
  if (a.length === 0 || a.length !== b.length || a.length !== a2.length) throw new RangeError(`${input.metric}: rounds of unequal or zero length (${a.length}, ${a2.length}, ${b.length})`);
  const ratio = summarizeRatios(b.map((x, i) => x / a[i]!));
  const nullRatio = summarizeRatios(a2.map((x, i) => x / a[i]!));
  return {
    metric: input.metric,
    unit: input.unit,
    better: input.better,
    baseline: input.baseline,
    candidate: input.candidate,
    baselineValue: median(a),
    candidateValue: median(b),
    ratio,
    null: nullRatio,
    ...(input.target ? { target: input.target } : {}),
    verdict: verdictOf(ratio.median, nullRatio.median, input.target),
  };
}
