/**
 * NftPolicyDataplane against the kernel (the test run's own namespace, a table of its own):
 * invalid input applies nothing, a restarted agent rewrites the table to the very same
 * ruleset, and a table changed behind berth's back is rewritten whole on the next apply.
 */
import test from 'ava';
import { InvalidObjectError, KernelError } from '../../../core/errors.js';
import { openNftables } from '../../../dataplane/linux/index.js';
import type { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { parsePolicyObjects } from '../../../policy/model/policy-object.js';
import { NftPolicyDataplane } from '../../../policy/nft/nft-policy-dataplane.js';
import { countObjects } from '../../../policy/nft/nft-state.js';
import { CASES, netpol } from '../../fixtures/policy/conformance-cases.js';
import { loadCase } from '../../fixtures/policy/conformance-inputs.js';
import { modelWorld } from '../../fixtures/policy/conformance-world.js';
import { nftTables } from '../../support/netns.js';

const TABLE = 'berth-policy-test';

/**
 * The table's listing without handles, and sorted: equal rulesets list their objects in
 * creation order, with different handles. The order of rules inside a chain is kept.
 */
function listing(): string {
  const items = openNftables().list(`table inet ${TABLE}`);
  const texts = items.filter((i) => !('metainfo' in i)).map((i) => JSON.stringify(i, (k, v: unknown) => (k === 'handle' ? undefined : v)));
  const rules = texts.filter((x) => x.startsWith('{"rule"'));
  return JSON.stringify([...texts.filter((x) => !x.startsWith('{"rule"')).sort(), ...rules.sort((a, b) => chainOf(a).localeCompare(chainOf(b)))]);
}

function chainOf(ruleText: string): string {
  return (JSON.parse(ruleText) as { rule: { chain: string } }).rule.chain;
}

function setup(t: { teardown: (fn: () => void) => void }): { compiler: PolicyCompiler; dataplane: NftPolicyDataplane } {
  const dataplane = new NftPolicyDataplane(openNftables(), { table: TABLE });
  t.teardown(() => dataplane.clear());
  const compiler = loadCase(CASES.find((c) => c.name === 'ip-block-except-additive')!, modelWorld());
  return { compiler, dataplane };
}

test.serial('a batch with one invalid document is refused before anything is applied', (t) => {
  const { compiler, dataplane } = setup(t);
  dataplane.apply(compiler.compile());
  const before = listing();
  const good = netpol('x', 'port-81', { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] });
  const bad = netpol('x', 'bad', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/40' } }] }] });
  const err = t.throws(() => {
    for (const o of parsePolicyObjects([good, bad])) if (o.kind === 'NetworkPolicy') compiler.setPolicy(o.policy);
    dataplane.apply(compiler.compile());
  }, { instanceOf: InvalidObjectError });
  t.regex(err?.message ?? '', /document 2: NetworkPolicy.networking.k8s.io "bad" is invalid: spec.ingress\[0\].from\[0\].ipBlock.cidr: Invalid value: "10.0.0.0\/40": not a valid CIDR/);
  t.false(compiler.policies.some((p) => p.name === 'port-81'), 'the valid document of the batch was not taken either');
  t.is(dataplane.apply(compiler.compile()).mode, 'none');
  t.is(listing(), before, 'the kernel table is unchanged');
});

test.serial('a restarted dataplane rewrites the table in one transaction, to the same ruleset', (t) => {
  const { compiler, dataplane } = setup(t);
  dataplane.apply(compiler.compile());
  // Reach the state through a series of diffs.
  const modes = new Set<string>();
  for (const c of CASES.slice(5, 15)) {
    for (const o of parsePolicyObjects(c.policies(modelWorld()))) if (o.kind === 'NetworkPolicy') compiler.setPolicy(o.policy);
    modes.add(dataplane.apply(compiler.compile()).mode);
  }
  t.deepEqual([...modes].sort(), ['diff', 'none'], 'diffs, and no transaction when a case repeats a policy');
  const incremental = listing();
  const restarted = new NftPolicyDataplane(openNftables(), { table: TABLE });
  const report = restarted.apply(compiler.compile());
  t.is(report.mode, 'replace');
  t.is(listing(), incremental);
  t.true(countObjects(restarted.applied!).total > 50);
});

test.serial('a table changed behind berth\'s back: the apply fails and changes nothing, the next one rewrites it whole', (t) => {
  const { compiler, dataplane } = setup(t);
  dataplane.apply(compiler.compile());
  openNftables().run([{ delete: { table: { family: 'inet', name: TABLE } } }]);
  compiler.deletePolicy('x', 'from-y-b');
  t.throws(() => dataplane.apply(compiler.compile()), { instanceOf: KernelError });
  t.false(nftTables().includes(`inet ${TABLE}`), 'the failed transaction created nothing');
  t.is(dataplane.applied, undefined);
  t.is(dataplane.apply(compiler.compile()).mode, 'replace');
  t.true(nftTables().includes(`inet ${TABLE}`));
  dataplane.clear();
  dataplane.clear();
  t.false(nftTables().includes(`inet ${TABLE}`), 'clear() is idempotent');
});
