/**
 * berthd with `--kubeconfig FILE`: the policy agent takes Namespaces, Pods and NetworkPolicies
 * from the Kubernetes API (a fake API server in this process, on 127.0.0.1 of the test's
 * private namespace: no kube-apiserver runs here) and pods' addresses from what berth's CNI
 * plugins record. Changes made through the API (a pod's labels, a policy deleted, a policy
 * added) reach the kernel through the watches; `berth policy apply` is refused (kubectl owns
 * the objects) while `berth policy ls` shows what the API holds.
 *
 * The fake API lives in this process, so everything here that waits (probes, the CLI, cniclient)
 * is asynchronous: a blocked event loop would stall berthd's lists and watches.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeApi, writeKubeconfig, type Obj } from '../../support/fake-kube-api.js';
import { ROOT } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, pods, world, type Pod } from '../cni/fixtures.js';

const BERTH = join(ROOT, 'dist', 'bin', 'berth');
const BERTHD = join(ROOT, 'dist', 'bin', 'berthd');
const SUBNET = '10.214.0.0/24';
const WEB_IP = '10.214.0.50';

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end without blocking this process (the fake API must keep answering). */
function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d));
    p.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function berth(...args: string[]): Promise<Ran> {
  return run(process.execPath, [BERTH, ...args]);
}

/** A TCP server on port 80 in `netns`; resolves once it listens. */
async function serve(t: ExecutionContext, netns: string): Promise<void> {
  const p = spawn('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, '-e', "require('net').createServer((s) => s.end('hi')).listen(80, '0.0.0.0', () => console.log('ready'))"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void p.kill('SIGKILL'));
  await new Promise<void>((resolve, reject) => {
    p.stdout.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`the server in ${netns} exited (${code})`)));
  });
}

/** One TCP connect from `netns` to ip:80: true when it got an answer. */
async function reaches(netns: string, ip: string, timeoutMs = 400): Promise<boolean> {
  const script = `const s=require('net').connect(80,'${ip}');s.setTimeout(${timeoutMs},()=>process.exit(1));s.on('data',()=>process.exit(0));s.on('error',()=>process.exit(1))`;
  return (await run('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, '-e', script])).code === 0;
}

async function eventually(fn: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return fn();
}

async function tableExists(): Promise<boolean> {
  return (await run('/usr/sbin/nft', ['list', 'table', 'inet', 'berth-policy'])).code === 0;
}

function pod(name: string, labels: Record<string, string>, ports: object[] = []): Obj {
  return { metadata: { name, namespace: 'x', labels, uid: `uid-${name}` }, spec: { containers: [{ name: 'c', image: 'i', ports }] }, status: { phase: 'Pending' } };
}

/** What kubelet does after the CNI ADD: the pod is running with the address the plugin gave. */
function podRunning(api: FakeApi, name: string, ip: string): void {
  const now = api.get('Pod', 'x', name)!;
  api.put('Pod', { ...now, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } });
}

const WEB_FROM_CLIENT: Obj = {
  metadata: { name: 'web-from-client', namespace: 'x' },
  spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 'http' }] }], policyTypes: ['Ingress'] },
};

const DEFAULT_DENY: Obj = { metadata: { name: 'default-deny-ingress', namespace: 'x' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };

function seed(api: FakeApi): void {
  api.put('Namespace', { metadata: { name: 'x', labels: { ns: 'x', 'kubernetes.io/metadata.name': 'x' } }, spec: {}, status: { phase: 'Active' } });
  api.put('Pod', pod('web', { app: 'web' }, [{ name: 'http', containerPort: 80, protocol: 'TCP' }]));
  api.put('Pod', pod('client', { app: 'client' }));
  api.put('Pod', pod('other', { app: 'other' }));
  api.put('NetworkPolicy', WEB_FROM_CLIENT);
}

function policyNames(ls: Ran): string[] {
  return (JSON.parse(ls.stdout) as { metadata?: { namespace?: string; name?: string }; namespace?: string; name?: string }[])
    .map((p) => `${p.metadata?.namespace ?? p.namespace}/${p.metadata?.name ?? p.name}`)
    .sort();
}

test('berthd --kubeconfig: policies, pods and their labels come from the Kubernetes API, and its watches change the dataplane', async (t) => {
  const w = world('kube');
  const p = pods('kube', 3);
  const api = new FakeApi();
  t.teardown(async () => {
    await api.close();
    await run('/usr/sbin/nft', ['delete', 'table', 'inet', 'berth-policy']);
    p.cleanup();
    w.cleanup();
  });
  await api.listen();
  seed(api);
  const kubeconfig = writeKubeconfig(w.dir, api.url);

  const runDir = w.env.BERTH_RUN_DIR!;
  const socket = join(w.dir, 'berthd.sock');
  const log = join(w.dir, 'berthd.log');
  mkdirSync(runDir, { recursive: true });
  const daemon = spawn(
    BERTHD,
    ['--no-docker', '--metrics-address', 'none', '--data-dir', join(w.dir, 'berthd-data'), '--run-dir', runDir, '--api-socket', socket, '--log-file', log, '--kubeconfig', kubeconfig],
    { stdio: 'inherit' },
  );
  t.teardown(() => void daemon.kill('SIGKILL'));
  t.true(await eventually(() => existsSync(socket), 15_000), 'berthd serves its API');
  t.true(await eventually(() => api.watchers.size === 3, 15_000), 'berthd lists and watches Namespaces, Pods and NetworkPolicies');
  t.true(await eventually(tableExists, 5000), "the API's policy is programmed before any pod exists");

  // `berth policy ls` shows what the API holds; apply is refused, naming kubectl.
  const ls = await berth('policy', 'ls', '--host', socket, '-A', '--format', 'json');
  t.is(ls.code, 0, ls.stderr);
  t.deepEqual(policyNames(ls), ['x/web-from-client']);
  const file = join(w.dir, 'np.yaml');
  writeFileSync(file, 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: mine, namespace: x}\nspec: {podSelector: {}}\n');
  const apply = await berth('policy', 'apply', '--host', socket, '-f', file);
  t.not(apply.code, 0, 'apply against a kubeconfig-mode berthd fails');
  t.regex(apply.stderr, /kubectl/, apply.stderr);
  t.regex(apply.stderr, /Kubernetes API/);
  t.deepEqual(policyNames(await berth('policy', 'ls', '--host', socket, '-A', '--format', 'json')), ['x/web-from-client'], 'nothing was stored');

  // The pods come up through the CNI plugins, known by K8S_POD_NAMESPACE/K8S_POD_NAME.
  const conf = conflist('kubenet', [berthBridge(w, 'kubenet', SUBNET)]);
  const [web, cl, other] = p.pods as [Pod, Pod, Pod];
  const pod3 = { web, client: cl, other };
  const args = (name: string, extra?: string) => `K8S_POD_NAMESPACE=x;K8S_POD_NAME=${name}${extra ? `;${extra}` : ''}`;
  const cni = client(w);
  const added: string[] = [];
  t.teardown(async () => {
    for (const name of added) await cni.del(pod3[name as keyof typeof pod3], conf, { args: args(name) });
  });
  await serve(t, web.netns);
  await serve(t, other.netns);
  const ips: Record<string, string> = {};
  for (const [name, extra] of [['client'], ['other'], ['web', `IP=${WEB_IP}`]] as [keyof typeof pod3, string?][]) {
    const add = await cni.add(pod3[name], conf, { args: args(name, extra) });
    t.is(add.code, 0, add.stderr);
    added.push(name);
    ips[name] = addressOf(add);
    podRunning(api, name, ips[name]);
  }
  t.is(ips.web, WEB_IP);
  const otherIp = ips.other!;

  t.true(await eventually(() => reaches(cl.netns, WEB_IP), 5000), 'client (app=client) reaches web on the named port http');
  t.false(await reaches(other.netns, WEB_IP), 'other (app=other) does not reach web');
  t.true(await eventually(() => reaches(cl.netns, otherIp), 5000), 'other, which no policy selects, is reachable');
  const matrix = JSON.parse((await berth('policy', 'matrix', '--host', socket, '--format', 'json')).stdout) as Record<string, Record<string, boolean>>;
  t.deepEqual(Object.keys(matrix).sort(), ['x/client', 'x/other', 'x/web']);
  t.true(matrix['x/client']?.['x/web']);
  t.false(matrix['x/other']?.['x/web']);

  // (a) other's labels change in the API (MODIFIED): it is a client now.
  const was = api.get('Pod', 'x', 'other')!;
  api.put('Pod', { ...was, metadata: { ...was.metadata, labels: { app: 'client' } } });
  t.true(await eventually(() => reaches(other.netns, WEB_IP), 5000), 'relabelled other reaches web');
  t.true(await reaches(cl.netns, WEB_IP), 'client still does');

  // (b) the policy is deleted in the API: filtering is lifted, the table goes.
  const labelled = api.get('Pod', 'x', 'other')!;
  api.put('Pod', { ...labelled, metadata: { ...labelled.metadata, labels: { app: 'other' } } });
  t.true(await eventually(async () => !(await reaches(other.netns, WEB_IP, 300)), 5000), 'other is denied again with its old labels');
  api.delete('NetworkPolicy', 'x', 'web-from-client');
  t.true(await eventually(async () => !(await tableExists()), 5000), 'no inet berth-policy table left');
  t.false(existsSync(join(runDir, 'policy', 'enforcing')), 'and ADD no longer guards');
  t.true(await eventually(() => reaches(other.netns, WEB_IP), 5000), 'other reaches web with no policy');
  t.true(await reaches(cl.netns, otherIp));
  t.deepEqual(policyNames(await berth('policy', 'ls', '--host', socket, '-A', '--format', 'json')), []);

  // (c) a default-deny-ingress policy is added in the API: every pod of x is closed to ingress.
  api.put('NetworkPolicy', DEFAULT_DENY);
  t.true(await eventually(tableExists, 5000), 'the table is back');
  t.true(await eventually(async () => !(await reaches(cl.netns, otherIp, 300)), 5000), 'client can no longer reach other');
  t.false(await reaches(cl.netns, WEB_IP), 'nor web');
  t.false(await reaches(other.netns, WEB_IP), 'nor other web');
  t.deepEqual(policyNames(await berth('policy', 'ls', '--host', socket, '-A', '--format', 'json')), ['x/default-deny-ingress']);

  // The pods go through CNI DEL: the records are forgotten.
  for (const name of [...added]) {
    t.is((await cni.del(pod3[name as keyof typeof pod3], conf, { args: args(name) })).code, 0);
    added.splice(added.indexOf(name), 1);
  }
  const records = join(runDir, 'policy', 'kv');
  t.true(await eventually(() => !existsSync(records) || readdirSync(records).filter((f) => f.startsWith('workloads')).length === 0, 3000), 'DEL forgets the workloads');
});

/** Connects from `netns` to ip:80 in a loop until stopped; counts attempts and successes. */
function prober(t: ExecutionContext, netns: string, ip: string): { stop: () => Promise<{ attempts: number; successes: number }> } {
  const script = `const net=require('net');let a=0,ok=0,run=true;process.on('SIGTERM',()=>{run=false});
function go(){if(!run){console.log(JSON.stringify({attempts:a,successes:ok}));process.exit(0)}a++;const s=net.connect(80,'${ip}');let done=false;
const end=(good)=>{if(done)return;done=true;if(good)ok++;s.destroy();setTimeout(go,2)};s.setTimeout(150,()=>end(false));s.on('data',()=>end(true));s.on('error',()=>end(false))}go()`;
  const p = spawn('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void p.kill('SIGKILL'));
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d));
  // Killed by the teardown (a test that failed before stop()): nothing printed, nothing to tell.
  const result = new Promise<{ attempts: number; successes: number }>((resolve) =>
    p.on('close', () => resolve(out ? (JSON.parse(out) as { attempts: number; successes: number }) : { attempts: 0, successes: 0 })),
  );
  return {
    stop: async () => {
      p.kill('SIGTERM');
      return result;
    },
  };
}

// The pod's ADD comes first, then either the table is there already (the plugin closes the pod)
// or the first policy arrives after it (the table is written anew, and the pod closed in it).
for (const policyFirst of [true, false]) {
  const when = policyFirst ? 'while a policy is enforced' : 'before the first policy arrives';
  test(`berthd --kubeconfig: a pod the plugin records ${when}, whose Pod object berthd has not seen yet, stays closed until it arrives`, async (t) => {
    const w = world(policyFirst ? 'kubl' : 'kubm');
    const p = pods(policyFirst ? 'kubl' : 'kubm', 3);
    const api = new FakeApi();
    t.teardown(async () => {
      await api.close();
      await run('/usr/sbin/nft', ['delete', 'table', 'inet', 'berth-policy']);
      p.cleanup();
      w.cleanup();
    });
    await api.listen();
    // web's Pod object is not there yet: berthd's watch lags behind kubelet (or the API is away).
    api.put('Namespace', { metadata: { name: 'x', labels: { ns: 'x' } }, spec: {}, status: {} });
    api.put('Pod', pod('client', { app: 'client' }));
    api.put('Pod', pod('other', { app: 'other' }));
    if (policyFirst) api.put('NetworkPolicy', WEB_FROM_CLIENT);
    const runDir = w.env.BERTH_RUN_DIR!;
    const socket = join(w.dir, 'berthd.sock');
    mkdirSync(runDir, { recursive: true });
    const daemon = spawn(
      BERTHD,
      [
        '--no-docker',
        '--metrics-address',
        'none',
        '--data-dir',
        join(w.dir, 'berthd-data'),
        '--run-dir',
        runDir,
        '--api-socket',
        socket,
        '--log-file',
        join(w.dir, 'berthd.log'),
        '--kubeconfig',
        writeKubeconfig(w.dir, api.url),
      ],
      { stdio: 'inherit' },
    );
    t.teardown(() => void daemon.kill('SIGKILL'));
    t.true(await eventually(() => existsSync(socket) && api.watchers.size === 3, 15_000), 'berthd follows the API');
    t.is(await eventually(tableExists, policyFirst ? 5000 : 500), policyFirst);

    const net = policyFirst ? 'kublnet' : 'kubmnet';
    const conf = conflist(net, [berthBridge(w, net, SUBNET)]);
    const [web, cl, other] = p.pods as [Pod, Pod, Pod];
    const pod3 = { web, client: cl, other };
    const args = (name: string, extra?: string) => `K8S_POD_NAMESPACE=x;K8S_POD_NAME=${name}${extra ? `;${extra}` : ''}`;
    const cni = client(w);
    const added: (keyof typeof pod3)[] = [];
    t.teardown(async () => {
      for (const name of added) await cni.del(pod3[name], conf, { args: args(name) });
    });
    for (const name of ['client', 'other'] as const) {
      t.is((await cni.add(pod3[name], conf, { args: args(name) })).code, 0);
      added.push(name);
    }
    await serve(t, web.netns);
    const add = await cni.add(web, conf, { args: args('web', `IP=${WEB_IP}`) });
    t.is(add.code, 0, add.stderr);
    added.push('web');
    if (!policyFirst) {
      t.true(await eventually(() => reaches(other.netns, WEB_IP), 5000), 'no policy: web is open');
      api.put('NetworkPolicy', WEB_FROM_CLIENT);
      t.true(await eventually(tableExists, 5000), 'the policy is programmed');
    }
    const probe = prober(t, other.netns, WEB_IP);
    await new Promise((r) => setTimeout(r, 1500));
    t.false(await reaches(cl.netns, WEB_IP), 'closed while berthd does not know the pod');
    api.put('Pod', pod('web', { app: 'web' }, [{ name: 'http', containerPort: 80, protocol: 'TCP' }]));
    t.true(await eventually(() => reaches(cl.netns, WEB_IP), 5000), 'the allowed client reaches web once its Pod object arrived');
    await new Promise((r) => setTimeout(r, 300));
    const seen = await probe.stop();
    t.is(seen.successes, 0, `no denied connection ever reached web (${seen.successes} of ${seen.attempts} did)`);
    t.true(seen.attempts > 5);
  });
}
