import test from 'ava';
import type { Protocol } from '../../../core/model.js';
import { reachability } from '../../../policy/evaluate/evaluate.js';
import { CASES } from '../../fixtures/policy/conformance-cases.js';
import { loadCase } from '../../fixtures/policy/conformance-inputs.js';
import { expectedMatrix, formatMatrix, matrixDiff, modelWorld } from '../../fixtures/policy/conformance-world.js';

test('the conformance suite has at least 30 cases with distinct names', (t) => {
  t.true(CASES.length >= 30, `${CASES.length} cases`);
  t.is(new Set(CASES.map((c) => c.name)).size, CASES.length);
});

for (const c of CASES) {
  test(`model evaluation: ${c.name}: ${c.title}`, (t) => {
    const ir = loadCase(c, modelWorld()).compile();
    for (const check of c.checks) {
      const actual = reachability(ir, { protocol: check.protocol.toLowerCase() as Protocol, port: check.port });
      const expected = expectedMatrix(check.expect);
      const diff = matrixDiff(expected, actual);
      t.deepEqual(diff, [], `${check.port}/${check.protocol}\nexpected:\n${formatMatrix(expected)}\nmodel:\n${formatMatrix(actual)}`);
    }
  });
}
