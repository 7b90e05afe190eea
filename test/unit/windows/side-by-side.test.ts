/**
 * berth's Windows documents beside what Microsoft's components produce for the same input
 * (test/fixtures/windows/side-by-side.ts, written down from their source): compared field by
 * field, every field equal except the listed differences, each with its reason, and those
 * really differ. Both sides pass hnscheck.
 */
import test from 'ava';
import { renderWindows } from '../../../cli/commands/render.js';
import { SIDE_BY_SIDE } from '../../fixtures/windows/side-by-side.js';
import { hnscheck } from '../../support/hnscheck.js';

/** Every leaf of `v` by JSON path ($.a.b[0].c). Empty objects are leaves. */
function leaves(v: unknown, path = '$', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) leaves(x, `${path}.${k}`, out);
  else out.set(path, v);
  return out;
}

for (const c of SIDE_BY_SIDE) {
  test(`${c.name}: berth's documents field by field against ${c.source.split(',')[0]}`, async (t) => {
    const berth = (await renderWindows(c.argv)) as Record<string, unknown>;
    const mine = leaves({ network: c.reference.network === undefined ? undefined : berth.network, endpoint: berth.endpoint });
    const theirs = leaves(c.reference);
    const paths = [...new Set([...mine.keys(), ...theirs.keys()])].filter((p) => mine.get(p) !== undefined || theirs.get(p) !== undefined);
    const unexplained: string[] = [];
    const same: string[] = [];
    for (const p of paths) {
      const equal = JSON.stringify(mine.get(p)) === JSON.stringify(theirs.get(p));
      if (equal && c.differences[p]) unexplained.push(`${p}: listed as a difference, but equal (${JSON.stringify(mine.get(p))})`);
      if (!equal && !c.differences[p]) unexplained.push(`${p}: berth ${JSON.stringify(mine.get(p))}, reference ${JSON.stringify(theirs.get(p))}`);
      if (equal) same.push(p);
    }
    t.deepEqual(unexplained, []);
    t.true(same.length >= 10, `${same.length} fields equal`);
    for (const [key, type] of [
      ['network', 'HostComputeNetwork'],
      ['endpoint', 'HostComputeEndpoint'],
    ] as const) {
      const doc = c.reference[key];
      if (doc === undefined) continue;
      const r = hnscheck(type, '-', JSON.stringify(doc));
      t.is(r.stdout.trim(), 'ok', `reference ${key}: ${r.stdout}`);
    }
  });
}
