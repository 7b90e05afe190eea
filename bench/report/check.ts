/** The self-check of a benchmark's results: that it measured something, not what. */
import type { BenchResult } from '../method/result.js';

const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

/** What is wrong with a results document; empty when it holds figures that can be read. */
export function checkResult(r: BenchResult): string[] {
  const out: string[] = [];
  if (typeof r.name !== 'string' || !r.name) out.push('no name');
  if (!Array.isArray(r.comparisons) || !Array.isArray(r.figures)) return [...out, 'no comparisons or figures'];
  if (r.comparisons.length + r.figures.length === 0) out.push('neither comparisons nor figures');
  for (const c of r.comparisons) {
    if (!finite(c.ratio?.median) || !finite(c.null?.median) || !finite(c.ratio.low) || !finite(c.ratio.high)) out.push(`${c.metric}: a ratio that is not a number`);
    if (!c.ratio?.rounds?.length) out.push(`${c.metric}: no rounds`);
  }
  for (const f of r.figures) if (!finite(f.value)) out.push(`${f.name}: not a number`);
  for (const d of r.distributions ?? []) if (!d.samples.length || !d.samples.every(finite)) out.push(`${d.operation} of ${d.implementation}: no samples or samples that are not numbers`);
  return out;
}
