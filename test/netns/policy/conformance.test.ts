/**
 * The conformance suite against the real dataplane: for each case, the policies are applied
 * to the lab's nftables (as a diff from the previous case, one transaction), and each expected
 * 9x9 matrix is compared with the model evaluation and with real TCP/UDP connections between
 * the pods. SCTP checks are compared with the model only: this kernel has no SCTP sockets.
 */
import test from 'ava';
import type { Protocol } from '../../../core/model.js';
import { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { reachability } from '../../../policy/evaluate/evaluate.js';
import { parsePolicyObjects } from '../../../policy/model/policy-object.js';
import { NftPolicyDataplane } from '../../../policy/nft/nft-policy-dataplane.js';
import { POLICY_TABLE } from '../../../policy/nft/nft-state.js';
import { CASES } from '../../fixtures/policy/conformance-cases.js';
import { expectedMatrix, formatMatrix, matrixDiff, worldManifests } from '../../fixtures/policy/conformance-world.js';
import { nftTables } from '../../support/netns.js';
import { kernelLacks, skipPartBecause, unlessKernelLacks } from '../../support/skip.js';
import { PolicyLab, labKernelLacks } from './policy-lab.js';

const lacks = labKernelLacks();
const noSctp = kernelLacks.sctp();
let lab: PolicyLab | undefined;
let dataplane: NftPolicyDataplane | undefined;
const compiler = new PolicyCompiler();
let current: { namespace: string; name: string }[] = [];

test.before(async () => {
  if (lacks) return;
  lab = await PolicyLab.create();
  dataplane = new NftPolicyDataplane(lab.nft);
  for (const o of parsePolicyObjects(worldManifests(lab.world))) {
    if (o.kind === 'Namespace') compiler.setNamespace(o.namespace);
    else if (o.kind === 'Pod') compiler.setPod(o.pod);
  }
});

test.after.always(async () => {
  dataplane?.clear();
  await lab?.close();
});

const run = unlessKernelLacks(test.serial, lacks);

run('the lab serves every port to every pod before any policy', async (t) => {
  const r = await lab!.probeMatrix('TCP', 80);
  t.deepEqual(r.odd, []);
  t.deepEqual(
    matrixDiff(
      expectedMatrix(() => true),
      r.matrix,
    ),
    [],
  );
});

for (const c of CASES) {
  run(`conformance: ${c.name}: ${c.title}`, async (t) => {
    // The previous case's policies go and this case's come in one transaction.
    for (const p of current) compiler.deletePolicy(p.namespace, p.name);
    const objects = parsePolicyObjects(c.policies(lab!.world));
    current = [];
    for (const o of objects) {
      if (o.kind !== 'NetworkPolicy') continue;
      compiler.setPolicy(o.policy);
      current.push(o.policy);
    }
    const ir = compiler.compile();
    const report = dataplane!.apply(ir);
    t.log(`applied: ${report.mode}, ${report.commands} commands, ${report.kernelMs.toFixed(1)} ms in libnftables`);
    for (const check of c.checks) {
      const where = `${check.port}/${check.protocol}`;
      const expected = expectedMatrix(check.expect);
      const model = reachability(ir, { protocol: check.protocol.toLowerCase() as Protocol, port: check.port });
      t.deepEqual(matrixDiff(expected, model), [], `${where}: model differs from the expected matrix\nexpected:\n${formatMatrix(expected)}\nmodel:\n${formatMatrix(model)}`);
      if (check.protocol === 'SCTP') {
        // Checked in the model above; probes need SCTP sockets.
        if (noSctp) skipPartBecause(t, `${where} probes`, noSctp);
        else t.fail(`${where}: this kernel has SCTP sockets, but the lab's agents probe TCP and UDP only (labs/policy/agent.ts)`);
        continue;
      }
      const probed = await lab!.probeMatrix(check.protocol, check.port);
      t.deepEqual(probed.odd, [], `${where}: probes failed for a reason other than the policy's reject`);
      t.deepEqual(matrixDiff(expected, probed.matrix), [], `${where}: probes differ from the expected matrix\nexpected:\n${formatMatrix(expected)}\nprobed:\n${formatMatrix(probed.matrix)}`);
    }
  });
}

run('after the last case, clearing removes the policy table and every pod is reachable again', async (t) => {
  for (const p of current) compiler.deletePolicy(p.namespace, p.name);
  current = [];
  const report = dataplane!.apply(compiler.compile());
  t.is(report.mode, 'diff');
  t.deepEqual(
    matrixDiff(
      expectedMatrix(() => true),
      (await lab!.probeMatrix('UDP', 80)).matrix,
    ),
    [],
  );
  dataplane!.clear();
  t.false(nftTables().includes(`inet ${POLICY_TABLE}`));
});
