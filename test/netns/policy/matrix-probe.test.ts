/**
 * `berth policy matrix --probe` end to end: manifests stored with `berth policy apply`, then
 * the built CLI measures the matrix in its probe lab (a private namespace of its own, pods on
 * one bridge from unrelated subnets, the policies in nftables) and compares it with the model.
 * With BERTH_LAB_SKIP_POLICY=1 (test-only: the lab applies no nftables) every denial of the
 * model must come back as a disagreement, with exit status 1.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIST_BIN, scratch, sh } from '../../support/netns.js';
import { kernelLacks, unlessKernelLacks } from '../../support/skip.js';

const BERTH = join(DIST_BIN, 'berth');

const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {ns: y}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {pod: a}}
spec: {containers: [{name: c}]}
status: {podIP: 10.30.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {pod: b}}
spec: {containers: [{name: c, ports: [{name: http, containerPort: 80}]}]}
status: {podIP: 10.30.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: y, labels: {pod: a}}
spec: {containers: [{name: c}]}
status: {podIPs: [{ip: 192.168.50.7}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: y, labels: {pod: b}}
spec: {containers: [{name: c}]}
status: {podIP: 172.31.9.200}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: y, labels: {pod: c}}
spec: {containers: [{name: c}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-a-on-http, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: a}}}]
    ports: [{port: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-talks-to-x, namespace: y}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: x}}}]
`;

type Matrix = Record<string, Record<string, boolean>>;
interface ProbeJson {
  model: Matrix;
  probe: Matrix;
  disagreements: { from: string; to: string; model: boolean; probe: boolean }[];
  notProbed?: Record<string, string>;
}

const lacks = kernelLacks.brNetfilter();
const run = unlessKernelLacks(test.serial, lacks);

let dir = '';
let cleanup = () => undefined as void;
const where = () => ['--data-dir', join(dir, 'data'), '--run-dir', join(dir, 'run')];

function berth(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BERTH, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What this namespace holds, to show that a probe run leaves nothing behind. */
function footprint(): string {
  return `${sh('/usr/sbin/ip', ['-o', 'link', 'show'])}\n${sh('/usr/sbin/nft', ['list', 'tables'])}`;
}

test.before(() => {
  if (lacks) return;
  if (process.getuid?.() !== 0) throw new Error('berth policy matrix --probe needs root: run the network tests with bash scripts/test.sh as root');
  ({ dir, cleanup } = scratch('matrix-probe'));
  const file = join(dir, 'm.yaml');
  writeFileSync(file, MANIFESTS);
  // Direct mode also programs nftables where it runs: that happens in a namespace of its own.
  const r = spawnSync('/usr/bin/unshare', ['--net', '--', process.execPath, BERTH, 'policy', 'apply', '-f', file, ...where()], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`berth policy apply failed: ${r.stdout}${r.stderr}`);
});

test.after.always(() => cleanup());

run('TCP: the dataplane agrees with the model; pods from unrelated subnets share the lab; a pod without an address is not probed', (t) => {
  const before = footprint();
  const r = berth(['policy', 'matrix', '--probe', '--format', 'json', ...where()]);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ProbeJson;
  t.deepEqual(out.disagreements, []);
  t.deepEqual(out.notProbed, { 'y/c': 'no address' });
  const probed = ['x/a', 'x/b', 'y/a', 'y/b'];
  t.deepEqual(Object.keys(out.probe), probed);
  for (const from of probed) for (const to of probed) t.is(out.probe[from]?.[to], out.model[from]?.[to], `${from} -> ${to}`);
  // The policies did something: the probes saw denials as well as allowed flows.
  t.true(out.probe['x/a']!['x/b']);
  t.false(out.probe['y/b']!['x/b'], 'x/b admits only x/a');
  t.false(out.probe['y/a']!['y/b'], 'y/a may talk to namespace x only');
  t.true(out.probe['y/a']!['x/a']);
  t.is(footprint(), before, "no link, table or namespace left in the caller's namespace");
});

run('UDP: the named port is TCP, so UDP to x/b is denied from everyone, and the probes see it', (t) => {
  const r = berth(['policy', 'matrix', '--probe', '--protocol', 'udp', '--format', 'json', ...where()]);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as ProbeJson;
  t.deepEqual(out.disagreements, []);
  t.false(out.probe['x/a']!['x/b']);
  t.true(out.probe['x/b']!['x/b'], 'a pod always reaches itself');
  t.true(out.probe['x/b']!['y/b']);
});

run('the table and the SVG: every cell marked, agreement said, the heatmap written', (t) => {
  const svg = join(dir, 'agree.svg');
  const r = berth(['policy', 'matrix', '--probe', '--svg', svg, ...where()]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^80\/TCP: .*! the dataplane disagrees, \? not probed$/m);
  t.regex(r.stdout, /^y\/b\s+ok\s+X\s+ok\s+ok\s+ok\?$/m);
  t.regex(r.stdout, /^\? y\/c: not probed: no address$/m);
  t.regex(r.stdout, /^the dataplane agrees with the model$/m);
  t.notRegex(r.stdout, /(ok|X)!/);
  const text = readFileSync(svg, 'utf8');
  t.is(text.match(/class="cell"/g)?.length, 25);
  t.false(text.includes('data-mismatch'));
  t.true(text.includes('not probed (9)'));
});

run('a broken dataplane (BERTH_LAB_SKIP_POLICY=1): every denial of the model is reported as a disagreement, exit status 1', (t) => {
  const env = { BERTH_LAB_SKIP_POLICY: '1' };
  const r = berth(['policy', 'matrix', '--probe', '--format', 'json', ...where()], env);
  t.is(r.code, 1, r.stderr);
  const out = JSON.parse(r.stdout) as ProbeJson;
  const denied = Object.entries(out.probe).flatMap(([from, row]) =>
    Object.keys(row)
      .filter((to) => !out.model[from]![to])
      .map((to) => ({ from, to, model: false, probe: true })),
  );
  t.deepEqual(
    denied.map((d) => `${d.from}->${d.to}`),
    ['y/a->x/b', 'y/a->y/b', 'y/b->x/b'],
  );
  t.deepEqual(out.disagreements, denied);

  const svg = join(dir, 'broken.svg');
  const table = berth(['policy', 'matrix', '--probe', '--svg', svg, ...where()], env);
  t.is(table.code, 1);
  t.regex(table.stdout, /^y\/b\s+ok\s+X!/m);
  t.regex(table.stdout, /^! y\/b -> x\/b: the model says denied, the dataplane let it through$/m);
  t.regex(table.stdout, /^the dataplane disagrees with the model in \d+ of 25 cells$/m);
  const text = readFileSync(svg, 'utf8');
  t.is(text.match(/data-mismatch="true"/g)?.length, denied.length);
  t.true(text.includes(`dataplane disagrees with the model (${denied.length})`));
});

run('SCTP cannot be probed here: said plainly, exit status 69; the model alone still answers', (t) => {
  const r = berth(['policy', 'matrix', '--probe', '--protocol', 'SCTP', ...where()]);
  t.is(r.code, 69);
  t.regex(r.stderr, /SCTP cannot be probed here \(this kernel has no SCTP sockets\)/);
  t.is(r.stdout, '');
  t.is(berth(['policy', 'matrix', '--protocol', 'SCTP', '--format', 'json', ...where()]).code, 0);
});
