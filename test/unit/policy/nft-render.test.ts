/**
 * The nftables backend without a kernel: golden batches for a few conformance cases, and the
 * diff's promise that a change costs what it touches, not what is installed.
 * A missing golden fails; BERTH_UPDATE_GOLDEN=1 rewrites the golden files (test/support/golden.ts).
 */
import test from 'ava';
import { join } from 'node:path';
import { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { namespaceOf } from '../../../policy/model/namespace.js';
import { parseNetworkPolicy } from '../../../policy/model/network-policy.js';
import { parsePod } from '../../../policy/model/pod.js';
import { diffNftState } from '../../../policy/nft/nft-diff.js';
import { countObjects } from '../../../policy/nft/nft-state.js';
import { NftRenderer, policyChainName } from '../../../policy/nft/render-nft.js';
import { CASES, netpol } from '../../fixtures/policy/conformance-cases.js';
import { loadCase } from '../../fixtures/policy/conformance-inputs.js';
import { modelWorld } from '../../fixtures/policy/conformance-world.js';
import { expectGolden } from '../../support/golden.js';
import { ROOT } from '../../support/netns.js';

const GOLDEN = join(ROOT, 'test', 'fixtures', 'policy', 'nft');

for (const name of ['pod-and-namespace-selector', 'named-port', 'ip-block-except', 'egress-named-port', 'deny-all-allow-one-port', 'both-ends-must-allow']) {
  test(`nftables golden: ${name}`, (t) => {
    const c = CASES.find((x) => x.name === name)!;
    const batch = diffNftState(undefined, new NftRenderer().render(loadCase(c, modelWorld()).compile()));
    const file = join(GOLDEN, `${name}.json`);
    expectGolden(t, file, `${JSON.stringify({ nftables: batch }, null, 1)}\n`);
  });
}

/** 20 namespaces of 10 pods, two policies per namespace. */
function bigWorld(): PolicyCompiler {
  const c = new PolicyCompiler();
  for (let n = 0; n < 20; n++) {
    const ns = `ns${n}`;
    c.setNamespace(namespaceOf(ns, { team: `t${n % 4}` }));
    for (let p = 0; p < 10; p++) {
      c.setPod(parsePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${p}`, namespace: ns, labels: { app: `a${p % 3}` } }, status: { podIP: `10.50.${n}.${p + 10}` } }));
    }
    c.setPolicy(
      parseNetworkPolicy(
        netpol(ns, 'web', { podSelector: { matchLabels: { app: 'a0' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: `t${n % 4}` } } }], ports: [{ port: 80 }] }] }),
      ),
    );
    c.setPolicy(
      parseNetworkPolicy(netpol(ns, 'db', { podSelector: { matchLabels: { app: 'a1' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'a0' } } }] }] })),
    );
  }
  return c;
}

function names(batch: readonly object[]): string[] {
  return batch.map((cmd) => {
    const [verb, body] = Object.entries(cmd)[0]!;
    const [kind, obj] = Object.entries(body as object)[0]!;
    const o = obj as { name?: string; chain?: string };
    return `${verb} ${kind} ${o.name ?? o.chain ?? ''}`;
  });
}

test('nothing changed: no commands at all', (t) => {
  const c = bigWorld();
  const r = new NftRenderer();
  const one = r.render(c.compile());
  t.deepEqual(diffNftState(one, r.render(c.compile())), []);
});

test("a change of one policy rewrites that policy's chain only, whatever else is installed", (t) => {
  const c = bigWorld();
  const r = new NftRenderer();
  const before = r.render(c.compile());
  c.setPolicy(
    parseNetworkPolicy(netpol('ns7', 'web', { podSelector: { matchLabels: { app: 'a0' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 't3' } } }], ports: [{ port: 8080 }] }] })),
  );
  const batch = diffNftState(before, r.render(c.compile()));
  t.deepEqual(names(batch), ['add table berth-policy', `flush chain ${policyChainName('ingress', 'ns7/web')}`, `add rule ${policyChainName('ingress', 'ns7/web')}`]);
});

test('a new pod costs set and map elements only', (t) => {
  const c = bigWorld();
  const r = new NftRenderer();
  const before = r.render(c.compile());
  c.setPod(parsePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'new', namespace: 'ns3', labels: { app: 'a0' } }, status: { podIP: '10.50.3.200' } }));
  const batch = diffNftState(before, r.render(c.compile()));
  t.true(
    names(batch).every((n) => n === 'add table berth-policy' || n.startsWith('add element')),
    names(batch).join('\n'),
  );
  t.true(JSON.stringify(batch).includes('10.50.3.200'));
});

test('deleting every policy removes their chains and sets; the base chains stay', (t) => {
  const c = bigWorld();
  const r = new NftRenderer();
  const before = r.render(c.compile());
  for (const p of c.policies) c.deletePolicy(p.namespace, p.name);
  const after = r.render(c.compile());
  t.deepEqual([...after.chains.keys()], ['egress', 'ingress']);
  t.deepEqual(countObjects(after).elements, 0);
  const batch = names(diffNftState(before, after));
  t.true(batch.includes(`delete chain ${policyChainName('ingress', 'ns0/web')}`));
  // References go before what they refer to: elements and flushes first, deletions last.
  const firstDelete = batch.findIndex((n) => n.startsWith('delete chain') || n.startsWith('delete set'));
  t.true(batch.slice(firstDelete).every((n) => n.startsWith('delete chain') || n.startsWith('delete set') || n.startsWith('delete map')));
});

test("a policy with no rules isolates with the class chain's reject; drop can be chosen instead", (t) => {
  const c = CASES.find((x) => x.name === 'one-pod-only')!;
  const ir = loadCase(c, modelWorld()).compile();
  const state = new NftRenderer().render(ir);
  const classes = [...state.chains.values()].filter((ch) => ch.name.startsWith('in_'));
  t.is(classes.length, 1);
  t.deepEqual(
    classes[0]!.rules.map((r) => r.expr),
    [[{ reject: { type: 'icmpx', expr: 'admin-prohibited' } }]],
  );
  const dropping = new NftRenderer({ deny: 'drop' }).render(ir);
  t.deepEqual([...dropping.chains.values()].find((ch) => ch.name.startsWith('in_'))!.rules[0]!.expr, [{ drop: null }]);
  t.deepEqual([...state.sets.get('ingress4')!.elements.keys()], [modelWorld().ip('x/a')]);
});

test('IPv6 pods get ip6 sets, maps and rules', (t) => {
  const c = new PolicyCompiler();
  c.setPod(parsePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'x', labels: { pod: 'a' } }, status: { podIPs: [{ ip: '10.1.0.2' }, { ip: 'fd00::2' }] } }));
  c.setPod(parsePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'x', labels: { pod: 'b' } }, status: { podIPs: [{ ip: '10.1.0.3' }, { ip: 'fd00::3' }] } }));
  c.setPolicy(parseNetworkPolicy(netpol('x', 'from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })));
  const state = new NftRenderer().render(c.compile());
  t.deepEqual([...state.sets.get('ingress6')!.elements.keys()], ['fd00::2']);
  const chain = state.chains.get(policyChainName('ingress', 'x/from-b'))!;
  t.is(chain.rules.length, 2);
  t.true(JSON.stringify(chain.rules[1]).includes('"protocol":"ip6","field":"saddr"'));
});
