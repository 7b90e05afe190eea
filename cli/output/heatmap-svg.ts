/**
 * The reachability matrix as an SVG heatmap (`berth policy matrix --svg FILE`): rows are the
 * source pods, columns the destinations, each cell coloured allowed or denied by the model.
 * When probes were run, a cell where the dataplane disagrees is hatched and outlined, and a
 * pod that could not be probed gets a dotted cell; the legend lists only what the picture uses.
 *
 * Plain string building, no dependency: the document is small and fixed in shape. Every piece
 * of text goes through `escapeXml`, so a label can never end an attribute or open a tag.
 * Colours are a blue/orange pair, which stays readable for red-green colour blindness.
 */

export interface HeatmapInput {
  /** Row and column order (`ns/pod`). */
  readonly pods: readonly string[];
  /** The model: from → to → allowed. */
  readonly model: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
  /** Measured reachability; a pair missing from it was not probed. Undefined: no probes. */
  readonly probe?: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
  /** `80/TCP`. */
  readonly flow: string;
}

const CELL = 28;
const FONT = 12;
/** Width of one character of the monospace labels, a little generous. */
const CHAR = 7.4;
const PAD = 12;
const COLOURS = { allowed: '#3b78b5', denied: '#e8833a', unprobed: '#ffffff', mismatch: '#111111', grid: '#ffffff' } as const;

/** Escapes text for XML content and for double- or single-quoted attributes. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function attrs(values: Readonly<Record<string, string | number>>): string {
  return Object.entries(values)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
}

function el(name: string, values: Readonly<Record<string, string | number>>, content?: string): string {
  return content === undefined ? `<${name}${attrs(values)}/>` : `<${name}${attrs(values)}>${content}</${name}>`;
}

const verdict = (allowed: boolean) => (allowed ? 'allowed' : 'denied');

/** Renders the heatmap as a standalone SVG document. */
export function renderHeatmapSvg(input: HeatmapInput): string {
  const { pods, model, probe } = input;
  const longest = Math.max(4, ...pods.map((p) => p.length));
  const title = `Reachability ${input.flow}: rows from, columns to${probe ? ' (model; probes mark disagreements)' : ' (model)'}`;
  const left = PAD + longest * CHAR + 8;
  const top = PAD + FONT * 2 + 8 + longest * CHAR + 8;
  const gridSize = pods.length * CELL;

  const cells: string[] = [];
  let mismatches = 0;
  let unprobed = 0;
  pods.forEach((from, r) => {
    pods.forEach((to, c) => {
      const m = model[from]?.[to] ?? false;
      const p = probe?.[from]?.[to];
      const x = left + c * CELL;
      const y = top + r * CELL;
      const data: Record<string, string | number> = {
        class: 'cell',
        x,
        y,
        width: CELL,
        height: CELL,
        fill: COLOURS[verdict(m)],
        stroke: COLOURS.grid,
        'data-from': from,
        'data-to': to,
        'data-model': verdict(m),
      };
      let tip = `${from} → ${to}: ${verdict(m)} by the model`;
      let mark = '';
      if (probe) {
        if (p === undefined) {
          unprobed++;
          data['data-probe'] = 'not-probed';
          tip += ', not probed';
          mark = el('rect', { class: 'unprobed', x: x + 4, y: y + 4, width: CELL - 8, height: CELL - 8, fill: 'none', stroke: COLOURS.unprobed, 'stroke-dasharray': '2 2' });
        } else {
          data['data-probe'] = verdict(p);
          tip += `, ${verdict(p)} by the dataplane`;
          if (p !== m) {
            mismatches++;
            data['data-mismatch'] = 'true';
            tip += ' (DISAGREES)';
            mark = el('rect', { class: 'mismatch', x: x + 1.5, y: y + 1.5, width: CELL - 3, height: CELL - 3, fill: 'url(#berth-hatch)', stroke: COLOURS.mismatch, 'stroke-width': 3 });
          }
        }
      }
      cells.push(`${el('rect', data, el('title', {}, escapeXml(tip)))}${mark}`);
    });
  });

  const rowLabels = pods.map((p, r) => el('text', { class: 'row-label', x: left - 6, y: top + r * CELL + CELL / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, escapeXml(p)));
  const colLabels = pods.map((p, c) => {
    const x = left + c * CELL + CELL / 2;
    const y = top - 6;
    return el('text', { class: 'col-label', x, y, transform: `rotate(-90 ${x} ${y})`, 'text-anchor': 'start', 'dominant-baseline': 'middle' }, escapeXml(p));
  });

  // The legend: what each mark means, only for the marks that appear.
  const legendItems: { swatch: string; text: string }[] = [
    { swatch: el('rect', { width: 14, height: 14, fill: COLOURS.allowed }), text: 'allowed' },
    { swatch: el('rect', { width: 14, height: 14, fill: COLOURS.denied }), text: 'denied' },
  ];
  if (probe && mismatches > 0)
    legendItems.push({
      swatch: el('rect', { x: 1, y: 1, width: 12, height: 12, fill: 'url(#berth-hatch)', stroke: COLOURS.mismatch, 'stroke-width': 2 }),
      text: `dataplane disagrees with the model (${mismatches})`,
    });
  if (probe && unprobed > 0)
    legendItems.push({ swatch: el('rect', { width: 14, height: 14, fill: COLOURS.denied, stroke: COLOURS.unprobed, 'stroke-dasharray': '2 2' }), text: `not probed (${unprobed})` });
  if (probe && mismatches === 0) legendItems.push({ swatch: '', text: 'the dataplane agrees with the model everywhere it was probed' });
  const legendTop = top + gridSize + 16;
  const legend = legendItems.map((item, i) => {
    const y = legendTop + i * 20;
    return el('g', { class: 'legend', transform: `translate(${PAD} ${y})` }, `${item.swatch}${el('text', { x: item.swatch ? 20 : 0, y: 7, 'dominant-baseline': 'middle' }, escapeXml(item.text))}`);
  });

  const width = Math.ceil(Math.max(left + gridSize + PAD, PAD * 2 + Math.max(title.length * CHAR * 1.2, 20 + Math.max(...legendItems.map((i) => i.text.length)) * CHAR)));
  const height = Math.ceil(legendTop + legendItems.length * 20 + PAD);
  const defs = `<defs><pattern id="berth-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="none"/><line x1="0" y1="0" x2="0" y2="6" stroke="${COLOURS.mismatch}" stroke-width="2"/></pattern></defs>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg"${attrs({ width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'monospace', 'font-size': FONT })}>`,
    el('title', {}, escapeXml(title)),
    defs,
    el('rect', { width, height, fill: '#ffffff' }),
    el('text', { class: 'title', x: PAD, y: PAD + FONT, 'font-size': FONT + 2, 'font-weight': 'bold' }, escapeXml(title)),
    ...rowLabels,
    ...colLabels,
    ...cells,
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
