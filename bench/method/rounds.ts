/**
 * Interleaved rounds: in each round every side is measured once and the baseline twice (the
 * second time is the null pair). Rounds come in mirrored pairs (ABCD, DCBA), and the rotation
 * moves on from pair to pair: within each pair every side follows every other as often as it
 * precedes it, so a linear drift of the machine's load, and whatever one run leaves warm for
 * the next, weigh on every side alike, the null pair included.
 */

/** One side of a comparison; `measure` runs it once and answers its figures by metric name. */
export interface Side {
  readonly name: string;
  readonly measure: (round: number) => Promise<Record<string, number>>;
}

/** The name under which the baseline's second measurement of each round is kept. */
export const NULL_SIDE = 'null';

/** Per round, the figures of each side by side name (the baseline's second run under NULL_SIDE). */
export type Rounds = Record<string, Record<string, number>>[];

/** The order of round r: rotated by the pair's index (r / 2), reversed in the pair's second round. */
export function roundOrder<T>(items: readonly T[], r: number): T[] {
  const k = Math.floor(r / 2);
  const rotated = items.map((_, i) => items[(i + k) % items.length]!);
  return r % 2 ? rotated.reverse() : rotated;
}

/**
 * The rounds of a comparison. The null pair measures the baseline with `nullMeasure` when it
 * has one (the same procedure, e.g. without keeping samples), else with `measure`.
 */
export async function interleave(
  baseline: Side & { readonly nullMeasure?: Side['measure'] },
  others: readonly Side[],
  rounds: number,
  onRound?: (r: number, figures: Record<string, Record<string, number>>) => void,
): Promise<Rounds> {
  const nullSide: Side = { name: NULL_SIDE, measure: baseline.nullMeasure ?? baseline.measure };
  const sides = [baseline, nullSide, ...others];
  const out: Rounds = [];
  for (let r = 0; r < rounds; r++) {
    const figures: Record<string, Record<string, number>> = {};
    for (const side of roundOrder(sides, r)) figures[side.name] = await side.measure(r);
    out.push(figures);
    onRound?.(r, figures);
  }
  return out;
}

/** One metric of one side over the rounds. */
export function series(rounds: Rounds, side: string, metric: string): number[] {
  return rounds.map((r, i) => {
    const v = r[side]?.[metric];
    if (v === undefined) throw new RangeError(`round ${i + 1} has no ${metric} of ${side}`);
    return v;
  });
}
