import test from 'ava';
import { PolicyCompiler } from '../../../policy/compile/policy-compiler.js';
import { ipBlockRanges, rangeToPrefixes, formatRange } from '../../../policy/compile/address-ranges.js';
import { mergePortRanges } from '../../../policy/compile/port-ranges.js';
import { selectorKey, selectorMatches } from '../../../policy/model/label-selector.js';
import { parseNetworkPolicy } from '../../../policy/model/network-policy.js';
import { parsePod } from '../../../policy/model/pod.js';
import { namespaceOf } from '../../../policy/model/namespace.js';
import type { LabelSelector } from '../../../policy/model/types.js';
import type { PolicyIR } from '../../../policy/compile/ir.js';
import { netpol } from '../../fixtures/policy/conformance-cases.js';
import { podManifest } from '../../fixtures/policy/conformance-world.js';

const sel = (matchLabels: Record<string, string>, matchExpressions: LabelSelector['matchExpressions'] = []): LabelSelector => ({ matchLabels, matchExpressions });

test('selectorMatches(): labels AND expressions; NotIn and DoesNotExist hold when the key is absent', (t) => {
  const labels = { pod: 'a', tier: 'web' };
  t.true(selectorMatches(sel({}), labels));
  t.true(selectorMatches(sel({ pod: 'a' }), labels));
  t.false(selectorMatches(sel({ pod: 'a', tier: 'db' }), labels));
  t.true(selectorMatches(sel({}, [{ key: 'tier', operator: 'In', values: ['web', 'db'] }]), labels));
  t.false(selectorMatches(sel({}, [{ key: 'zone', operator: 'In', values: ['a'] }]), labels));
  t.true(selectorMatches(sel({}, [{ key: 'zone', operator: 'NotIn', values: ['a'] }]), labels), 'NotIn holds for an absent key');
  t.false(selectorMatches(sel({}, [{ key: 'pod', operator: 'NotIn', values: ['a'] }]), labels));
  t.true(selectorMatches(sel({}, [{ key: 'pod', operator: 'Exists', values: [] }]), labels));
  t.true(selectorMatches(sel({}, [{ key: 'zone', operator: 'DoesNotExist', values: [] }]), labels));
  t.false(selectorMatches(sel({ pod: 'a' }, [{ key: 'tier', operator: 'DoesNotExist', values: [] }]), labels));
});

test('selectorKey(): equal meaning, equal key (order, duplicates, In of one value)', (t) => {
  t.is(selectorKey(sel({ b: '2', a: '1' })), selectorKey(sel({ a: '1' }, [{ key: 'b', operator: 'In', values: ['2'] }])));
  t.is(selectorKey(sel({}, [{ key: 'k', operator: 'In', values: ['y', 'x', 'x'] }])), 'k in (x,y)');
  t.not(selectorKey(sel({}, [{ key: 'k', operator: 'Exists', values: [] }])), selectorKey(sel({}, [{ key: 'k', operator: 'DoesNotExist', values: [] }])));
});

test('ipBlock ranges: except is cut out; ranges go back to the fewest prefixes', (t) => {
  const r = ipBlockRanges('10.0.0.7/24', ['10.0.0.5/32', '10.0.0.128/25']);
  t.deepEqual(r.map(formatRange), ['10.0.0.0-10.0.0.4', '10.0.0.6-10.0.0.127']);
  t.deepEqual(rangeToPrefixes(r[0]!).map(String), ['10.0.0.0/30', '10.0.0.4/32']);
  t.deepEqual(rangeToPrefixes(r[1]!).map(String), ['10.0.0.6/31', '10.0.0.8/29', '10.0.0.16/28', '10.0.0.32/27', '10.0.0.64/26']);
  t.deepEqual(ipBlockRanges('0.0.0.0/0', []).map(formatRange), ['0.0.0.0/0']);
  t.deepEqual(ipBlockRanges('fd00::/64', ['fd00::/65']).map(formatRange), ['fd00::8000:0:0:0/65']);
});

test('port ranges are merged per protocol, so an interval set never holds overlaps', (t) => {
  const merged = mergePortRanges([
    { protocol: 'udp', first: 53, last: 53 },
    { protocol: 'tcp', first: 80, last: 90 },
    { protocol: 'tcp', first: 85, last: 100 },
    { protocol: 'tcp', first: 101, last: 101 },
    { protocol: 'tcp', first: 443, last: 443 },
  ]);
  t.deepEqual(merged, [
    { protocol: 'tcp', first: 80, last: 101 },
    { protocol: 'tcp', first: 443, last: 443 },
    { protocol: 'udp', first: 53, last: 53 },
  ]);
});

/** The members of the IR's only pod address set. */
function members(ir: PolicyIR): readonly string[] | undefined {
  const set = [...ir.sets.values()][0];
  return set?.kind === 'pods' ? set.members : undefined;
}

function world(): PolicyCompiler {
  const c = new PolicyCompiler();
  for (const ns of ['x', 'y']) c.setNamespace(namespaceOf(ns, { ns }));
  let n = 10;
  for (const key of ['x/a', 'x/b', 'y/a', 'y/b']) c.setPod(parsePod(podManifest(key, `10.9.0.${n++}`)));
  return c;
}

const fromY = parseNetworkPolicy(netpol('x', 'from-y', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] }));
const denyY = parseNetworkPolicy(netpol('y', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }));

test('compile(): isolation only for selected pods, per direction; sets shared by id', (t) => {
  const c = world();
  c.setPolicy(fromY);
  c.setPolicy(denyY);
  c.setPolicy(parseNetworkPolicy(netpol('x', 'from-y-too', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 81 }] }] })));
  const ir = c.compile();
  t.deepEqual(
    [...ir.ingress.entries()],
    [
      ['x/a', ['x/from-y', 'x/from-y-too']],
      ['x/b', ['x/from-y-too']],
      ['y/a', ['y/deny']],
      ['y/b', ['y/deny']],
    ],
  );
  t.deepEqual([...ir.egress.keys()], ['y/a', 'y/b']);
  t.is(ir.sets.size, 1, 'the two policies share the set of namespace y');
  const set = [...ir.sets.values()][0]!;
  t.like(set, { kind: 'pods', description: 'all pods in namespaces ns=y', members: ['y/a', 'y/b'], v4: ['10.9.0.12', '10.9.0.13'] });
  t.deepEqual(ir.policies.get('y/deny')?.ingress, [], 'isolated with no rules: deny all');
});

test('compile() after one change reuses every untouched object (what the backends memoize on)', (t) => {
  const c = world();
  c.setPolicy(fromY);
  c.setPolicy(denyY);
  const one = c.compile();
  t.is(c.compile().policies.get('x/from-y'), one.policies.get('x/from-y'), 'no change: same objects');
  c.setPolicy(parseNetworkPolicy(netpol('y', 'deny', { podSelector: {}, policyTypes: ['Ingress'] })));
  const two = c.compile();
  t.is(two.policies.get('x/from-y'), one.policies.get('x/from-y'), 'the other policy is the same object');
  t.not(two.policies.get('y/deny'), one.policies.get('y/deny'));
  t.is([...two.sets.values()][0], [...one.sets.values()][0], 'the address set did not change');
  t.is(two.ingress.get('x/a'), one.ingress.get('x/a'), 'per-pod lists are reused');
  t.is(two.pods, one.pods, 'no pod changed: same pod map');
  t.false(two.egress.has('y/a'));
});

test('a pod that changes labels moves in and out of selections and sets', (t) => {
  const c = world();
  c.setPolicy(fromY);
  const before = c.compile();
  c.setPod(parsePod({ ...(podManifest('x/a', '10.9.0.10') as object), metadata: { name: 'a', namespace: 'x', labels: { pod: 'other' } } }));
  const after = c.compile();
  t.true(before.ingress.has('x/a'));
  t.false(after.ingress.has('x/a'), 'x/a no longer matches pod=a');
  c.setPod(parsePod(podManifest('y/c', '10.9.0.20')));
  const third = c.compile();
  t.deepEqual(members(third), ['y/a', 'y/b', 'y/c'], 'a new pod joins the namespace set');
  t.not([...third.sets.values()][0], [...after.sets.values()][0]);
  c.deletePod('y', 'c');
  c.deletePod('y', 'c');
  t.deepEqual(members(c.compile()), ['y/a', 'y/b'], 'and leaves it; deleting twice is harmless');
});

test('namespace label changes re-evaluate namespace selectors', (t) => {
  const c = world();
  c.setPolicy(fromY);
  t.deepEqual(members(c.compile()), ['y/a', 'y/b']);
  c.setNamespace(namespaceOf('x', { ns: 'y' }));
  t.deepEqual(members(c.compile()), ['x/a', 'x/b', 'y/a', 'y/b']);
  c.deleteNamespace('x');
  t.deepEqual(members(c.compile()), ['y/a', 'y/b']);
});

test('host-network pods are outside policy: never selected, never in a set', (t) => {
  const c = world();
  c.setPolicy(denyY);
  const host = parsePod({ ...(podManifest('y/h', '10.9.0.99') as Record<string, unknown>), spec: { hostNetwork: true, containers: [] } });
  c.setPod(host);
  const ir = c.compile();
  t.false(ir.pods.has('y/h'));
  t.false(ir.ingress.has('y/h'));
});

test('named ports resolve per destination pod: ingress on the selected pod, egress on the peer', (t) => {
  const c = new PolicyCompiler();
  const podWith = (key: string, ip: string, port: number) => {
    const [ns, name] = key.split('/') as [string, string];
    return parsePod({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, labels: { app: 'web' } },
      spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: port }] }] },
      status: { podIP: ip },
    });
  };
  c.setPod(podWith('x/a', '10.9.0.1', 8080));
  c.setPod(podWith('x/b', '10.9.0.2', 9090));
  c.setPod(podWith('y/a', '10.9.0.3', 7070));
  c.setPolicy(parseNetworkPolicy(netpol('x', 'in', { podSelector: {}, ingress: [{ ports: [{ port: 'http' }] }] })));
  c.setPolicy(
    parseNetworkPolicy(netpol('x', 'out', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 'http' }, { port: 'http', protocol: 'UDP' }] }] })),
  );
  const ir = c.compile();
  const inRule = ir.policies.get('x/in')!.ingress![0]!;
  t.deepEqual(
    [...inRule.named.entries()],
    [
      ['x/a', [{ protocol: 'tcp', first: 8080, last: 8080 }]],
      ['x/b', [{ protocol: 'tcp', first: 9090, last: 9090 }]],
    ],
  );
  t.deepEqual(inRule.ports, [], 'only named ports: no numeric ones');
  const outRule = ir.policies.get('x/out')!.egress![0]!;
  t.deepEqual([...outRule.named.keys()], ['x/a', 'x/b', 'y/a'], 'every peer pod, in any namespace, resolved on itself; UDP matches nothing');
  t.deepEqual(outRule.named.get('y/a'), [{ protocol: 'tcp', first: 7070, last: 7070 }]);
  // A pod change anywhere re-resolves egress named ports.
  c.setPod(podWith('y/a', '10.9.0.3', 6060));
  t.deepEqual(c.compile().policies.get('x/out')!.egress![0]!.named.get('y/a'), [{ protocol: 'tcp', first: 6060, last: 6060 }]);
});

test('deletePolicy() lifts the isolation; deleting twice is harmless', (t) => {
  const c = world();
  c.setPolicy(denyY);
  t.true(c.compile().ingress.has('y/a'));
  c.deletePolicy('y', 'deny');
  c.deletePolicy('y', 'deny');
  const ir = c.compile();
  t.is(ir.ingress.size, 0);
  t.is(ir.policies.size, 0);
});
