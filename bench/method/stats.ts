/**
 * The statistics every benchmark reports with: medians, percentiles, and a bootstrap interval
 * of the median. The bootstrap draws from a seeded generator, so one set of rounds always
 * gives the same interval (the figures of a recorded run can be recomputed from its rounds).
 */

/** The median; the mean of the two middle values for an even count. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('the median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The nearest-rank percentile (p in 0..100): a value that was measured, never an interpolation. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) throw new RangeError('a percentile of no values');
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Interval {
  readonly low: number;
  readonly high: number;
}

/**
 * The percentile bootstrap interval of the median: the median of `resamples` resamples (with
 * replacement, same size) and the (1-level)/2 and (1+level)/2 quantiles of those medians.
 */
export function bootstrapMedianInterval(xs: readonly number[], options: { level?: number; resamples?: number; seed?: number } = {}): Interval {
  if (xs.length === 0) throw new RangeError('an interval of no values');
  const { level = 0.95, resamples = 2000, seed = 17 } = options;
  const random = seededRandom(seed);
  const medians: number[] = [];
  const sample: number[] = new Array<number>(xs.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < xs.length; i++) sample[i] = xs[Math.floor(random() * xs.length)]!;
    medians.push(median(sample));
  }
  medians.sort((a, b) => a - b);
  const at = (q: number) => medians[Math.min(medians.length - 1, Math.max(0, Math.round(q * (medians.length - 1))))]!;
  return { low: at((1 - level) / 2), high: at((1 + level) / 2) };
}

/**
 * The per-round ratios summed up: their median, their spread (the smallest and largest round),
 * and the bootstrap 95 % interval of the median. The spread is the interval reports and
 * reproduction checks use: a 95 % interval of one run's median holds another run's median only
 * about 83 % of the time even on a machine that does not change (the difference of two medians
 * spreads √2 times as wide), so sixteen headline ratios would all fall inside it one run in
 * twenty; the rounds' spread says what this machine's rounds actually did.
 */
export interface RatioSummary {
  readonly median: number;
  /** The smallest per-round ratio. */
  readonly low: number;
  /** The largest per-round ratio. */
  readonly high: number;
  readonly ci95: Interval;
  readonly rounds: readonly number[];
}

export function summarizeRatios(ratios: readonly number[]): RatioSummary {
  return { median: median(ratios), low: Math.min(...ratios), high: Math.max(...ratios), ci95: bootstrapMedianInterval(ratios), rounds: [...ratios] };
}
