/**
 * Which charts a run draws: per benchmark and unit, a box plot of its sample distributions
 * (latency per operation and implementation, throughput per round); per named chart, the
 * lines of its series (CPU per connection against the number of policies).
 */
import type { BenchResult, Series } from '../method/result.js';
import { boxPlot, lineChart } from './svg.js';

export interface Chart {
  /** Relative to the results folder. */
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

export function chartsOf(results: readonly BenchResult[]): Chart[] {
  const charts: Chart[] = [];
  for (const r of results) {
    const units = [...new Set(r.distributions.map((d) => d.unit))];
    for (const unit of units) {
      const ds = r.distributions.filter((d) => d.unit === unit);
      const title = `${r.title} (${unit})`;
      const groups = ds.map((d) => ({ label: `${d.operation} · ${d.implementation}`, samples: d.samples, colorKey: d.implementation }));
      charts.push({ file: `charts/${r.name}-${slug(unit)}.svg`, title, svg: boxPlot(title, unit, groups) });
    }
  }
  const byChart = new Map<string, Series[]>();
  for (const s of results.flatMap((r) => r.series)) byChart.set(s.chart, [...(byChart.get(s.chart) ?? []), s]);
  for (const [chart, lines] of byChart) charts.push({ file: `charts/${slug(chart)}.svg`, title: chart, svg: lineChart(chart, lines[0]!.x, lines[0]!.y, lines) });
  return charts;
}
