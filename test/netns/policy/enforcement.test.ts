/**
 * Pods that berth's CNI plugins attach, known by K8S_POD_NAMESPACE/K8S_POD_NAME, under
 * policies applied with `berth policy`: a selected pod is never reachable by denied traffic,
 * not even in the moment its interface comes up (a prober hammers its address from before
 * the ADD), and allowed traffic flows once the pod is programmed — by berthd's policy agent
 * as soon as the plugin records the pod, or, without berthd, by `berth policy sync`.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, pods, world, type Pod, type World } from '../cni/fixtures.js';

const BERTH = join(ROOT, 'dist', 'bin', 'berth');
const BERTHD = join(ROOT, 'dist', 'bin', 'berthd');
const SUBNET = '10.213.0.0/24';
const WEB_IP = '10.213.0.50';

const MANIFESTS = `apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: x, labels: {app: web}}
spec: {containers: [{name: c, image: i, ports: [{name: http, containerPort: 80}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: x, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-from-client, namespace: x}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: http}]}]
`;

/** A TCP server on port 80 in `netns`, started before the pod has an interface. */
function serve(t: ExecutionContext, netns: string): void {
  const p = spawn('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, '-e', "require('net').createServer((s) => s.end('hi')).listen(80, '0.0.0.0', () => console.log('ready'))"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void p.kill('SIGKILL'));
}

/** One TCP connect from `netns` to ip:80: true when it got through. */
function reaches(netns: string, ip: string, timeoutMs = 400): boolean {
  const script = `const s=require('net').connect(80,'${ip}');s.setTimeout(${timeoutMs},()=>process.exit(1));s.on('data',()=>process.exit(0));s.on('error',()=>process.exit(1))`;
  return spawnSync('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, '-e', script]).status === 0;
}

async function eventually(fn: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return fn();
}

/** Connects from `netns` to ip:80 in a loop until stopped; counts attempts and successes. */
function prober(netns: string, ip: string): { stop: () => Promise<{ attempts: number; successes: number }> } {
  const script = `const net=require('net');let a=0,ok=0,run=true;process.on('SIGTERM',()=>{run=false});
function go(){if(!run){console.log(JSON.stringify({attempts:a,successes:ok}));process.exit(0)}a++;const s=net.connect(80,'${ip}');let done=false;
const end=(good)=>{if(done)return;done=true;if(good)ok++;s.destroy();setTimeout(go,2)};s.setTimeout(150,()=>end(false));s.on('data',()=>end(true));s.on('error',()=>end(false))}go()`;
  const p: ChildProcess = spawn('/usr/sbin/ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: p.stdout! });
  const result = new Promise<{ attempts: number; successes: number }>((resolve) => lines.once('line', (l) => resolve(JSON.parse(l) as { attempts: number; successes: number })));
  return {
    stop: async () => {
      p.kill('SIGTERM');
      return result;
    },
  };
}

function berth(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BERTH, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function setup(t: ExecutionContext, name: string): { w: World; conf: object; pod: Record<'web' | 'client' | 'other', Pod>; args: (p: string, extra?: string) => string } {
  const w = world(name);
  const p = pods(name.slice(0, 4), 3);
  t.teardown(() => {
    spawnSync('/usr/sbin/nft', ['delete', 'table', 'inet', 'berth-policy']);
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist(`${name}net`, [berthBridge(w, `${name}net`, SUBNET)]);
  const [web, cl, other] = p.pods as [Pod, Pod, Pod];
  return { w, conf, pod: { web, client: cl, other }, args: (pod, extra) => `K8S_POD_NAMESPACE=x;K8S_POD_NAME=${pod}${extra ? `;${extra}` : ''}` };
}

function manifestFile(w: World): string {
  const f = join(w.dir, 'policy.yaml');
  writeFileSync(f, MANIFESTS);
  return f;
}

test('berthd: a selected pod is closed from its first packet on; allowed traffic flows once the agent has programmed it', async (t) => {
  const { w, conf, pod, args } = setup(t, 'enfd');
  const runDir = w.env.BERTH_RUN_DIR!;
  const socket = join(w.dir, 'berthd.sock');
  mkdirSync(runDir, { recursive: true });
  // --no-cni: the pod below is added while the agent is frozen, so by the in-process plugin (a
  // frozen berthd serving CNI would hold the ADD itself); what is tested is the agent's guard.
  const daemon = spawn(
    BERTHD,
    ['--no-docker', '--no-cni', '--metrics-address', 'none', '--data-dir', join(w.dir, 'berthd-data'), '--run-dir', runDir, '--api-socket', socket, '--log-file', join(w.dir, 'berthd.log')],
    { stdio: 'inherit' },
  );
  t.teardown(() => {
    daemon.kill('SIGCONT');
    daemon.kill('SIGKILL');
  });
  t.true(await eventually(() => existsSync(socket), 10_000), 'berthd serves its API');

  const applied = berth('policy', 'apply', '-f', manifestFile(w), '--host', socket);
  t.is(applied.code, 0, applied.stderr);
  t.regex(applied.stderr, /programmed 1 NetworkPolicies .* by berthd/);

  const cni = client(w);
  t.is((await cni.add(pod.client, conf, { args: args('client') })).code, 0);
  const otherAdd = await cni.add(pod.other, conf, { args: args('other') });
  t.is(otherAdd.code, 0);
  const otherIp = addressOf(otherAdd);
  serve(t, pod.web.netns);
  serve(t, pod.other.netns);
  const probe = prober(pod.other.netns, WEB_IP);
  await new Promise((r) => setTimeout(r, 300));

  // The agent is frozen while web comes up: only the guard the plugin set can keep it closed.
  daemon.kill('SIGSTOP');
  const add = await cni.add(pod.web, conf, { args: args('web', `IP=${WEB_IP}`) });
  t.is(add.code, 0, add.stderr);
  await new Promise((r) => setTimeout(r, 1000));
  t.false(reaches(pod.client.netns, WEB_IP), 'closed even for the allowed client until the agent has programmed web');
  daemon.kill('SIGCONT');
  t.true(await eventually(() => reaches(pod.client.netns, WEB_IP), 5000), 'the allowed client reaches web once berthd programmed it');
  await new Promise((r) => setTimeout(r, 500));
  const seen = await probe.stop();
  t.is(seen.successes, 0, `no denied connection ever reached web (${seen.successes} of ${seen.attempts} did)`);
  t.true(seen.attempts > 5, `the prober kept trying (${seen.attempts} attempts)`);

  t.is((JSON.parse(berth('policy', 'ls', '--host', socket, '-A', '--format', 'json').stdout) as unknown[]).length, 1);
  const matrix = JSON.parse(berth('policy', 'matrix', '--host', socket, '--format', 'json').stdout) as Record<string, Record<string, boolean>>;
  t.deepEqual(Object.keys(matrix).sort(), ['x/client', 'x/other', 'x/web'], 'pods recorded by the plugin are known pods');
  t.false(matrix['x/other']?.['x/web']);
  t.true(matrix['x/client']?.['x/web']);

  // A pod that no policy selects is open once programmed.
  t.true(await eventually(() => reaches(pod.client.netns, otherIp), 5000), 'an unselected pod stays reachable');

  for (const [name, p] of Object.entries(pod)) t.is((await cni.del(p, conf, { args: args(name) })).code, 0);
  const records = join(runDir, 'policy', 'kv');
  t.true(await eventually(() => !existsSync(records) || readdirSync(records).filter((f) => f.startsWith('workloads')).length === 0, 2000), 'DEL forgets the workloads');
});

test('direct mode: a pod that starts after `berth policy apply` stays closed until `berth policy sync`', async (t) => {
  const { w, conf, pod, args } = setup(t, 'enfc');
  const runDir = w.env.BERTH_RUN_DIR!;
  const where = ['--data-dir', join(w.dir, 'policy-data'), '--run-dir', runDir];
  const applied = berth('policy', 'apply', '-f', manifestFile(w), ...where);
  t.is(applied.code, 0, applied.stderr);
  t.regex(applied.stderr, /berthd is not running/);

  const cni = client(w);
  serve(t, pod.web.netns);
  t.is((await cni.add(pod.client, conf, { args: args('client') })).code, 0);
  t.is((await cni.add(pod.other, conf, { args: args('other') })).code, 0);
  t.is((await cni.add(pod.web, conf, { args: args('web', `IP=${WEB_IP}`) })).code, 0);
  t.false(reaches(pod.client.netns, WEB_IP), 'not programmed yet: closed, even for an allowed client');

  const sync = berth('policy', 'sync', ...where);
  t.is(sync.code, 0, sync.stderr);
  t.regex(sync.stdout, /programmed 1 NetworkPolicies over 3 pods/);
  t.true(await eventually(() => reaches(pod.client.netns, WEB_IP), 3000), 'allowed after the sync');
  t.false(reaches(pod.other.netns, WEB_IP), 'denied for a pod the policy does not allow');

  // Deleting the last policy lifts filtering altogether (and the guard work in ADD with it).
  t.is(berth('policy', 'delete', '-n', 'x', 'web-from-client', ...where).code, 0);
  t.true(await eventually(() => reaches(pod.other.netns, WEB_IP), 3000));
  t.false(spawnSync('/usr/sbin/nft', ['list', 'table', 'inet', 'berth-policy']).status === 0, 'no policy table left');
  for (const [name, p] of Object.entries(pod)) t.is((await cni.del(p, conf, { args: args(name) })).code, 0);
});
