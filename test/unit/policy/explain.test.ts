import test from 'ava';
import { InvalidConfigError } from '../../../core/errors.js';
import { evaluateFlow, explainFlow, parseFlowPort, reachability } from '../../../policy/evaluate/evaluate.js';
import { CASES } from '../../fixtures/policy/conformance-cases.js';
import { loadCase } from '../../fixtures/policy/conformance-inputs.js';
import { POD_KEYS, modelWorld } from '../../fixtures/policy/conformance-world.js';

const irOf = (name: string) =>
  loadCase(
    CASES.find((c) => c.name === name)!,
    modelWorld(),
  ).compile();

test('explainFlow() names the policy, rule and peer that allow a flow', (t) => {
  const { verdict, lines } = explainFlow(irOf('or-of-peers'), 'x/b', 'x/a', parseFlowPort('80/TCP'));
  t.true(verdict.allowed);
  t.deepEqual(lines, [
    'x/b -> x/a 80/TCP: allowed',
    'egress from x/b: allowed, not isolated (no policy selects x/b for Egress)',
    'ingress to x/a: allowed by x/from-y-or-b ingress[0] (from[1] pods pod=b in namespace x; any port)',
  ]);
});

test('explainFlow() names the isolation that denies a flow', (t) => {
  const { verdict, lines } = explainFlow(irOf('stacked-ports'), 'y/a', 'x/a', parseFlowPort('81'));
  t.false(verdict.allowed);
  t.is(lines[2], 'ingress to x/a: denied, isolated by x/port-80, x/port-81 and no rule of them allows y/a on 81/TCP');
});

test('explainFlow() shows named ports and both ends', (t) => {
  const named = explainFlow(irOf('egress-named-port'), 'x/a', 'y/c', parseFlowPort('81/tcp')).lines;
  t.is(named[1], 'egress from x/a: allowed by x/egress-named egress[0] (to[0] all pods in namespaces ns=y; named port serve-81-tcp = 81/TCP)');
  const both = explainFlow(irOf('both-ends-must-allow'), 'x/a', 'y/b', parseFlowPort('80/TCP'));
  t.false(both.verdict.allowed);
  t.deepEqual(both.lines, [
    'x/a -> y/b 80/TCP: denied',
    'egress from x/a: denied, isolated by x/deny-egress-a and no rule of it allows y/b on 80/TCP',
    'ingress to y/b: allowed by y/from-x-a ingress[0] (from[0] pods pod=a in namespaces ns=x; any port)',
  ]);
});

test('a pod always reaches itself; an unknown pod is an InvalidConfigError naming it', (t) => {
  const ir = irOf('default-deny-all');
  t.true(evaluateFlow(ir, 'x/a', 'x/a', { protocol: 'tcp', port: 80 }).allowed);
  t.deepEqual(explainFlow(ir, 'x/a', 'x/a', { protocol: 'tcp', port: 80 }).lines.slice(1), ['a pod can always reach itself']);
  t.throws(() => evaluateFlow(ir, 'x/a', 'q/q', { protocol: 'tcp', port: 80 }), { instanceOf: InvalidConfigError, message: /Unknown pod "q\/q"/ });
});

test('reachability() is keyed from -> to over every known pod', (t) => {
  const m = reachability(irOf('default-deny-ingress'), { protocol: 'udp', port: 80 });
  t.deepEqual(Object.keys(m), [...POD_KEYS]);
  t.false(m['y/a']!['x/b']);
  t.true(m['x/b']!['y/a']);
});

test('parseFlowPort() takes PORT[/PROTOCOL] and nothing else', (t) => {
  t.deepEqual(parseFlowPort('53/UDP'), { port: 53, protocol: 'udp' });
  t.deepEqual(parseFlowPort('8080'), { port: 8080, protocol: 'tcp' });
  for (const bad of ['0', '65536', 'http', '80/icmp', '']) t.throws(() => parseFlowPort(bad), { instanceOf: InvalidConfigError });
});
