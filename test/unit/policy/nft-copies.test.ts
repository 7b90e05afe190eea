/**
 * The two copies of the policy table (policy/nft/nft-copies.ts): every reference renamed into
 * one copy, the base chains and guard sets shared, and unchanged objects still the same
 * objects after renaming, so that the diff between two states of one copy stays small.
 */
import test from 'ava';
import { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { parseNetworkPolicy } from '../../../policy/model/network-policy.js';
import { parsePod } from '../../../policy/model/pod.js';
import { CopyNamer, copyObjects, copyOfName, sharedObjects } from '../../../policy/nft/nft-copies.js';
import { diffNftState } from '../../../policy/nft/nft-diff.js';
import { NftRenderer } from '../../../policy/nft/render-nft.js';
import { netpol } from '../../fixtures/policy/conformance-cases.js';

function world(): PolicyCompiler {
  const c = new PolicyCompiler();
  for (const [name, ip] of [
    ['a', '10.1.0.2'],
    ['b', '10.1.0.3'],
    ['c', '10.1.0.4'],
  ] as const) {
    c.setPod(parsePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'x', labels: { pod: name } }, status: { podIP: ip } }));
  }
  c.setPolicy(
    parseNetworkPolicy(netpol('x', 'web', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 80 }, { port: 443 }] }] })),
  );
  return c;
}

test('every name and every reference of a state moves into the copy; base chains and guard sets are shared', (t) => {
  const logical = new NftRenderer().render(world().compile());
  const state = new CopyNamer('b', ['egress', 'ingress']).state(logical);
  const text = JSON.stringify({ chains: [...state.chains.values()], sets: [...state.sets.values()].map((s) => ({ ...s, elements: [...s.elements.values()] })) });
  for (const name of [...state.chains.keys(), ...state.sets.keys()]) {
    if (['egress', 'ingress', 'guard4', 'guard6'].includes(name)) continue;
    t.is(copyOfName(name), 'b', name);
  }
  // Every `@set` operand and every jump/goto target names an object of copy b or a shared one.
  const refs = [...text.matchAll(/"@([^"]+)"/g)].map((m) => m[1]!).concat([...text.matchAll(/"target":"([^"]+)"/g)].map((m) => m[1]!));
  t.true(refs.length > 5);
  for (const ref of refs) t.true(ref.startsWith('b_') || ref === 'guard4' || ref === 'guard6', ref);
  t.deepEqual([...sharedObjects(state).chains.keys()], ['egress', 'ingress']);
  t.deepEqual([...sharedObjects(state).sets.keys()].sort(), ['guard4', 'guard6']);
  t.false([...copyObjects(state).chains.keys(), ...copyObjects(state).sets.keys()].some((n) => copyOfName(n) !== 'b'));
});

test('a change in one copy costs what it touches: unchanged objects stay the same objects', (t) => {
  const c = world();
  const renderer = new NftRenderer();
  const namer = new CopyNamer('a', ['egress', 'ingress']);
  const before = copyObjects(namer.state(renderer.render(c.compile())));
  c.setPod(parsePod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b2', namespace: 'x', labels: { pod: 'b' } }, status: { podIP: '10.1.0.9' } }));
  const after = copyObjects(namer.state(renderer.render(c.compile())));
  const batch = diffNftState(before, after);
  t.deepEqual(
    batch.map((cmd) => Object.keys(cmd)[0] + ' ' + Object.keys(Object.values(cmd)[0] as object)[0]),
    ['add table', 'add element'],
  );
  t.true(JSON.stringify(batch).includes('10.1.0.9'));
  t.regex(JSON.stringify(batch), /"name":"a_ps_/);
});
