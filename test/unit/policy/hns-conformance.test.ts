/**
 * HNS output for every conformance case: golden JSON per case (the ModifyEndpointSettingRequest
 * per endpoint), all of it checked by hnscheck against hcsshim's structs (field names, enums,
 * protocol and port lists), and the ACLs simulated to give the case's expected matrices.
 * BERTH_UPDATE_GOLDEN=1 rewrites the golden files.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { expectGolden } from '../../support/golden.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modifyEndpointRequest, renderHnsAcls } from '../../../policy/hns/render-hns.js';
import { CASES } from '../../fixtures/policy/conformance-cases.js';
import { loadCase } from '../../fixtures/policy/conformance-inputs.js';
import { POD_KEYS, expectedMatrix, formatMatrix, matrixDiff, modelWorld } from '../../fixtures/policy/conformance-world.js';
import { hnscheck } from '../../support/hnscheck.js';
import { ROOT } from '../../support/netns.js';
import { hnsAllows } from './hns-acl-simulator.js';

const GOLDEN = join(ROOT, 'test', 'fixtures', 'policy', 'hns');
const w = modelWorld();

function documentsOf(name: string): Record<string, unknown> {
  const c = CASES.find((x) => x.name === name)!;
  const acls = renderHnsAcls(loadCase(c, w).compile(), { hostAddresses: ['10.210.0.1'] });
  return Object.fromEntries(acls.map((e) => [e.pod, modifyEndpointRequest(e)]));
}

for (const c of CASES) {
  test(`HNS ACLs: ${c.name}: golden file and simulated matrices`, (t) => {
    const acls = renderHnsAcls(loadCase(c, w).compile(), { hostAddresses: ['10.210.0.1'] });
    const docs = documentsOf(c.name);
    const file = join(GOLDEN, `${c.name}.json`);
    const text = `${JSON.stringify(docs, null, 2)}\n`;
    expectGolden(t, file, text);
    for (const check of c.checks) {
      const actual: Record<string, Record<string, boolean>> = {};
      for (const f of POD_KEYS) {
        actual[f] = {};
        for (const to of POD_KEYS) actual[f]![to] = hnsAllows(acls, (p) => w.ip(p), f, to, check.protocol, check.port);
      }
      const expected = expectedMatrix(check.expect);
      t.deepEqual(matrixDiff(expected, actual), [], `${check.port}/${check.protocol}\nexpected:\n${formatMatrix(expected)}\nHNS ACLs:\n${formatMatrix(actual)}`);
    }
  });
}

test('hnscheck accepts every request of every case as ModifyEndpointSettingRequest', (t) => {
  const where: string[] = [];
  const all: unknown[] = [];
  for (const c of CASES) {
    for (const [pod, doc] of Object.entries(documentsOf(c.name))) {
      where.push(`${c.name} ${pod}`);
      all.push(doc);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'berth-hns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'requests.json');
  writeFileSync(file, JSON.stringify(all));
  const r = hnscheck('[]ModifyEndpointSettingRequest', file);
  // hnscheck names `$[i]...`; say which case and endpoint that is.
  const report = r.stdout.replace(/\$\[(\d+)\]/g, (_m, i: string) => `${where[Number(i)]}: $`);
  t.is(r.status, 0, report);
  t.is(r.stdout.trim(), 'ok');
  t.true(all.length > 40, `${all.length} endpoint documents checked`);
});
