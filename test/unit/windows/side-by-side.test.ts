/**
 * berth's Windows documents beside what Microsoft's components (HCN v2) and Docker's Windows
 * drivers (HNS v1) produce for the same input (test/fixtures/windows/side-by-side*.ts, written
 * down from their source): compared field by field, every field equal except the listed
 * differences, each with its reason, and those really differ. Both sides are held to hnscheck;
 * where the reference as its source sends it is not what hcsshim's structs say, the test states
 * what hnscheck finds.
 */
import test from 'ava';
import { renderWindows } from '../../../cli/commands/render.js';
import { DOCKER_SIDE_BY_SIDE } from '../../fixtures/windows/side-by-side-docker.js';
import { SIDE_BY_SIDE, type SideBySide } from '../../fixtures/windows/side-by-side.js';
import { hnscheck } from '../../support/hnscheck.js';

/** Every leaf of `v` by JSON path ($.a.b[0].c). Empty objects are leaves. */
function leaves(v: unknown, path = '$', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(v)) v.forEach((x, i) => leaves(x, `${path}[${i}]`, out));
  else if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) leaves(x, `${path}.${k}`, out);
  else out.set(path, v);
  return out;
}

const CHECKED_AS = {
  v2: { network: 'HostComputeNetwork', endpoint: 'HostComputeEndpoint', remoteEndpoints: '[]HostComputeEndpoint' },
  v1: { network: 'HNSNetwork', endpoint: 'HNSEndpoint', remoteEndpoints: '[]HNSEndpoint' },
} as const;
type Key = keyof (typeof CHECKED_AS)['v2'];

/** The documents to compare: the reference's keys, endpoint policies sorted by Type when the case says so. */
function comparable(c: SideBySide, docs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(c.reference)) {
    const doc = structuredClone(docs[key]);
    if (c.policiesByType && key === 'endpoint' && doc && typeof doc === 'object') {
      const e = doc as { Policies?: { Type: string }[] };
      e.Policies?.sort((a, b) => (a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0));
    }
    out[key] = doc;
  }
  return out;
}

for (const c of [...SIDE_BY_SIDE, ...DOCKER_SIDE_BY_SIDE]) {
  test(`${c.name}: berth's documents field by field against ${c.source.split(',')[0]}`, async (t) => {
    const berth = (await renderWindows(c.argv)) as Record<string, unknown>;
    const mine = leaves(comparable(c, berth));
    const theirs = leaves(comparable(c, c.reference));
    const paths = [...new Set([...mine.keys(), ...theirs.keys()])].filter((p) => mine.get(p) !== undefined || theirs.get(p) !== undefined);
    const unexplained: string[] = [];
    const same: string[] = [];
    for (const p of paths) {
      const equal = JSON.stringify(mine.get(p)) === JSON.stringify(theirs.get(p));
      if (equal && c.differences[p]) unexplained.push(`${p}: listed as a difference, but equal (${JSON.stringify(mine.get(p))})`);
      if (!equal && !c.differences[p]) unexplained.push(`${p}: berth ${JSON.stringify(mine.get(p))}, reference ${JSON.stringify(theirs.get(p))}`);
      if (equal) same.push(p);
    }
    for (const p of Object.keys(c.differences)) if (!paths.includes(p)) unexplained.push(`${p}: listed as a difference, but neither side has it`);
    t.deepEqual(unexplained, []);
    t.true(same.length >= 8, `${same.length} fields equal`);
    const types = CHECKED_AS[c.schema ?? 'v2'];
    for (const key of Object.keys(c.reference) as Key[]) {
      const mineChecked = hnscheck(types[key], '-', JSON.stringify(berth[key]));
      t.is(mineChecked.stdout.trim(), 'ok', `berth ${key}: ${mineChecked.stdout}`);
      const r = hnscheck(types[key], '-', JSON.stringify(c.reference[key]));
      const problem = c.referenceProblems?.[key];
      if (problem) {
        t.is(r.status, 1, `reference ${key}: hnscheck was expected to refuse it`);
        t.regex(r.stdout, problem);
      } else t.is(r.stdout.trim(), 'ok', `reference ${key}: ${r.stdout}`);
    }
  });
}
