/**
 * The benchmark charts as plain SVG text: box plots of sample distributions and x-y lines with
 * interval bars. Small on purpose: no chart library, nothing but strings.
 */
import { escapeXml as esc } from '../../labs/framework/svg.js';
import { percentile } from '../method/stats.js';

const FONT = 'font-family="sans-serif" font-size="12"';
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

const f = (x: number) => Number(x.toFixed(1)).toString();

/** Round tick values over [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" ${FONT} font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export interface BoxGroup {
  readonly label: string;
  readonly samples: readonly number[];
  /** Groups with the same colour key share a colour (e.g. the implementation). */
  readonly colorKey?: string;
}

/**
 * Horizontal box plots, one row per group: box from p25 to p75, a line at the median, whiskers
 * from p5 to p95, every sample a dot; the value axis starts at 0.
 */
export function boxPlot(title: string, unit: string, groups: readonly BoxGroup[]): string {
  const labelW = 300;
  const plotW = 460;
  const rowH = 26;
  const top = 36;
  const width = labelW + plotW + 30;
  const height = top + groups.length * rowH + 46;
  const max = Math.max(...groups.flatMap((g) => g.samples), 0) * 1.05 || 1;
  const x = (v: number) => labelW + (v / max) * plotW;
  const keys = [...new Set(groups.map((g) => g.colorKey ?? g.label))];
  const body: string[] = [];
  for (const t of ticks(0, max)) {
    body.push(`<line x1="${f(x(t))}" y1="${top - 4}" x2="${f(x(t))}" y2="${top + groups.length * rowH}" stroke="#ddd"/>`);
    body.push(`<text x="${f(x(t))}" y="${top + groups.length * rowH + 16}" text-anchor="middle" ${FONT}>${t}</text>`);
  }
  body.push(`<text x="${labelW + plotW / 2}" y="${height - 8}" text-anchor="middle" ${FONT}>${esc(unit)}</text>`);
  groups.forEach((g, i) => {
    const cy = top + i * rowH + rowH / 2;
    const color = COLORS[keys.indexOf(g.colorKey ?? g.label) % COLORS.length]!;
    body.push(`<text x="${labelW - 8}" y="${f(cy + 4)}" text-anchor="end" ${FONT}>${esc(g.label)}</text>`);
    if (g.samples.length === 0) return;
    const [p5, p25, p50, p75, p95] = [5, 25, 50, 75, 95].map((p) => x(percentile(g.samples, p))) as [number, number, number, number, number];
    body.push(`<line x1="${f(p5)}" y1="${f(cy)}" x2="${f(p95)}" y2="${f(cy)}" stroke="${color}"/>`);
    body.push(`<rect x="${f(p25)}" y="${f(cy - 8)}" width="${f(Math.max(1, p75 - p25))}" height="16" fill="${color}" fill-opacity="0.25" stroke="${color}"/>`);
    body.push(`<line x1="${f(p50)}" y1="${f(cy - 9)}" x2="${f(p50)}" y2="${f(cy + 9)}" stroke="${color}" stroke-width="2.5"/>`);
    // Dots spread over the row by their index, so equal values stay visible.
    g.samples.forEach((s, k) => body.push(`<circle cx="${f(x(s))}" cy="${f(cy - 6 + ((k * 7) % 13))}" r="1.6" fill="${color}" fill-opacity="0.6"/>`));
  });
  return frame(width, height, title, body);
}

export interface Line {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number; readonly low?: number; readonly high?: number }[];
}

/**
 * Lines over categorical x values (equally spaced, labelled with their values: policy counts
 * span decades and include 0), each point with its interval as a bar; the y axis starts at 0.
 */
export function lineChart(title: string, xLabel: string, yLabel: string, lines: readonly Line[]): string {
  const left = 70;
  const plotW = 520;
  const plotH = 260;
  const top = 40;
  const legendW = 230;
  const width = left + plotW + legendW;
  const height = top + plotH + 50;
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p.x)))].sort((a, b) => a - b);
  const max = Math.max(...lines.flatMap((l) => l.points.map((p) => p.high ?? p.y)), 0) * 1.1 || 1;
  const px = (v: number) => left + ((xs.indexOf(v) + 0.5) / xs.length) * plotW;
  const py = (v: number) => top + plotH - (v / max) * plotH;
  const body: string[] = [];
  for (const t of ticks(0, max)) {
    body.push(`<line x1="${left}" y1="${f(py(t))}" x2="${left + plotW}" y2="${f(py(t))}" stroke="#ddd"/>`);
    body.push(`<text x="${left - 6}" y="${f(py(t) + 4)}" text-anchor="end" ${FONT}>${t}</text>`);
  }
  for (const v of xs) body.push(`<text x="${f(px(v))}" y="${top + plotH + 16}" text-anchor="middle" ${FONT}>${v}</text>`);
  body.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#444"/>`);
  body.push(`<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle" ${FONT}>${esc(xLabel)}</text>`);
  body.push(`<text x="16" y="${top + plotH / 2}" text-anchor="middle" ${FONT} transform="rotate(-90 16 ${top + plotH / 2})">${esc(yLabel)}</text>`);
  lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = [...l.points].sort((a, b) => a.x - b.x);
    body.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${f(px(p.x))},${f(py(p.y))}`).join(' ')}"/>`);
    for (const p of pts) {
      if (p.low !== undefined && p.high !== undefined) body.push(`<line x1="${f(px(p.x))}" y1="${f(py(p.low))}" x2="${f(px(p.x))}" y2="${f(py(p.high))}" stroke="${color}"/>`);
      body.push(`<circle cx="${f(px(p.x))}" cy="${f(py(p.y))}" r="3" fill="${color}"/>`);
    }
    const ly = top + 10 + i * 18;
    body.push(`<rect x="${left + plotW + 14}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`);
    body.push(`<text x="${left + plotW + 32}" y="${ly + 1}" ${FONT}>${esc(l.name)}</text>`);
  });
  return frame(width, height, title, body);
}
