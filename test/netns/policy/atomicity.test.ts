/**
 * Atomicity: a loop replaces one policy by another 200 times (different names, so each step
 * deletes one policy and adds the other) while pods probe continuously. Flows that both
 * policies deny must never get through (a non-atomic change would leave x/a unisolated for a
 * moment), and flows that both allow must never be refused.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { parseNetworkPolicy } from '../../../policy/model/network-policy.js';
import { parsePolicyObjects } from '../../../policy/model/policy-object.js';
import { NftPolicyDataplane } from '../../../policy/nft/nft-policy-dataplane.js';
import { netpol } from '../../fixtures/policy/conformance-cases.js';
import { worldManifests } from '../../fixtures/policy/conformance-world.js';
import { unlessKernelLacks } from '../../support/skip.js';
import { PolicyLab, labKernelLacks } from './policy-lab.js';

const run = unlessKernelLacks(test.serial, labKernelLacks());

const ns = (name: string) => ({ namespaceSelector: { matchLabels: { ns: name } } });
/** x/a: in from y, out to y. */
const alpha = parseNetworkPolicy(netpol('x', 'alpha', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [ns('y')] }], egress: [{ to: [ns('y')] }] }));
/** x/a: in from y or z, out to y or z. */
const beta = parseNetworkPolicy(
  netpol('x', 'beta', { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [ns('y'), ns('z')] }], egress: [{ to: [ns('y'), ns('z')] }] }),
);

run('200 policy replacements under continuous probes: never a denied flow through, never an allowed flow refused', async (t) => {
  const lab = await PolicyLab.create();
  const dataplane = new NftPolicyDataplane(lab.nft);
  t.teardown(async () => {
    dataplane.clear();
    await lab.close();
  });
  const compiler = new PolicyCompiler();
  for (const o of parsePolicyObjects(worldManifests(lab.world))) {
    if (o.kind === 'Namespace') compiler.setNamespace(o.namespace);
    else if (o.kind === 'Pod') compiler.setPod(o.pod);
  }
  compiler.setPolicy(alpha);
  dataplane.apply(compiler.compile());

  const loop = (from: string, to: string, protocol: 'TCP' | 'UDP', port: number) => lab.loop(from, to, protocol, port, 2000);
  const denied = [loop('x/b', 'x/a', 'TCP', 80), loop('x/c', 'x/a', 'UDP', 81), loop('x/a', 'x/c', 'TCP', 81), loop('x/a', 'x/b', 'UDP', 80)];
  const allowed = [loop('y/a', 'x/a', 'TCP', 80), loop('x/a', 'y/b', 'UDP', 80), loop('y/c', 'x/a', 'UDP', 81)];
  const flipping = [loop('z/a', 'x/a', 'TCP', 81)];
  await sleep(100);
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const [out, into] = i % 2 === 0 ? [alpha, beta] : [beta, alpha];
    compiler.deletePolicy(out.namespace, out.name);
    compiler.setPolicy(into);
    const start = performance.now();
    const report = dataplane.apply(compiler.compile());
    times.push(performance.now() - start);
    t.is(report.mode, 'diff');
    // Let the probes run between changes as well as during them.
    await sleep(2);
  }
  await sleep(100);
  const d = await Promise.all(denied.map((stop) => stop()));
  const a = await Promise.all(allowed.map((stop) => stop()));
  const f = await Promise.all(flipping.map((stop) => stop()));
  times.sort((x, y) => x - y);
  t.log(`apply: median ${times[100]!.toFixed(2)} ms, max ${times[199]!.toFixed(2)} ms`);
  t.log(`denied flows: ${d.map((r) => `${r.successes} through / ${r.failures} refused`).join(', ')}`);
  t.log(`allowed flows: ${a.map((r) => `${r.successes} through / ${r.failures} not (${JSON.stringify(r.errors)})`).join(', ')}`);
  t.log(`flipping flow z/a -> x/a: ${f[0]!.successes} through / ${f[0]!.failures} refused`);
  for (const r of d) {
    t.is(r.successes, 0, 'a flow that both policies deny got through');
    t.true(r.failures > 100, 'the denied flows were probed throughout');
  }
  for (const r of a) {
    // A refusal is the policy's reject; a timeout (no answer in 2 s) is a loaded machine, not a verdict.
    const refused = Object.entries(r.errors).filter(([code]) => code !== 'timeout');
    t.deepEqual(refused, [], `a flow that both policies allow was refused: ${JSON.stringify(r.errors)}`);
    t.true(r.successes > 100, 'the allowed flows were probed throughout');
  }
  t.true(f[0]!.successes > 0 && f[0]!.failures > 0, 'the flow that one policy allows went both ways');
});
