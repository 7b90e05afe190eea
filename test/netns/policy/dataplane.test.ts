/**
 * NftPolicyDataplane against the kernel (the test run's own namespace, a table of its own):
 * invalid input applies nothing, a change never touches the copy in force, a restarted agent
 * rewrites the table to the very same ruleset and sweeps what an earlier one left, and a table
 * changed behind berth's back is rewritten whole on the next apply.
 */
import test from 'ava';
import { InvalidObjectError, KernelError } from '../../../core/errors.js';
import { openNftables } from '../../../dataplane/linux/index.js';
import type { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { parsePolicyObjects } from '../../../policy/model/policy-object.js';
import { NftPolicyDataplane, type PolicyDataplaneOptions } from '../../../policy/nft/nft-policy-dataplane.js';
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

/**
 * The listing of what is in force: the base chains, the guard sets and the copy the base
 * chains dispatch into, with the copy's prefix taken off (the other copy is left out).
 */
function inForce(): string {
  const items = JSON.parse(listing()) as string[];
  const active = /"@([ab])_/.exec(items.filter((x) => x.startsWith('{"rule"') && /"chain":"(egress|ingress)"/.test(x)).join(''))![1]!;
  const shared = /"(name|chain)":"(egress|ingress|guard4|guard6)"/;
  const mine = new RegExp(`"(name|chain)":"${active}_`);
  return JSON.stringify(items.filter((x) => x.startsWith('{"table"') || shared.test(x) || mine.test(x)).map((x) => x.replaceAll(`"${active}_`, '"').replaceAll(`"@${active}_`, '"@')));
}

/** The names of the table's chains, sets and maps. */
function objectNames(): string[] {
  const items = openNftables().list(`table inet ${TABLE}`) as Record<string, { name?: string }>[];
  return items.flatMap((i) => (i.chain?.name ?? i.set?.name ?? i.map?.name ?? []) as string[]).sort();
}

function setup(t: { teardown: (fn: () => void) => void }, options: PolicyDataplaneOptions = {}): { compiler: PolicyCompiler; dataplane: NftPolicyDataplane } {
  const dataplane = new NftPolicyDataplane(openNftables(), { table: TABLE, ...options });
  t.teardown(() => dataplane.clear());
  const compiler = loadCase(
    CASES.find((c) => c.name === 'ip-block-except-additive')!,
    modelWorld(),
  );
  return { compiler, dataplane };
}

test.serial('a batch with one invalid document is refused before anything is applied', (t) => {
  const { compiler, dataplane } = setup(t);
  dataplane.apply(compiler.compile());
  const before = listing();
  const good = netpol('x', 'port-81', { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] });
  const bad = netpol('x', 'bad', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/40' } }] }] });
  const err = t.throws(
    () => {
      for (const o of parsePolicyObjects([good, bad])) if (o.kind === 'NetworkPolicy') compiler.setPolicy(o.policy);
      dataplane.apply(compiler.compile());
    },
    { instanceOf: InvalidObjectError },
  );
  t.regex(err?.message ?? '', /document 2: NetworkPolicy.networking.k8s.io "bad" is invalid: spec.ingress\[0\].from\[0\].ipBlock.cidr: Invalid value: "10.0.0.0\/40": not a valid CIDR/);
  t.false(
    compiler.policies.some((p) => p.name === 'port-81'),
    'the valid document of the batch was not taken either',
  );
  t.is(dataplane.apply(compiler.compile()).mode, 'none');
  t.is(listing(), before, 'the kernel table is unchanged');
});

test.serial('a change rewrites the copy not in force and switches to it; the copy in force is never touched', (t) => {
  const { compiler, dataplane } = setup(t);
  dataplane.apply(compiler.compile());
  const inForceCopy = () => /"@([ab])_/.exec(JSON.stringify([...dataplane.applied!.chains.values()].filter((c) => c.base)))![1]!;
  let changes = 0;
  for (const c of CASES.slice(5, 12)) {
    const inUse = inForceCopy();
    for (const o of parsePolicyObjects(c.policies(modelWorld()))) if (o.kind === 'NetworkPolicy') compiler.setPolicy(o.policy);
    const plan = JSON.stringify(dataplane.plan(compiler.compile()));
    // A case may repeat a policy already applied: no change, no transaction.
    if (plan === '[]') continue;
    changes++;
    t.false(new RegExp(`"(name|chain)":"${inUse}_`).test(plan), `the plan leaves copy ${inUse} alone: ${plan.slice(0, 300)}`);
    t.is(dataplane.apply(compiler.compile()).mode, 'diff');
    t.not(inForceCopy(), inUse);
  }
  t.true(changes >= 4);
});

test.serial('with warmStandby (berthd), the install also writes the copy not in force, and the first change is a diff of it', (t) => {
  const { compiler, dataplane } = setup(t, { warmStandby: true });
  // Enough policies that one more is a small part of the table.
  const many = Array.from({ length: 15 }, (_, i) => netpol('y', `port-${1000 + i}`, { podSelector: {}, ingress: [{ ports: [{ port: 1000 + i }] }] }));
  for (const o of parsePolicyObjects(many)) if (o.kind === 'NetworkPolicy') compiler.setPolicy(o.policy);
  t.is(dataplane.apply(compiler.compile()).mode, 'replace');
  // Both copies are there, each the same content under its own prefix.
  const names = objectNames();
  const copy = (p: string) => names.filter((n) => n.startsWith(`${p}_`)).map((n) => n.slice(2));
  t.true(copy('a').length >= 3, names.join(' '));
  t.deepEqual(copy('a'), copy('b'));
  const cold = new NftPolicyDataplane(openNftables(), { table: `${TABLE}-cold` });
  t.teardown(() => cold.clear());
  cold.apply(compiler.compile());
  for (const o of parsePolicyObjects([netpol('x', 'port-81', { podSelector: {}, ingress: [{ ports: [{ port: 81 }] }] })])) if (o.kind === 'NetworkPolicy') compiler.setPolicy(o.policy);
  const ir = compiler.compile();
  const warmPlan = dataplane.plan(ir).length;
  const coldPlan = cold.plan(ir).length;
  // Without the warm copy the first change writes a whole copy; with it, what changed.
  t.true(warmPlan * 2 < coldPlan, `${warmPlan} commands with the standby copy written, ${coldPlan} without`);
  t.is(dataplane.apply(ir).mode, 'diff');
  t.is(
    inForce(),
    (() => {
      // The same content as a fresh dataplane writes for that IR.
      const fresh = new NftPolicyDataplane(openNftables(), { table: TABLE });
      fresh.apply(ir);
      return inForce();
    })(),
  );
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
  const incremental = inForce();
  const restarted = new NftPolicyDataplane(openNftables(), { table: TABLE });
  const report = restarted.apply(compiler.compile());
  t.is(report.mode, 'replace');
  t.is(inForce(), incremental);
  t.true(countObjects(restarted.applied!).total > 50);
  // The copy the earlier dataplane had left standing is gone: one copy and the shared objects remain.
  t.deepEqual(objectNames(), [...restarted.applied!.chains.keys(), ...restarted.applied!.sets.keys()].sort());
});

test.serial('a first apply sweeps what an older layout left in the table and keeps the pods the drivers closed', (t) => {
  const { compiler, dataplane } = setup(t);
  const T = { family: 'inet', table: TABLE } as const;
  openNftables().run([
    { add: { table: { family: 'inet', name: TABLE } } },
    { add: { set: { ...T, name: 'guard4', type: 'ipv4_addr' } } },
    { add: { element: { ...T, name: 'guard4', elem: ['10.9.9.9'] } } },
    { add: { set: { ...T, name: 'ps_old_4', type: 'ipv4_addr' } } },
    { add: { map: { ...T, name: 'ingress4', type: 'ipv4_addr', map: 'verdict' } } },
    { add: { chain: { ...T, name: 'pi_old' } } },
    { add: { rule: { ...T, chain: 'pi_old', expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@ps_old_4' } }, { accept: null }] } } },
    { add: { element: { ...T, name: 'ingress4', elem: [['10.1.1.1', { goto: { target: 'pi_old' } }]] } } },
    { add: { chain: { ...T, name: 'ingress', type: 'filter', hook: 'forward', prio: 11, policy: 'accept' } } },
    { add: { rule: { ...T, chain: 'ingress', expr: [{ vmap: { key: { payload: { protocol: 'ip', field: 'daddr' } }, data: '@ingress4' } }] } } },
  ]);
  t.is(dataplane.apply(compiler.compile()).mode, 'replace');
  const names = objectNames();
  t.deepEqual(names, [...dataplane.applied!.chains.keys(), ...dataplane.applied!.sets.keys()].sort());
  t.false(names.includes('pi_old') || names.includes('ps_old_4') || names.includes('ingress4'));
  const guard = openNftables().list(`set inet ${TABLE} guard4`) as { set?: { elem?: unknown[] } }[];
  t.deepEqual(guard.find((i) => i.set)?.set?.elem, ['10.9.9.9'], 'the guard set keeps its elements');
});

test.serial("a table changed behind berth's back: the apply fails and changes nothing, the next one rewrites it whole", (t) => {
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
