import test from 'ava';
import { InvalidObjectError } from '../../../core/errors.js';
import { parseNamespace } from '../../../policy/model/namespace.js';
import { parseNetworkPolicy } from '../../../policy/model/network-policy.js';
import { parsePod } from '../../../policy/model/pod.js';
import { parsePolicyObjects } from '../../../policy/model/policy-object.js';

function np(spec: unknown, metadata: object = { name: 'p', namespace: 'x' }): object {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata, spec };
}

/** Each bad manifest, and the error line the API server would print for it. */
const BAD: [string, object, string][] = [
  ['endPort below port', np({ ingress: [{ ports: [{ port: 80, endPort: 79 }] }] }), 'spec.ingress[0].ports[0].endPort: Invalid value: 79: must be greater than or equal to port'],
  [
    'endPort without port',
    np({ policyTypes: ['Egress'], egress: [{ ports: [{ endPort: 90 }] }] }),
    'spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is not specified',
  ],
  ['endPort with a named port', np({ ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }), 'spec.ingress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric'],
  ['port 0', np({ ingress: [{ ports: [{ port: 0 }] }] }), 'spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive'],
  ['port 70000', np({ ingress: [{ ports: [{ port: 70000 }] }] }), 'spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'],
  ['endPort 65536', np({ ingress: [{ ports: [{ port: 80, endPort: 65536 }] }] }), 'spec.ingress[0].ports[0].endPort: Invalid value: 65536: must be between 1 and 65535, inclusive'],
  ['a port that is not a number', np({ ingress: [{ ports: [{ port: 80.5 }] }] }), 'spec.ingress[0].ports[0].port: Invalid value: 80.5: must be a 32-bit integer, not number'],
  [
    'a named port with a capital',
    np({ ingress: [{ ports: [{ port: 'Http' }] }] }),
    'spec.ingress[0].ports[0].port: Invalid value: "Http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
  ],
  ['a named port that is all digits', np({ ingress: [{ ports: [{ port: '80' }] }] }), 'spec.ingress[0].ports[0].port: Invalid value: "80": must contain at least one letter (a-z)'],
  ['ICMP', np({ ingress: [{ ports: [{ protocol: 'ICMP', port: 80 }] }] }), 'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"'],
  ['lower-case protocol', np({ ingress: [{ ports: [{ protocol: 'tcp' }] }] }), 'spec.ingress[0].ports[0].protocol: Unsupported value: "tcp": supported values: "TCP", "UDP", "SCTP"'],
  ['a bad CIDR', np({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] }), 'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": not a valid CIDR'],
  ['a CIDR without length', np({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.1' } }] }] }), 'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.1": not a valid CIDR'],
  ['a CIDR with an octal-looking octet', np({ ingress: [{ from: [{ ipBlock: { cidr: '10.01.0.0/16' } }] }] }), 'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.01.0.0/16": not a valid CIDR'],
  ['an empty CIDR', np({ ingress: [{ from: [{ ipBlock: { cidr: '' } }] }] }), 'spec.ingress[0].from[0].ipBlock.cidr: Required value'],
  [
    'an except outside the cidr',
    np({ ingress: [{ from: [{ ipBlock: { cidr: '10.1.0.0/16', except: ['10.2.0.0/24'] } }] }] }),
    'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.2.0.0/24": must be a strict subset of `cidr`',
  ],
  [
    'an except equal to the cidr',
    np({ ingress: [{ from: [{ ipBlock: { cidr: '10.1.0.0/16', except: ['10.1.0.0/16'] } }] }] }),
    'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/16": must be a strict subset of `cidr`',
  ],
  ['a bad except', np({ ingress: [{ from: [{ ipBlock: { cidr: '10.1.0.0/16', except: ['nope'] } }] }] }), 'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "nope": not a valid CIDR'],
  [
    'ipBlock with a podSelector',
    np({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }),
    'spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer',
  ],
  ['an empty peer', np({ ingress: [{ from: [{}] }] }), 'spec.ingress[0].from[0]: Required value: must specify a peer'],
  [
    'an unknown operator',
    np({ podSelector: { matchExpressions: [{ key: 'pod', operator: 'Equals', values: ['a'] }] } }),
    'spec.podSelector.matchExpressions[0].operator: Invalid value: "Equals": not a valid selector operator',
  ],
  [
    'In without values',
    np({ ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In' }] } }] }] }),
    "spec.ingress[0].from[0].podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
  ],
  [
    'Exists with values',
    np({ ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'Exists', values: ['x'] }] } }] }] }),
    "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
  ],
  [
    'a bad label key',
    np({ podSelector: { matchLabels: { '-pod': 'a' } } }),
    "spec.podSelector.matchLabels: Invalid value: \"-pod\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName', or 'my.name', or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
  ],
  [
    'a bad label value',
    np({ podSelector: { matchLabels: { pod: 'a b' } } }),
    "spec.podSelector.matchLabels: Invalid value: \"a b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue', or 'my_value', or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ],
  ['a selector that is a string', np({ podSelector: 'pod=a' }), 'spec.podSelector: Invalid value: "pod=a": must be an object, not string'],
  ['an unknown field in a rule', np({ ingress: [{ form: [] }] }), 'unknown field "spec.ingress[0].form"'],
  ['an unknown spec field', np({ podselector: {} }), 'unknown field "spec.podselector"'],
  ['an unknown selector field', np({ podSelector: { matchLabel: { pod: 'a' } } }), 'unknown field "spec.podSelector.matchLabel"'],
  ['a policy type that does not exist', np({ policyTypes: ['Both'] }), 'spec.policyTypes[0]: Unsupported value: "Both": supported values: "Ingress", "Egress"'],
  ['three policy types', np({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }), 'spec.policyTypes: Invalid value: ["Ingress","Egress","Ingress"]: may not specify more than two policyTypes'],
  [
    'a name with capitals',
    np({}, { name: 'Deny', namespace: 'x' }),
    "metadata.name: Invalid value: \"Deny\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ],
  ['no name', np({}, { namespace: 'x' }), 'metadata.name: Required value: name or generateName is required'],
  [
    'a bad namespace',
    np({}, { name: 'p', namespace: 'X.y' }),
    "metadata.namespace: Invalid value: \"X.y\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ],
  [
    'an old apiVersion',
    { apiVersion: 'extensions/v1beta1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec: {} },
    'apiVersion: Unsupported value: "extensions/v1beta1": supported values: "networking.k8s.io/v1"',
  ],
];

for (const [what, manifest, line] of BAD) {
  test(`parseNetworkPolicy() rejects ${what}, naming the field`, (t) => {
    const err = t.throws(() => parseNetworkPolicy(manifest), { instanceOf: InvalidObjectError });
    t.deepEqual(
      err?.problems.map((p) => p.message),
      [line],
    );
    t.is(err?.code, 'invalid-config');
    t.is(err?.fields.field, err?.problems[0]?.field);
    t.true(err?.message.startsWith('NetworkPolicy.networking.k8s.io "'), err?.message);
    t.true(err?.message.endsWith(line), err?.message);
  });
}

test('several problems are reported together, in brackets, as the API server does', (t) => {
  const err = t.throws(() => parseNetworkPolicy(np({ ingress: [{ ports: [{ port: 0 }, { protocol: 'ICMP' }] }], bogus: 1 })), { instanceOf: InvalidObjectError });
  t.is(
    err?.message,
    'NetworkPolicy.networking.k8s.io "p" is invalid: [unknown field "spec.bogus", spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ingress[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"]',
  );
  t.deepEqual(
    err?.problems.map((p) => p.field),
    ['spec.bogus', 'spec.ingress[0].ports[0].port', 'spec.ingress[0].ports[1].protocol'],
  );
});

test('defaults: podSelector {}, protocol TCP, namespace "default", policyTypes [Ingress] or [Ingress, Egress]', (t) => {
  const p = parseNetworkPolicy({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec: { ingress: [{ ports: [{ port: 80 }] }] } });
  t.is(p.namespace, 'default');
  t.deepEqual(p.podSelector, { matchLabels: {}, matchExpressions: [] });
  t.deepEqual(p.policyTypes, ['Ingress']);
  t.deepEqual(p.ingress[0]?.ports, [{ protocol: 'TCP', port: 80 }]);
  t.deepEqual(parseNetworkPolicy(np({ egress: [{}] })).policyTypes, ['Ingress', 'Egress'], 'egress rules without policyTypes: Ingress is in too');
  t.deepEqual(parseNetworkPolicy(np({ policyTypes: ['Egress'], ingress: [{}] })).policyTypes, ['Egress']);
  t.deepEqual(parseNetworkPolicy(np({ policyTypes: [] })).policyTypes, ['Ingress']);
  t.deepEqual(parseNetworkPolicy(np({}), { defaultNamespace: 'z' }).namespace, 'x', 'an explicit namespace wins over the default');
});

test('empty and missing lists are the same; null is absent; an empty rule allows everything', (t) => {
  const a = parseNetworkPolicy(np({ ingress: [{ from: [], ports: [] }], egress: null }));
  const b = parseNetworkPolicy(np({ ingress: [{}] }));
  const c = parseNetworkPolicy(np({ ingress: [null] }));
  t.deepEqual(a, b);
  t.deepEqual(b, c);
  t.deepEqual(b.ingress, [{ peers: [], ports: [] }]);
});

test('an ipBlock keeps the CIDR as written; host bits are accepted', (t) => {
  const p = parseNetworkPolicy(np({ ingress: [{ from: [{ ipBlock: { cidr: '10.1.2.3/8', except: ['10.1.0.0/16'] } }] }] }));
  t.deepEqual(p.ingress[0]?.peers[0], { ipBlock: { cidr: '10.1.2.3/8', except: ['10.1.0.0/16'] } });
});

test('parseNamespace() adds kubernetes.io/metadata.name, whatever the manifest says', (t) => {
  const ns = parseNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { ns: 'x', 'kubernetes.io/metadata.name': 'other' } } });
  t.deepEqual(ns, { name: 'x', labels: { ns: 'x', 'kubernetes.io/metadata.name': 'x' } });
  t.throws(() => parseNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' }, spec: { nope: 1 } }), { message: /unknown field "spec.nope"/ });
});

test('parsePod() reads labels, addresses and named ports; real Pod fields are accepted, unknown ones rejected', (t) => {
  const pod = parsePod({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'a', namespace: 'x', labels: { pod: 'a' }, annotations: { note: 'x' } },
    spec: {
      restartPolicy: 'Always',
      containers: [{ name: 'c', image: 'busybox', command: ['sleep'], ports: [{ name: 'http', containerPort: 8080 }, { containerPort: 9000 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }],
    },
    status: { phase: 'Running', podIP: '10.1.0.5', podIPs: [{ ip: '10.1.0.5' }, { ip: 'fd00::5' }] },
  });
  t.deepEqual(pod, {
    namespace: 'x',
    name: 'a',
    labels: { pod: 'a' },
    ips: ['10.1.0.5', 'fd00::5'],
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
    hostNetwork: false,
  });
  const err = t.throws(
    () =>
      parsePod({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'a' },
        spec: { containerz: [], containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80 }, { name: 'http', containerPort: 81 }, { containerPort: 0 }] }] },
        status: { podIPs: [{ ip: '10.1.0.300' }] },
      }),
    { instanceOf: InvalidObjectError },
  );
  t.deepEqual(
    err?.problems.map((p) => p.message),
    [
      'unknown field "spec.containerz"',
      'spec.containers[0].ports[1].name: Duplicate value: "http"',
      'spec.containers[0].ports[2].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive',
      'status.podIPs[0].ip: Invalid value: "10.1.0.300": must be a valid IP address',
    ],
  );
});

test('parsePolicyObjects() reads a batch all or nothing, naming the bad document', (t) => {
  const good = np({ podSelector: {} });
  const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } };
  const list = { apiVersion: 'v1', kind: 'List', items: [ns, good] };
  t.deepEqual(
    parsePolicyObjects([list, good]).map((o) => o.kind),
    ['Namespace', 'NetworkPolicy', 'NetworkPolicy'],
  );
  const err = t.throws(
    () => parsePolicyObjects([good, np({ ingress: [{ ports: [{ port: 99999 }] }] }), { kind: 'Service', metadata: { name: 's' } }], { sources: ['a.yaml', 'b.yaml#1', 'b.yaml#2'] }),
    {
      instanceOf: InvalidObjectError,
    },
  );
  t.is(
    err?.message,
    '2 objects are invalid, nothing was read: b.yaml#1: NetworkPolicy.networking.k8s.io "p" is invalid: spec.ingress[0].ports[0].port: Invalid value: 99999: must be between 1 and 65535, inclusive; b.yaml#2: Object "s" is invalid: kind: Unsupported value: "Service": supported values: "NetworkPolicy", "Namespace", "Pod"',
  );
  t.is(err?.fields.field, 'spec.ingress[0].ports[0].port');
});
