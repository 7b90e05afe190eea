/**
 * `berth policy` in direct mode: the built `dist/bin/berth` against a temporary --data-dir
 * (the embedded store) and --run-dir, no berthd. Direct mode programs nftables, so this runs
 * in the test run's private namespace.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'berth');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function scratch(): { dir: string; data: string; file: (name: string, text: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-policy-cli-'));
  return {
    dir,
    data: join(dir, 'data'),
    file: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
    cleanup: () => {
      // Direct mode programmed the run's namespace: later tests must not meet this table.
      spawnSync('/usr/sbin/nft', ['delete', 'table', 'inet', 'berth-policy']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function berth(data: string, ...args: string[]): Run {
  const r = spawnSync(process.execPath, [BERTH, ...args, '--data-dir', data, '--run-dir', join(dirname(data), 'run')], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Namespace x; pods x/a, x/b (b serves a named port); b admits only a on port 80. */
const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {containers: [{name: c}]}
status: {podIP: 10.1.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec:
  containers: [{name: c, ports: [{name: http, containerPort: 80}]}]
status: {podIP: 10.1.0.2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-a, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: a}}}]
    ports: [{port: http}]
---
`;

/** A JSON document next to a NetworkPolicy whose port is out of range. */
const INVALID = `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "z"}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: z}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 70000}]
`;

test('berth policy apply: a multi-document YAML file stores every object', (t) => {
  const s = scratch();
  try {
    const file = s.file('m.yaml', MANIFESTS);
    const r = berth(s.data, 'policy', 'apply', '-f', file);
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout, 'namespace/x configured\npod/x/a configured\npod/x/b configured\nnetworkpolicy/x/allow-a configured\n');
    t.is(readdirSync(join(s.data, 'kv')).length, 4);
    // A directory applies its files; applying again is idempotent.
    t.is(berth(s.data, 'policy', 'apply', '-f', s.dir).code, 0);
  } finally {
    s.cleanup();
  }
});

test('berth policy apply: one invalid document applies nothing, names document and field, exits 2', (t) => {
  const s = scratch();
  try {
    const file = s.file('bad.yaml', INVALID);
    const r = berth(s.data, 'policy', 'apply', '-f', file);
    t.is(r.code, 2);
    t.true(r.stderr.includes(`${file} document 2`), r.stderr);
    t.regex(r.stderr, /nothing was applied/);
    t.regex(r.stderr, /spec\.ingress\[0\]\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535, inclusive/);
    const ls = berth(s.data, 'policy', 'ls', '-A', '--format', 'json');
    t.is(ls.code, 0, ls.stderr);
    t.deepEqual(JSON.parse(ls.stdout), []);
    t.is(berth(s.data, 'policy', 'matrix', '--format', 'json').stdout.trim(), '{}', 'the valid Namespace was not stored either');
    const syntax = berth(s.data, 'policy', 'apply', '-f', s.file('syntax.yaml', 'kind: Namespace\nmetadata: {name: x\n'));
    t.is(syntax.code, 2);
    t.true(syntax.stderr.includes('syntax.yaml document 1: not valid YAML or JSON'), syntax.stderr);
  } finally {
    s.cleanup();
  }
});

test('berth policy ls: table and JSON, by namespace and across all', (t) => {
  const s = scratch();
  try {
    t.is(berth(s.data, 'policy', 'apply', '-f', s.file('m.yaml', MANIFESTS)).code, 0);
    const table = berth(s.data, 'policy', 'ls', '-n', 'x');
    t.is(table.code, 0, table.stderr);
    const [header, row, extra] = table.stdout.trim().split('\n');
    t.regex(header ?? '', /^NAMESPACE\s{3,}NAME\s{3,}POD-SELECTOR\s{3,}POLICY TYPES\s{3,}INGRESS RULES\s{3,}EGRESS RULES$/);
    t.regex(row ?? '', /^x\s+allow-a\s+pod=b\s+Ingress\s+1\s+0$/);
    t.is(extra, undefined);
    t.is(berth(s.data, 'policy', 'ls').stdout.trim().split('\n').length, 1, 'namespace "default" has no policies');
    const json = berth(s.data, 'policy', 'ls', '-A', '--format', 'json');
    t.deepEqual(JSON.parse(json.stdout), [{ namespace: 'x', name: 'allow-a', podSelector: 'pod=b', policyTypes: ['Ingress'], ingressRules: 1, egressRules: 0 }]);
  } finally {
    s.cleanup();
  }
});

test('berth policy matrix: JSON keyed from -> to, per port and protocol', (t) => {
  const s = scratch();
  try {
    t.is(berth(s.data, 'policy', 'apply', '-f', s.file('m.yaml', MANIFESTS)).code, 0);
    const m80 = berth(s.data, 'policy', 'matrix', '--format', 'json');
    t.is(m80.code, 0, m80.stderr);
    t.deepEqual(JSON.parse(m80.stdout), { 'x/a': { 'x/a': true, 'x/b': true }, 'x/b': { 'x/a': true, 'x/b': true } });
    const m81 = berth(s.data, 'policy', 'matrix', '--port', '81', '--format', 'json');
    t.deepEqual(JSON.parse(m81.stdout), { 'x/a': { 'x/a': true, 'x/b': false }, 'x/b': { 'x/a': true, 'x/b': true } });
    const udp = berth(s.data, 'policy', 'matrix', '--protocol', 'UDP', '--format', 'json');
    t.false((JSON.parse(udp.stdout) as Record<string, Record<string, boolean>>)['x/a']?.['x/b'], 'the named port is TCP');
    const table = berth(s.data, 'policy', 'matrix', '--port', '81');
    t.regex(table.stdout, /^x\/a\s+ok\s+X$/m);
    t.is(berth(s.data, 'policy', 'matrix', '--protocol', 'ICMP').code, 2);
  } finally {
    s.cleanup();
  }
});

test('berth policy explain: names the allowing rule, or the isolation that denies', (t) => {
  const s = scratch();
  try {
    t.is(berth(s.data, 'policy', 'apply', '-f', s.file('m.yaml', MANIFESTS)).code, 0);
    const allowed = berth(s.data, 'policy', 'explain', 'x/a', 'x/b', '80/TCP');
    t.is(allowed.code, 0, allowed.stderr);
    t.regex(allowed.stdout, /^x\/a -> x\/b 80\/TCP: allowed$/m);
    t.regex(allowed.stdout, /ingress to x\/b: allowed by x\/allow-a ingress\[0\].*named port http/);
    const denied = berth(s.data, 'policy', 'explain', 'x/b', 'x/b', '80/TCP');
    t.regex(denied.stdout, /a pod can always reach itself/);
    const port81 = berth(s.data, 'policy', 'explain', 'x/a', 'x/b', '81/TCP');
    t.regex(port81.stdout, /: denied$/m);
    t.regex(port81.stdout, /ingress to x\/b: denied, isolated by x\/allow-a/);
    const unknown = berth(s.data, 'policy', 'explain', 'x/a', 'y/q', '80/TCP');
    t.is(unknown.code, 2);
    t.regex(unknown.stderr, /Unknown pod "y\/q"/);
  } finally {
    s.cleanup();
  }
});

test('berth policy delete: by name and by file', (t) => {
  const s = scratch();
  try {
    const file = s.file('m.yaml', MANIFESTS);
    t.is(berth(s.data, 'policy', 'apply', '-f', file).code, 0);
    const byName = berth(s.data, 'policy', 'delete', '-n', 'x', 'allow-a');
    t.is(byName.code, 0, byName.stderr);
    t.is(byName.stdout, 'networkpolicy/x/allow-a deleted\n');
    t.deepEqual(JSON.parse(berth(s.data, 'policy', 'ls', '-A', '--format', 'json').stdout), []);
    const again = berth(s.data, 'policy', 'delete', '-n', 'x', 'allow-a');
    t.is(again.code, 1);
    t.regex(again.stderr, /NetworkPolicy x\/allow-a not found/);

    t.is(berth(s.data, 'policy', 'apply', '-f', file).code, 0);
    const byFile = berth(s.data, 'policy', 'delete', '-f', file);
    t.is(byFile.code, 0, byFile.stderr);
    t.is(byFile.stdout, 'namespace/x deleted\npod/x/a deleted\npod/x/b deleted\nnetworkpolicy/x/allow-a deleted\n');
    t.is(berth(s.data, 'policy', 'matrix', '--format', 'json').stdout.trim(), '{}');
  } finally {
    s.cleanup();
  }
});
