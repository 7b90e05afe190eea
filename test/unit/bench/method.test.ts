import test from 'ava';
import { compare, quietEnough, verdictOf } from '../../../bench/method/comparison.js';
import { interleave, roundOrder, series } from '../../../bench/method/rounds.js';
import { bootstrapMedianInterval, median, percentile, seededRandom, summarizeRatios } from '../../../bench/method/stats.js';
import { checkResult } from '../../../bench/report/check.js';
import { reproduce, reproductionSummary, reproductionTable } from '../../../bench/report/reproduce.js';
import { boxPlot, lineChart, ticks } from '../../../bench/report/svg.js';
import { select } from '../../../bench/run-select.js';

test('median of odd and even counts, unsorted input', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(median([7]), 7);
  t.throws(() => median([]), { instanceOf: RangeError });
});

test('nearest-rank percentiles are measured values', (t) => {
  const xs = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
  t.is(percentile(xs, 50), 50);
  t.is(percentile(xs, 95), 100);
  t.is(percentile(xs, 5), 10);
  t.is(percentile(xs, 0), 10);
});

test('the seeded generator repeats itself and stays in [0, 1)', (t) => {
  const a = seededRandom(42);
  const b = seededRandom(42);
  const xs = Array.from({ length: 1000 }, () => a());
  t.deepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b()),
  );
  t.true(xs.every((x) => x >= 0 && x < 1));
  t.true(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5) < 0.05);
});

test('median of per-round ratios with its spread and bootstrap interval, on fixed rounds', (t) => {
  const ratios = [0.9, 1.1, 1.0, 1.05, 0.95, 1.02, 0.98];
  const s = summarizeRatios(ratios);
  t.is(s.median, 1.0);
  t.deepEqual(s.rounds, ratios);
  // The spread is the rounds' range.
  t.is(s.low, 0.9);
  t.is(s.high, 1.1);
  // The 95 % interval holds the median and lies within the rounds' range.
  t.true(s.ci95.low <= s.median && s.median <= s.ci95.high);
  t.true(s.ci95.low >= 0.9 && s.ci95.high <= 1.1);
  t.true(s.ci95.low < s.ci95.high);
  // Same rounds, same interval: recorded figures can be recomputed.
  t.deepEqual(bootstrapMedianInterval(ratios), s.ci95);
  // All rounds equal: a point.
  t.deepEqual(bootstrapMedianInterval([2, 2, 2]), { low: 2, high: 2 });
});

test('the interval narrows with more rounds of the same spread', (t) => {
  const few = [0.8, 1.2, 1.0, 0.9, 1.1];
  const many = Array.from({ length: 8 }, () => few).flat();
  const a = bootstrapMedianInterval(few);
  const b = bootstrapMedianInterval(many);
  t.true(b.high - b.low < a.high - a.low);
});

test('verdicts: met, NOT met, no target, and too noisy when the null pair is off by more than 10 %', (t) => {
  t.is(verdictOf(0.4, 1.0, { atMost: 0.5 }), 'met');
  t.is(verdictOf(0.6, 1.0, { atMost: 0.5 }), 'NOT met');
  t.is(verdictOf(2.5, 0.95, { atLeast: 2 }), 'met');
  t.is(verdictOf(1.5, 1.05, { atLeast: 2 }), 'NOT met');
  t.is(verdictOf(0.4, 1.0, undefined), 'information');
  t.is(verdictOf(0.4, 1.11, { atMost: 0.5 }), 'too noisy to tell');
  t.is(verdictOf(0.4, 0.89, { atMost: 0.5 }), 'too noisy to tell');
  t.is(verdictOf(0.4, 2.0, undefined), 'too noisy to tell');
  t.true(quietEnough(1.1));
  t.true(quietEnough(0.9));
  t.false(quietEnough(1.1001));
});

test('compare: ratios per round, medians, null pair, verdict', (t) => {
  const c = compare({
    metric: 'ADD p50',
    unit: 'ms',
    better: 'lower',
    baseline: 'reference',
    candidate: 'berth',
    baselineRounds: [100, 120, 80],
    nullRounds: [102, 118, 80],
    candidateRounds: [40, 60, 40],
    target: { atMost: 0.5 },
  });
  t.is(c.baselineValue, 100);
  t.is(c.candidateValue, 40);
  t.deepEqual(c.ratio.rounds, [0.4, 0.5, 0.5]);
  t.is(c.ratio.median, 0.5);
  t.is(c.null.median, 1);
  t.is(c.verdict, 'met');
  // The case: two identical tables compared give 2 — no verdict, however good the figure.
  const noisy = compare({ ...c, baselineRounds: [3058, 3100, 3000], nullRounds: [6112, 6000, 6300], candidateRounds: [2800, 2900, 2850], metric: 'rate' });
  t.is(noisy.verdict, 'too noisy to tell');
  t.throws(() => compare({ ...c, baselineRounds: [1, 2], nullRounds: [1], candidateRounds: [1, 2] }), { instanceOf: RangeError });
});

test('rounds interleave every side and the null pair in rotating order', async (t) => {
  const log: string[] = [];
  const side = (name: string) => ({ name, measure: async (r: number) => (log.push(`${r}:${name}`), { x: r + name.length }) });
  const rounds = await interleave({ ...side('ref'), nullMeasure: async (r) => (log.push(`${r}:null`), { x: r + 100 }) }, [side('berth')], 3);
  t.is(rounds.length, 3);
  t.deepEqual(log.slice(0, 3), ['0:ref', '0:null', '0:berth']);
  t.deepEqual(log.slice(3, 6), ['1:berth', '1:null', '1:ref']);
  t.deepEqual(log.slice(6, 9), ['2:null', '2:berth', '2:ref']);
  t.deepEqual(series(rounds, 'null', 'x'), [100, 101, 102]);
  t.deepEqual(series(rounds, 'berth', 'x'), [5, 6, 7]);
  t.throws(() => series(rounds, 'other', 'x'), { instanceOf: RangeError });
  t.deepEqual(roundOrder(['a', 'b', 'c'], 2), ['b', 'c', 'a']);
  t.deepEqual(roundOrder(['a', 'b', 'c'], 3), ['a', 'c', 'b']);
  // Over a pair of rounds, each side follows each other side as often as it precedes it.
  const follows = (x: string, y: string, order: string[]) => order.indexOf(y) === order.indexOf(x) + 1;
  for (let pair = 0; pair < 6; pair += 2) {
    const [o1, o2] = [roundOrder(['ref', 'null', 'b', 'f'], pair), roundOrder(['ref', 'null', 'b', 'f'], pair + 1)];
    t.is(Number(follows('ref', 'null', o1)) + Number(follows('ref', 'null', o2)), Number(follows('null', 'ref', o1)) + Number(follows('null', 'ref', o2)));
  }
});

test('charts are SVG with one row per group and one line per series', (t) => {
  const svg = boxPlot('ADD <latency>', 'ms', [
    { label: 'ADD · reference', samples: [10, 12, 14], colorKey: 'reference' },
    { label: 'ADD · berth', samples: [3, 4, 5], colorKey: 'berth' },
  ]);
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.true(svg.includes('ADD &lt;latency&gt;'));
  t.is((svg.match(/<rect x=/g) ?? []).length, 2);
  const line = lineChart('cost', 'policies', 'µs', [
    {
      name: 'with',
      points: [
        { x: 0, y: 10, low: 9, high: 11 },
        { x: 10000, y: 12 },
      ],
    },
  ]);
  t.is((line.match(/<polyline/g) ?? []).length, 1);
  t.deepEqual(ticks(0, 10), [0, 2, 4, 6, 8, 10]);
});

test('the self-check finds results that hold no figures', (t) => {
  const base = { name: 'x', title: 'x', settings: {}, comparisons: [], figures: [], distributions: [], series: [], seconds: 1 };
  t.deepEqual(checkResult(base), ['neither comparisons nor figures']);
  t.deepEqual(checkResult({ ...base, figures: [{ name: 'rss', value: 10, unit: 'MiB', verdict: 'information' }] }), []);
  t.deepEqual(checkResult({ ...base, figures: [{ name: 'rss', value: NaN, unit: 'MiB', verdict: 'information' }] }), ['rss: not a number']);
});

test('benchmarks are selected by name or prefix; an unknown name is refused with the list', (t) => {
  t.deepEqual(
    select(['cni-bridge', 'policy']).map((b) => b.name),
    ['cni-bridge', 'policy'],
  );
  t.true(select(['cni']).every((b) => b.name.startsWith('cni-')));
  t.true(select([]).length > 5);
  t.throws(() => select(['nope']), { message: /unknown benchmark nope: the benchmarks are cni-bridge/ });
});

test('a second run is checked against the first run intervals', (t) => {
  const c = compare({
    metric: 'ADD p50',
    unit: 'ms',
    better: 'lower',
    baseline: 'ref',
    candidate: 'berth',
    baselineRounds: [100, 100, 100],
    nullRounds: [100, 101, 99],
    candidateRounds: [40, 45, 50],
  });
  const run = (comparison: typeof c) => [{ name: 'cni-bridge', title: '', settings: {}, comparisons: [comparison], figures: [], distributions: [], series: [], seconds: 1 }];
  const first = run(c);
  const [same] = reproduce(first, run(c));
  t.true(same!.within);
  t.true(same!.nullQuiet);
  const [off] = reproduce(first, run({ ...c, ratio: { ...c.ratio, median: 0.7 }, null: { ...c.null, median: 1.2 } }));
  t.false(off!.within);
  t.false(off!.nullQuiet);
  t.regex(reproductionTable([same!, off!]), /\| cni-bridge \| ADD p50 \| berth \| {2}\| 0\.450 \[0\.400\.\.0\.500\] \| 0\.700 \| no \| 1\.200 \(too noisy\) \|/);
  // A ratio with a target is a headline one; the summary counts those apart.
  const targeted = { ...c, target: { atMost: 0.5 } };
  const [headline] = reproduce(run(targeted), run(targeted));
  t.true(headline!.headline);
  t.false(same!.headline);
  t.is(
    reproductionSummary([headline!, same!, off!]),
    "Headline ratios (those with a target) inside the earlier run's rounds (min..max): 1 of 1; all ratios: 2 of 3; null pairs of this run within 10 % of 1: 2 of 3.",
  );
});
