/**
 * The Kubernetes policy source against a fake API server on 127.0.0.1 (no kube-apiserver runs
 * here; the fake is test/support/fake-kube-api.ts). The fake serves what the source uses and
 * nothing more: the three cluster-wide lists (with limit/continue and a resourceVersion) and
 * their watches (newline-delimited JSON events from a resourceVersion, BOOKMARK, and 410 Gone
 * once history is compacted), behind a bearer token, over HTTP or HTTPS.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDaemonArgs } from '../../../daemon/config.js';
import type { Log } from '../../../daemon/log.js';
import { createKubeSource, type KubeSourceOptions } from '../../../daemon/policy/kube-source.js';
import type { PolicyKind, PolicyObjectSink, PolicySource } from '../../../daemon/policy/policy-source.js';
import { API_VERSIONS, FakeApi, writeKubeconfig, type Obj } from '../../support/fake-kube-api.js';

/** The repository root (this file runs from dist/test/unit/daemon/). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

type Call =
  { op: 'replaceAll'; kind: PolicyKind; manifests: readonly unknown[] } | { op: 'upsert'; kind: PolicyKind; manifest: unknown } | { op: 'remove'; kind: PolicyKind; namespace: string; name: string };

class RecordingSink implements PolicyObjectSink {
  readonly calls: Call[] = [];
  replaceAll(kind: PolicyKind, manifests: readonly unknown[]): void {
    this.calls.push({ op: 'replaceAll', kind, manifests });
  }
  upsert(kind: PolicyKind, manifest: unknown): void {
    this.calls.push({ op: 'upsert', kind, manifest });
  }
  remove(kind: PolicyKind, namespace: string, name: string): void {
    this.calls.push({ op: 'remove', kind, namespace, name });
  }
  of(op: Call['op'], kind?: PolicyKind): Call[] {
    return this.calls.filter((c) => c.op === op && (kind === undefined || c.kind === kind));
  }
}

class RecordingLog implements Log {
  readonly lines: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
  error = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'error', message, fields });
  warn = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'warn', message, fields });
  info = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'info', message, fields });
  debug = (message: string, fields?: Record<string, unknown>) => void this.lines.push({ level: 'debug', message, fields });
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}

async function until(_t: ExecutionContext, what: string, condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-kube-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Two namespaces, three pods (one hostNetwork), one policy; every object has managedFields. */
function seed(api: FakeApi): void {
  const managedFields = [{ manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:metadata': {} } }];
  for (const ns of ['x', 'y']) api.put('Namespace', { metadata: { name: ns, labels: { ns }, managedFields }, spec: {}, status: { phase: 'Active' } });
  api.put('Pod', { metadata: { name: 'a', namespace: 'x', labels: { pod: 'a' }, managedFields }, spec: { containers: [] }, status: { podIP: '10.0.0.1' } });
  api.put('Pod', { metadata: { name: 'b', namespace: 'x', labels: { pod: 'b' }, managedFields }, spec: { containers: [] }, status: { podIP: '10.0.0.2' } });
  api.put('Pod', { metadata: { name: 'host', namespace: 'y', managedFields }, spec: { hostNetwork: true, containers: [] }, status: { podIP: '192.0.2.1' } });
  api.put('NetworkPolicy', { metadata: { name: 'deny', namespace: 'x', managedFields }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
}

interface Running {
  api: FakeApi;
  sink: RecordingSink;
  log: RecordingLog;
  source: PolicySource;
}

/** A seeded fake API server and a started source on it; both end with the test. */
async function running(t: ExecutionContext, extra: Partial<KubeSourceOptions> = {}, seeded = true): Promise<Running> {
  const api = new FakeApi();
  await api.listen();
  t.teardown(() => api.close());
  if (seeded) seed(api);
  const sink = new RecordingSink();
  const log = new RecordingLog();
  const kubeconfigPath = writeKubeconfig(scratch(t), `http://127.0.0.1:${api.port}`);
  const source = await createKubeSource({ kubeconfigPath, sink, logger: log, retry: { initialMs: 10, maxMs: 50 }, ...extra });
  t.teardown(() => source.stop());
  await source.start();
  return { api, sink, log, source };
}

function names(manifests: readonly unknown[]): string[] {
  return manifests.map((m) => {
    const meta = (m as Obj).metadata;
    return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
  });
}

test('start() resolves after the full list of every kind was delivered, paged, completed and without managedFields', async (t) => {
  const { api, sink } = await running(t, { pageSize: 2, nodeName: 'node-1' });
  t.is(sink.of('replaceAll').length, 3);
  const all = new Map(sink.of('replaceAll').map((c) => [c.kind, (c as { manifests: readonly unknown[] }).manifests]));
  t.deepEqual(names(all.get('Namespace')!), ['x', 'y']);
  t.deepEqual(names(all.get('Pod')!), ['x/a', 'x/b', 'y/host'], 'a hostNetwork pod is delivered too');
  t.deepEqual(names(all.get('NetworkPolicy')!), ['x/deny']);
  for (const [kind, manifests] of all) {
    for (const m of manifests as Obj[]) {
      t.is(m.apiVersion, API_VERSIONS[kind]);
      t.is(m.kind, kind);
      t.false('managedFields' in m.metadata);
      t.truthy(m.metadata.resourceVersion);
    }
  }
  const pod = (all.get('Pod') as Obj[])[0]!;
  t.deepEqual(pod.metadata.labels, { pod: 'a' });
  t.deepEqual(pod.status, { podIP: '10.0.0.1' });
  // Three pods in pages of two: a second page through `continue`.
  t.true(api.requests.some((r) => r.kind === 'Pod' && r.query.get('continue') === `${api.rv}:2`));
  t.true(api.requests.every((r) => r.userAgent === 'berthd (node node-1)'));
  // The watch starts from the list's resourceVersion, asking for bookmarks.
  await until(t, 'three watches', () => api.watchers.size === 3);
  const podWatch = api.requests.find((r) => r.kind === 'Pod' && r.watch)!;
  t.is(podWatch.query.get('resourceVersion'), String(api.rv));
  t.is(podWatch.query.get('allowWatchBookmarks'), 'true');
});

test('watch events: ADDED and MODIFIED upsert, DELETED removes (namespace "" for a Namespace)', async (t) => {
  const { api, sink } = await running(t);
  await until(t, 'three watches', () => api.watchers.size === 3);
  sink.calls.length = 0;
  api.put('Pod', { metadata: { name: 'c', namespace: 'y', managedFields: [{}] }, spec: {}, status: {} });
  api.put('Pod', { metadata: { name: 'a', namespace: 'x', labels: { pod: 'a', tier: 'web' } }, spec: {}, status: {} });
  api.delete('Pod', 'x', 'b');
  api.delete('Namespace', '', 'y');
  api.put('NetworkPolicy', { metadata: { name: 'allow', namespace: 'x' }, spec: { podSelector: {} } });
  await until(t, 'five calls', () => sink.calls.length === 5);
  const [added, modified] = sink.of('upsert', 'Pod') as { manifest: Obj }[];
  t.like(added!.manifest, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'c', namespace: 'y' } });
  t.false('managedFields' in added!.manifest.metadata);
  t.deepEqual(modified!.manifest.metadata.labels, { pod: 'a', tier: 'web' });
  t.deepEqual(sink.of('remove'), [
    { op: 'remove', kind: 'Pod', namespace: 'x', name: 'b' },
    { op: 'remove', kind: 'Namespace', namespace: '', name: 'y' },
  ]);
  t.like((sink.of('upsert', 'NetworkPolicy')[0] as { manifest: Obj }).manifest, { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' });
  t.is(sink.of('replaceAll').length, 0);
});

test('a watch the server ends is opened again from the last resourceVersion (a BOOKMARK moves it), without a relist', async (t) => {
  const { api, sink } = await running(t);
  await until(t, 'three watches', () => api.watchers.size === 3);
  api.put('Pod', { metadata: { name: 'c', namespace: 'x' }, spec: {}, status: {} });
  const afterPod = api.rv;
  api.put('Namespace', { metadata: { name: 'z' } });
  api.bookmark('Namespace');
  await until(t, 'the two upserts', () => sink.of('upsert').length === 2);
  await new Promise((r) => setTimeout(r, 200)); // the bookmark line is read (nothing to observe it by)
  sink.calls.length = 0;
  api.endWatches();
  await until(t, 'the second watch of each kind', () => (['Namespace', 'Pod', 'NetworkPolicy'] as const).every((k) => api.watchCount(k) === 2) && api.watchers.size === 3);
  const rewatch = (kind: PolicyKind) => api.requests.filter((r) => r.kind === kind && r.watch)[1]!.query.get('resourceVersion');
  t.is(rewatch('Pod'), String(afterPod));
  t.is(rewatch('Namespace'), String(api.rv), 'from the bookmark');
  // The watches go on delivering.
  api.delete('Pod', 'x', 'c');
  await until(t, 'the remove', () => sink.calls.length === 1);
  t.deepEqual(sink.calls, [{ op: 'remove', kind: 'Pod', namespace: 'x', name: 'c' }]);
  t.is(api.listCount('Pod'), 1, 'no relist');
});

for (const goneAs of ['event', 'status'] as const) {
  test(`410 Gone (${goneAs === 'event' ? 'an ERROR event' : 'the HTTP status'}) relists and replaces everything with what exists now`, async (t) => {
    const { api, sink, log } = await running(t);
    api.goneAs = goneAs;
    await until(t, 'three watches', () => api.watchers.size === 3);
    sink.calls.length = 0;
    // Changes whose events the source never sees, then the history is compacted.
    api.put('Pod', { metadata: { name: 'late', namespace: 'y' }, spec: {}, status: {} }, true);
    api.delete('Pod', 'x', 'a', true);
    api.delete('NetworkPolicy', 'x', 'deny', true);
    api.compact();
    await until(t, 'a relist of every kind', () => sink.of('replaceAll').length === 3);
    const replaced = new Map(sink.of('replaceAll').map((c) => [c.kind, names((c as { manifests: readonly unknown[] }).manifests)]));
    t.deepEqual(replaced.get('Pod'), ['x/b', 'y/host', 'y/late']);
    t.deepEqual(replaced.get('NetworkPolicy'), []);
    t.deepEqual(replaced.get('Namespace'), ['x', 'y']);
    t.is(api.listCount('Pod'), 2);
    t.deepEqual(log.at('warn'), [], 'an expired resourceVersion is routine, not an outage');
    // And the new watches deliver.
    await until(t, 'three watches', () => api.watchers.size === 3);
    api.put('Pod', { metadata: { name: 'later', namespace: 'y' }, spec: {}, status: {} });
    await until(t, 'the upsert', () => sink.of('upsert').length === 1);
  });
}

test('failures are retried with backoff; an outage is logged once and its end once', async (t) => {
  const { api, sink, log } = await running(t);
  await until(t, 'three watches', () => api.watchers.size === 3);
  api.failNext = 12;
  api.endWatches();
  await until(t, 'the failures used up', () => api.failNext === 0 && api.watchers.size === 3);
  await until(t, 'the recovery line', () => log.at('info').includes('Kubernetes API server reachable again'));
  t.deepEqual(log.at('warn'), ['lost the Kubernetes API server; retrying with backoff']);
  t.regex(String(log.lines.find((l) => l.level === 'warn')!.fields?.error), /^\/api.*: HTTP 500: etcdserver: request timed out$/);
  t.is(log.at('info').filter((m) => m === 'Kubernetes API server reachable again').length, 1);
  t.true(log.at('debug').filter((m) => m.includes('retrying')).length >= 9);
  api.put('NetworkPolicy', { metadata: { name: 'p2', namespace: 'y' }, spec: { podSelector: {} } });
  await until(t, 'the upsert', () => sink.of('upsert').length === 1);
});

test('a source that cannot reach the server keeps trying; stop() ends it and start() then rejects', async (t) => {
  const api = new FakeApi();
  await api.listen();
  t.teardown(() => api.close());
  api.failNext = Number.MAX_SAFE_INTEGER;
  const log = new RecordingLog();
  const source = await createKubeSource({
    kubeconfigPath: writeKubeconfig(scratch(t), `http://127.0.0.1:${api.port}`),
    sink: new RecordingSink(),
    logger: log,
    retry: { initialMs: 5, maxMs: 20 },
  });
  const started = source.start();
  await until(t, 'several attempts', () => api.requests.length >= 10);
  t.is(log.at('warn').length, 1);
  await source.stop();
  await t.throwsAsync(started, { message: /stopped before its first list/ });
  await new Promise((r) => setTimeout(r, 20)); // a request sent just before stop() may still arrive
  const count = api.requests.length;
  await new Promise((r) => setTimeout(r, 60));
  t.is(api.requests.length, count, 'no request after stop()');
});

test('stop() ends every request: no connection stays open', async (t) => {
  const { api, source } = await running(t);
  await until(t, 'three watches', () => api.watchers.size === 3);
  t.true(api.sockets.size >= 3);
  await source.stop();
  await until(t, 'every connection closed', () => api.sockets.size === 0 && api.watchers.size === 0, 2000);
  t.pass();
});

test('stop() cuts requests still waiting for an answer', async (t) => {
  const api = new FakeApi();
  await api.listen();
  t.teardown(() => api.close());
  api.hang = true;
  const source = await createKubeSource({ kubeconfigPath: writeKubeconfig(scratch(t), `http://127.0.0.1:${api.port}`), sink: new RecordingSink(), logger: new RecordingLog() });
  const started = source.start();
  await until(t, 'three lists asked for', () => api.requests.length === 3);
  const before = Date.now();
  await source.stop();
  t.true(Date.now() - before < 1000);
  await t.throwsAsync(started);
  await until(t, 'every connection closed', () => api.sockets.size === 0, 2000);
});

test('HTTPS with the CA of the kubeconfig', async (t) => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    t.fail('openssl is missing, so there is no certificate to test with: install the Debian package openssl (bash scripts/setup.sh)');
    return;
  }
  const dir = scratch(t);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=berth-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const api = new FakeApi({ key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert });
  await api.listen();
  t.teardown(() => api.close());
  seed(api);
  const sink = new RecordingSink();
  const base64 = Buffer.from(cert).toString('base64');
  const good = await createKubeSource({ kubeconfigPath: writeKubeconfig(dir, `https://127.0.0.1:${api.port}`, { 'certificate-authority-data': base64 }), sink, logger: new RecordingLog() });
  t.teardown(() => good.stop());
  await good.start();
  t.is(sink.of('replaceAll').length, 3);
  await good.stop();
  // Without the CA the certificate is refused, and the source says so.
  const log = new RecordingLog();
  const other = join(dir, 'no-ca');
  mkdirSync(other);
  const bad = await createKubeSource({ kubeconfigPath: writeKubeconfig(other, `https://127.0.0.1:${api.port}`, {}), sink: new RecordingSink(), logger: log, retry: { initialMs: 5, maxMs: 10 } });
  t.teardown(() => bad.stop());
  void bad.start();
  await until(t, 'the warning', () => log.at('warn').length === 1);
  t.regex(String(log.lines.find((l) => l.level === 'warn')!.fields?.error), /self[- ]signed/i);
});

test('a kubeconfig that is missing, malformed or names no usable cluster: an error naming the file', async (t) => {
  const dir = scratch(t);
  const options = (kubeconfigPath: string) => ({ kubeconfigPath, sink: new RecordingSink(), logger: new RecordingLog() });
  const missing = join(dir, 'nope.yaml');
  await t.throwsAsync(createKubeSource(options(missing)), { code: 'invalid-config', message: `kubeconfig ${missing}: no such file` });
  const cases: [string, string, RegExp][] = [
    ['malformed', 'clusters: [\n  - name: a\n  cluster: {', /cannot be read: /],
    ['empty', '', /not a kubeconfig/],
    ['no-context', 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n', /has no current-context/],
    ['bad-context', 'clusters: []\nusers: []\ncontexts: []\ncurrent-context: gone\n', /current context "gone" names no cluster/],
    ['http', readFileSync(writeKubeconfig(mkdtempSync(join(dir, 'h')), 'http://127.0.0.1:1', {}), 'utf8'), /plain http: server needs insecure-skip-tls-verify: true/],
    ['no-url', readFileSync(writeKubeconfig(mkdtempSync(join(dir, 'u')), 'not a url'), 'utf8'), /has server "not a url", not a URL/],
  ];
  for (const [name, text, message] of cases) {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, text);
    const err = await t.throwsAsync(createKubeSource(options(file)));
    t.true(err?.message.startsWith(`kubeconfig ${file}: `), `${name}: ${err?.message}`);
    t.regex(err?.message ?? '', message, name);
  }
  await t.throwsAsync(createKubeSource(options(dir)), { message: `kubeconfig ${dir}: is a directory, not a file` });
});

test('berthd --kubeconfig FILE', (t) => {
  t.like(parseDaemonArgs(['--kubeconfig', '/etc/kubernetes/berthd.conf']), { kubeconfig: '/etc/kubernetes/berthd.conf' });
  t.is((parseDaemonArgs([]) as { kubeconfig?: string }).kubeconfig, undefined);
  t.throws(() => parseDaemonArgs(['--kubeconfig', '']), { message: /--kubeconfig needs a file name/ });
  t.throws(() => parseDaemonArgs(['--kubeconfig']), { message: /--kubeconfig/ });
});

test('bundled as berthd is, the source loads @kubernetes/client-node from node_modules at run time, and its process ends after stop()', async (t) => {
  const { build } = await import('esbuild');
  const { executableOptions, EXTERNAL } = (await import(pathToFileURL(join(ROOT, 'scripts/bundle-options.mjs')).href)) as {
    executableOptions(entry: string, outfile: string): Record<string, unknown>;
    EXTERNAL: string[];
  };
  t.true(EXTERNAL.includes('@kubernetes/client-node'));
  // Built into dist/, where dist/bin/berthd resolves its external packages from.
  const dir = mkdtempSync(join(ROOT, 'dist', '.kube-bundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const entry = join(dir, 'entry.ts');
  writeFileSync(
    entry,
    `import { createKubeSource } from ${JSON.stringify(join(ROOT, 'daemon/policy/kube-source.ts'))};
const counts: Record<string, number> = {};
const nothing = () => {};
async function main(): Promise<void> {
  const source = await createKubeSource({
    kubeconfigPath: process.argv[2]!,
    sink: { replaceAll: (kind, m) => { counts[kind] = m.length; }, upsert: nothing, remove: nothing },
    logger: { error: nothing, warn: nothing, info: nothing, debug: nothing },
  });
  await source.start();
  await source.stop();
  console.log(JSON.stringify(counts));
}
void main();
`,
  );
  const outfile = join(dir, 'kube-check.cjs');
  await build(executableOptions(entry, outfile) as Parameters<typeof build>[0]);
  const bundle = readFileSync(outfile, 'utf8');
  t.true(bundle.includes('import("@kubernetes/client-node")'), 'a real dynamic import');
  t.false(bundle.includes('class KubeConfig'), 'the package is not in the bundle');

  const api = new FakeApi();
  await api.listen();
  t.teardown(() => api.close());
  seed(api);
  const kubeconfig = writeKubeconfig(scratch(t), `http://127.0.0.1:${api.port}`);
  const child = spawn(process.execPath, [outfile, kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errText = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  child.stderr.on('data', (d: Buffer) => (errText += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const exit = await new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  clearTimeout(timer);
  t.is(exit, 0, `exits by itself after stop(): ${errText}`);
  t.deepEqual(JSON.parse(out), { Namespace: 2, Pod: 3, NetworkPolicy: 1 });
});

test('the built berthd does not carry @kubernetes/client-node', (t) => {
  const berthd = join(ROOT, 'dist/bin/berthd');
  if (!existsSync(berthd)) {
    t.fail(`${berthd} is not built: run npm run build (bash scripts/test.sh builds first)`);
    return;
  }
  const text = readFileSync(berthd, 'utf8');
  t.false(text.includes('class KubeConfig'));
  t.false(/require\("@kubernetes\/client-node"\)/.test(text), 'only ever a lazy import()');
});
