/**
 * The matrix heatmap (cli/output/heatmap-svg.ts): a well-formed SVG document with one cell per
 * ordered pair, labels for rows and columns, marks for disagreements and unprobed pods, and
 * text escaped wherever it goes.
 */
import test from 'ava';
import { escapeXml, renderHeatmapSvg } from '../../../cli/output/heatmap-svg.js';

interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/giy;

/** Decodes the five named entities and numeric references; throws on a bare `&`. */
function decode(raw: string, where: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '<') throw new Error(`raw < in ${where}`);
    if (c !== '&') {
      out += c;
      continue;
    }
    ENTITY.lastIndex = i;
    const m = ENTITY.exec(raw);
    if (!m) throw new Error(`bare & in ${where}: ${raw.slice(i, i + 10)}`);
    const e = m[0];
    out +=
      e === '&amp;'
        ? '&'
        : e === '&lt;'
          ? '<'
          : e === '&gt;'
            ? '>'
            : e === '&quot;'
              ? '"'
              : e === '&apos;'
                ? "'"
                : String.fromCodePoint(Number(e.startsWith('&#x') ? `0x${e.slice(3, -1)}` : e.slice(2, -1)));
    i += e.length - 1;
  }
  return out;
}

/**
 * A strict little XML reader, enough for a generated document: one root, tags balanced,
 * attributes quoted and unique, no raw `<` or bare `&` in text or attribute values.
 */
function parseXml(doc: string): XmlElement {
  let s = doc.replace(/^<\?xml[^?]*\?>\s*/, '');
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  while (s.length) {
    const lt = s.indexOf('<');
    const text = lt === -1 ? s : s.slice(0, lt);
    stack.at(-1)!.text += decode(text, `text of <${stack.at(-1)!.name}>`);
    if (lt === -1) break;
    s = s.slice(lt);
    const close = /^<\/([A-Za-z][\w:.-]*)\s*>/.exec(s);
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== close[1]) throw new Error(`</${close[1]}> closes <${open?.name}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const tag = /^<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(s);
    if (!tag) throw new Error(`malformed markup at: ${s.slice(0, 60)}`);
    const attrs: Record<string, string> = {};
    for (const a of tag[2]!.matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      if (a[1]! in attrs) throw new Error(`attribute ${a[1]} twice on <${tag[1]}>`);
      attrs[a[1]!] = decode(a[2] ?? a[3] ?? '', `${tag[1]} @${a[1]}`);
    }
    const el: XmlElement = { name: tag[1]!, attrs, children: [], text: '' };
    stack.at(-1)!.children.push(el);
    if (!tag[3]) stack.push(el);
    s = s.slice(tag[0].length);
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  if (root.children.length !== 1 || root.text.trim() !== '') throw new Error('not exactly one root element');
  return root.children[0]!;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean): XmlElement[] {
  return [...(pred(el) ? [el] : []), ...el.children.flatMap((c) => all(c, pred))];
}

const PODS = ['x/a', 'x/b', 'y/c'];
const MODEL = {
  'x/a': { 'x/a': true, 'x/b': false, 'y/c': true },
  'x/b': { 'x/a': true, 'x/b': true, 'y/c': true },
  'y/c': { 'x/a': true, 'x/b': false, 'y/c': true },
};

test('escapeXml escapes the five characters that matter', (t) => {
  t.is(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
});

test('the model alone: a well-formed SVG, one cell per ordered pair, rows and columns labelled', (t) => {
  const svg = parseXml(renderHeatmapSvg({ pods: PODS, model: MODEL, flow: '80/TCP' }));
  t.is(svg.name, 'svg');
  t.is(svg.attrs.xmlns, 'http://www.w3.org/2000/svg');
  t.true(Number(svg.attrs.width) > 100 && Number(svg.attrs.height) > 100);
  const cells = all(svg, (e) => e.attrs.class === 'cell');
  t.is(cells.length, 9);
  const cell = (from: string, to: string) => cells.find((c) => c.attrs['data-from'] === from && c.attrs['data-to'] === to)!;
  t.is(cell('x/a', 'x/b').attrs['data-model'], 'denied');
  t.is(cell('x/b', 'x/a').attrs['data-model'], 'allowed');
  t.not(cell('x/a', 'x/b').attrs.fill, cell('x/b', 'x/a').attrs.fill, 'allowed and denied have different colours');
  // Row r, column c: cells laid out on a grid in the order of `pods`.
  t.true(Number(cell('x/a', 'y/c').attrs.x) > Number(cell('x/a', 'x/a').attrs.x));
  t.true(Number(cell('y/c', 'x/a').attrs.y) > Number(cell('x/a', 'x/a').attrs.y));
  t.deepEqual(
    all(svg, (e) => e.attrs.class === 'row-label').map((e) => e.text),
    PODS,
  );
  t.deepEqual(
    all(svg, (e) => e.attrs.class === 'col-label').map((e) => e.text),
    PODS,
  );
  t.regex(all(svg, (e) => e.attrs.class === 'title')[0]!.text, /80\/TCP/);
  const legend = all(svg, (e) => e.attrs.class === 'legend').map((g) => all(g, (e) => e.name === 'text')[0]!.text);
  t.deepEqual(legend, ['allowed', 'denied']);
  t.is(all(svg, (e) => e.attrs.class === 'mismatch').length, 0);
});

test('with probes: disagreements are hatched and outlined, unprobed pods marked, and the legend says so', (t) => {
  const probe = { 'x/a': { 'x/a': true, 'x/b': true }, 'x/b': { 'x/a': true, 'x/b': true } };
  const svg = parseXml(renderHeatmapSvg({ pods: PODS, model: MODEL, probe, flow: '81/UDP' }));
  const cells = all(svg, (e) => e.attrs.class === 'cell');
  t.is(cells.length, 9);
  const mismatched = cells.filter((c) => c.attrs['data-mismatch'] === 'true');
  t.deepEqual(
    mismatched.map((c) => `${c.attrs['data-from']}->${c.attrs['data-to']}`),
    ['x/a->x/b'],
  );
  t.is(mismatched[0]!.attrs['data-probe'], 'allowed');
  t.regex(all(mismatched[0]!, (e) => e.name === 'title')[0]!.text, /x\/a → x\/b: denied by the model, allowed by the dataplane \(DISAGREES\)/);
  const marks = all(svg, (e) => e.attrs.class === 'mismatch');
  t.is(marks.length, 1);
  t.is(marks[0]!.attrs.fill, 'url(#berth-hatch)');
  t.truthy(all(svg, (e) => e.name === 'pattern' && e.attrs.id === 'berth-hatch')[0]);
  t.is(cells.filter((c) => c.attrs['data-probe'] === 'not-probed').length, 5, 'y/c was not probed: its row and column');
  const legend = all(svg, (e) => e.attrs.class === 'legend').map((g) => all(g, (e) => e.name === 'text')[0]!.text);
  t.deepEqual(legend, ['allowed', 'denied', 'dataplane disagrees with the model (1)', 'not probed (5)']);
});

test('text is escaped: labels and the title cannot break out of the markup', (t) => {
  const evil = `n/<script>&"'`;
  const pods = ['x/a', evil];
  const model = { 'x/a': { 'x/a': true, [evil]: false }, [evil]: { 'x/a': true, [evil]: true } };
  const text = renderHeatmapSvg({ pods, model, flow: '80/TCP" onload="x' });
  t.false(text.includes('<script>'));
  t.false(text.includes('" onload="'));
  const svg = parseXml(text);
  t.deepEqual(
    all(svg, (e) => e.attrs.class === 'row-label').map((e) => e.text),
    pods,
  );
  t.is(all(svg, (e) => e.attrs.class === 'cell' && e.attrs['data-from'] === evil).length, 2);
  t.regex(all(svg, (e) => e.attrs.class === 'title')[0]!.text, /80\/TCP" onload="x/);
});

test('the XML reader of this test rejects what it should', (t) => {
  t.throws(() => parseXml('<svg><a></svg>'));
  t.throws(() => parseXml('<svg a="1" a="2"/>'));
  t.throws(() => parseXml('<svg>a & b</svg>'));
  t.throws(() => parseXml('<svg a="<"/>'));
});
