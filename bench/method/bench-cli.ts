/**
 * The options every benchmark takes from the runner (bench/run.ts): `--name`, under which its
 * results are filed, and `--out`, the file they are written to. A benchmark run by hand
 * without `--out` prints its lines only.
 */
import { comparisonLine, figureLine, writeResult, type BenchResult } from './result.js';

export const RESULT_OPTIONS = { name: { type: 'string' }, out: { type: 'string' } } as const;

/** Prints the comparisons and figures, writes the results when asked to; answers whether every goal was met. */
export function finish(result: BenchResult, out: string | undefined): boolean {
  console.log(`\n${result.title}`);
  for (const c of result.comparisons) console.log(`  ${c.group ? `${c.group}: ` : ''}${comparisonLine(c)}`);
  for (const f of result.figures) console.log(`  ${figureLine(f)}`);
  if (out) {
    writeResult(out, result);
    console.log(`  results in ${out}`);
  }
  return ![...result.comparisons, ...result.figures].some((x) => x.verdict === 'NOT met');
}
