/**
 * The CNI fast path: the installed shim hands requests to berthd's CNI socket, and runs the
 * in-process plugin when berthd is not running. Both paths answer the same request the same
 * way and share one truth (the IPAM store, the links); a berthd killed in a burst of ADDs
 * leaves every ADD done or answered with a CNI error; a copied shim works; bad frames, a
 * non-root peer and a missing fallback get CNI errors, and berthd keeps serving.
 *
 * Addresses: 10.175.0.0/16, only inside this run's namespaces.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { withShimSettings } from '../../../cni/shim-settings.js';
import { hostVethName } from '../../../drivers/bridge/bridge-driver.js';
import { DIST_BIN, hostLinks, ping, runPlugin, runProcess, shOk, type Run } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, heldAddresses, pods, world, type Pod, type World } from './fixtures.js';

interface Berthd {
  readonly proc: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * berthd serving CNI on the world's run directory (where the shims look, through BERTH_RUN_DIR),
 * and its API on berthd.sock there; `extra` arguments are added.
 */
async function startBerthd(w: World, extra: string[] = []): Promise<Berthd> {
  const runDir = w.env.BERTH_RUN_DIR!;
  const sockets = [...(extra.includes('--no-cni') ? [] : [join(runDir, 'cni.sock')]), join(runDir, 'berthd.sock')];
  const proc = spawn(
    process.execPath,
    [
      join(DIST_BIN, 'berthd'),
      '--no-docker',
      '--no-policy',
      '--metrics-address',
      'none',
      '--run-dir',
      runDir,
      '--data-dir',
      join(w.dir, 'berthd-data'),
      '--log-file',
      join(w.dir, 'berthd.log'),
      '--docker-socket',
      join(w.dir, 'no-docker.sock'),
      '--firewall-check-interval',
      '0',
      ...extra,
    ],
    { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
  );
  // A test that dies of an uncaught exception skips its teardown: berthd must not outlive it.
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  const end = Date.now() + 20_000;
  while (!sockets.every((s) => existsSync(s))) {
    if (proc.exitCode !== null) throw new Error(`berthd exited ${proc.exitCode}: ${readFileSync(join(w.dir, 'berthd.log'), 'utf8')}`);
    if (Date.now() > end) throw new Error(`berthd did not open ${sockets.join(' and ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
    },
  };
}

/**
 * A world with `count` pods and berthd serving it; berthd is stopped, and the pods and the
 * world removed, when the test ends.
 */
async function servedWorld(t: ExecutionContext, name: string, podPrefix: string, count: number): Promise<{ w: World; p: ReturnType<typeof pods>; berthd: Berthd }> {
  const w = world(name);
  const p = pods(podPrefix, count);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const berthd = await startBerthd(w);
  t.teardown(() => berthd.stop());
  return { w, p, berthd };
}

/** One raw frame exchange on the CNI socket, as the shim does it; the decoded answer. */
function exchange(socketPath: string, frame: Buffer, opts: { uid?: number } = {}): Promise<{ code: number; stdout: string }> {
  if (opts.uid !== undefined) {
    // A peer with another uid: a child process that drops to it and relays the answer.
    const script = `const s=require('net').connect(process.argv[1]);let d=Buffer.alloc(0);s.on('connect',()=>s.write(Buffer.from(process.argv[2],'base64')));s.on('data',(c)=>d=Buffer.concat([d,c]));s.on('end',()=>{process.stdout.write(d.subarray(4).toString())});s.on('error',(e)=>{process.stdout.write(JSON.stringify({error:e.code}))})`;
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ['-e', script, socketPath, frame.toString('base64')], { uid: opts.uid, gid: opts.uid, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('error', reject);
      p.on('close', () => resolve(decodeAnswer(out)));
    });
  }
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let data = Buffer.alloc(0);
    s.on('connect', () => (frame.length ? s.end(frame) : s.end()));
    s.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
    s.on('error', reject);
    s.on('close', () => resolve(decodeAnswer(data.subarray(4).toString())));
  });
}

function decodeAnswer(text: string): { code: number; stdout: string } {
  if (text === '') return { code: -1, stdout: 'berthd closed the connection without an answer' };
  const a = JSON.parse(text) as { code: number; stdout: string };
  return { code: a.code, stdout: Buffer.from(a.stdout, 'base64').toString() };
}

function frameOf(body: object | string): Buffer {
  const b = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(b.length, 0);
  return Buffer.concat([head, b]);
}

/** A result with the MACs the kernel picks at random masked, so two ADDs can be compared byte for byte. */
function macsMasked(stdout: string): string {
  return stdout.replace(/"mac":\s*"[0-9a-f:]{17}"/g, '"mac": "<random>"');
}

test.serial('the same requests through berthd and through the fallback give byte-identical answers, and each path sees what the other did', async (t) => {
  const w = world('fast');
  const p = pods('bfast', 2);
  let berthd: Berthd | undefined;
  t.teardown(async () => {
    await berthd?.stop();
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('fast', [berthBridge(w, 'fast', '10.175.1.0/24', { bridge: 'bt-fast', isDefaultGateway: true })]);
  const c = client(w);
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const plugin = join(w.cniPath.split(':')[0]!, 'berth-bridge');
  const direct = (env: Record<string, string>, stdin: string): Promise<Run> => runPlugin(plugin, { ...w.env, CNI_PATH: w.cniPath, ...env }, stdin);
  const confText = JSON.stringify({ ...(conf as { plugins: object[] }).plugins[0], cniVersion: '1.0.0', name: 'fast' });
  const requests: [string, Record<string, string>, string][] = [
    ['VERSION', { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}'],
    ['bad JSON', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x1', CNI_NETNS: b.path, CNI_IFNAME: 'eth0' }, '{"cniVersion":'],
    ['missing CNI_NETNS', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x1', CNI_IFNAME: 'eth0' }, confText],
    ['bad CIDR', { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'x1', CNI_NETNS: b.path, CNI_IFNAME: 'eth0' }, confText.replace('10.175.1.0/24', '10.175.1.0/33')],
    ['DEL of an unknown container', { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'never-added', CNI_IFNAME: 'eth0' }, confText],
  ];

  // Fallback first (berthd not running), then the same through berthd.
  const fallbackAnswers = [];
  for (const [, env, stdin] of requests) fallbackAnswers.push(await direct(env, stdin));
  const fromFallback = await c.add(a, conf);
  t.is(fromFallback.code, 0, fromFallback.stderr + fromFallback.stdout);

  berthd = await startBerthd(w);
  for (const [i, [what, env, stdin]] of requests.entries()) {
    const r = await direct(env, stdin);
    t.is(r.stdout, fallbackAnswers[i]!.stdout, `${what}: the same bytes on stdout`);
    t.is(r.code, fallbackAnswers[i]!.code, `${what}: the same exit status`);
  }
  // berthd knows the pod the fallback added: CHECK passes, the next address is another one.
  t.is((await c.check(a, conf)).code, 0, 'CHECK through berthd of a pod the fallback added');
  const fromBerthd = await c.add(b, conf);
  t.is(fromBerthd.code, 0, fromBerthd.stderr + fromBerthd.stdout);
  t.not(addressOf(fromBerthd), addressOf(fromFallback), 'no address handed out twice');
  t.true(ping(b.netns, addressOf(fromFallback)), 'the two pods reach each other');
  // Re-adding the berthd pod through the fallback answers the same result (MACs aside).
  await berthd.stop();
  berthd = undefined;
  const again = await c.add(b, conf);
  t.is(macsMasked(again.stdout), macsMasked(fromBerthd.stdout), 'a repeated ADD through the fallback gives the same result');
  berthd = await startBerthd(w);
  for (const pod of [a, b]) t.is((await c.del(pod, conf)).code, 0);
  t.deepEqual(heldAddresses(w.dataDir, 'fast'), []);
  t.false(hostLinks().includes('bt-fast'));
});

test.serial('berthd killed during 32 parallel ADDs: every ADD is done or a CNI error; after DEL of the failed ones and GC nothing is leaked or doubled', async (t) => {
  const w = world('kill32');
  const p = pods('bk32', 32);
  let berthd: Berthd | undefined;
  t.teardown(async () => {
    await berthd?.stop('SIGKILL');
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('kill32', [berthBridge(w, 'kill32', '10.175.2.0/24', { bridge: 'bt-kill32' })]);
  const c = client(w);
  berthd = await startBerthd(w);
  const adds = p.pods.map((pod) => c.add(pod, conf));
  // Killed in the middle of the burst: once some pods hold addresses and others do not yet.
  const end = Date.now() + 20_000;
  while (heldAddresses(w.dataDir, 'kill32').length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  await berthd.stop('SIGKILL');
  berthd = undefined;
  const results = await Promise.all(adds);
  const done = results.map((r, i) => ({ r, pod: p.pods[i]! })).filter((x) => x.r.code === 0);
  const failed = results.map((r, i) => ({ r, pod: p.pods[i]! })).filter((x) => x.r.code !== 0);
  for (const { r } of failed) {
    const e = JSON.parse(r.stdout) as { code: number; msg: string };
    t.true(Number.isInteger(e.code) && e.code > 0, `a failed ADD answers a CNI error: ${r.stdout}`);
  }
  t.log(`${done.length} ADDs done, ${failed.length} answered with a CNI error`);
  const addresses = done.map((x) => addressOf(x.r));
  t.is(new Set(addresses).size, addresses.length, 'no address twice');
  // What a runtime does next: DEL the failed ones (now through the fallback), then GC.
  for (const { pod } of failed) t.is((await c.del(pod, conf)).code, 0);
  const plugin = join(w.cniPath.split(':')[0]!, 'berth-bridge');
  const gcConf = { ...(conf as { plugins: object[] }).plugins[0], cniVersion: '1.1.0', name: 'kill32', 'cni.dev/valid-attachments': done.map((x) => ({ containerID: x.pod.id, ifname: 'eth0' })) };
  const gc = await runPlugin(plugin, { ...w.env, CNI_COMMAND: 'GC', CNI_PATH: w.cniPath }, JSON.stringify(gcConf));
  t.is(gc.code, 0, gc.stdout + gc.stderr);
  t.deepEqual(
    heldAddresses(w.dataDir, 'kill32')
      .map((h) => h.address)
      .sort(),
    [...addresses].sort(),
    'exactly the done pods hold addresses',
  );
  t.is(hostLinks().filter((l) => l.startsWith('bv')).length, done.length, 'one host veth per done pod');
  for (const { pod } of done) t.is((await c.del(pod, conf)).code, 0);
  t.deepEqual(heldAddresses(w.dataDir, 'kill32'), []);
  t.false(hostLinks().some((l) => l === 'bt-kill32' || l.startsWith('bv')));
});

test.serial('a copied shim works from another folder, through berthd and without it; with neither it answers code 11 naming what is missing', async (t) => {
  const w = world('copy');
  const p = pods('bcopy', 1);
  let berthd: Berthd | undefined;
  t.teardown(async () => {
    await berthd?.stop();
    p.cleanup();
    w.cleanup();
  });
  const elsewhere = join(w.dir, 'host-opt-cni-bin');
  mkdirSync(elsewhere);
  copyFileSync(join(w.cniPath.split(':')[0]!, 'berth-bridge'), join(elsewhere, 'berth-bridge'));
  const cw = { ...w, cniPath: `${elsewhere}:/usr/lib/cni` };
  const conf = conflist('copy', [berthBridge(w, 'copy', '10.175.3.0/24', { bridge: 'bt-copy' })]);
  const c = client(cw);
  const pod = p.pods[0]!;
  t.is((await c.add(pod, conf)).code, 0, 'through the fallback');
  berthd = await startBerthd(w);
  t.is((await c.check(pod, conf)).code, 0, 'through berthd');
  t.is((await c.del(pod, conf)).code, 0);

  await berthd.stop();
  berthd = undefined;
  // A shim whose recorded Node binary is gone, and no berthd: code 11, naming the Node binary.
  const broken = join(elsewhere, 'berth-bridge');
  writeFileSync(
    broken,
    withShimSettings(readFileSync(join(DIST_BIN, 'cni-shim')), { plugin: 'berth-bridge', socket: '/nonexistent/cni.sock', node: '/nonexistent/node', launcher: join(DIST_BIN, 'berth-bridge-node') }),
    { mode: 0o755 },
  );
  const r = await runPlugin(
    broken,
    { ...w.env, CNI_PATH: cw.cniPath, CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0' },
    JSON.stringify({ ...(conf as { plugins: object[] }).plugins[0], cniVersion: '1.0.0', name: 'copy' }),
  );
  t.not(r.code, 0);
  const e = JSON.parse(r.stdout) as { code: number; msg: string };
  t.is(e.code, 11);
  t.regex(e.msg, /berthd is not running .* the Node binary \/nonexistent\/node is missing/);
});

test.serial('bad frames, truncated frames and a non-root peer each get a CNI error, and berthd keeps serving', async (t) => {
  const { w, p, berthd } = await servedWorld(t, 'frames', 'bframe', 1);
  const socket = join(w.env.BERTH_RUN_DIR!, 'cni.sock');
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
  for (let i = 0; i < 1000; i++) {
    const len = Math.floor(rand() * 200);
    const body = Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
    const a = await exchange(socket, frameOf(body.toString('latin1')));
    t.is(a.code, 1);
    const e = JSON.parse(a.stdout) as { code: number };
    if (e.code !== 6) t.fail(`random frame ${i}: expected CNI code 6, got ${a.stdout}`);
  }
  // Truncated: the length says more than what comes before the peer closes.
  const whole = frameOf({ plugin: 'berth-bridge', env: ['CNI_COMMAND=VERSION'], stdin: '' });
  const cut = await exchange(socket, whole.subarray(0, whole.length - 5));
  t.regex(cut.stdout, /"code":6,"msg":"The CNI request was cut short/);
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(64 << 20, 0);
  t.regex((await exchange(socket, huge)).stdout, /"code":6,"msg":"The CNI request of 67108864 bytes is larger than/);
  t.regex((await exchange(socket, frameOf({ plugin: 'rm -rf', env: [], stdin: '' }))).stdout, /names plugin \\"rm -rf\\"; berthd serves berth-bridge/);
  // A non-root peer: the socket's mode (0600, root's) keeps it out, so its shim answers a CNI
  // error; and were the mode opened, berthd's SO_PEERCRED check refuses it as well.
  t.is(statSync(socket).mode & 0o777, 0o600);
  // The test's directories are root's (0700); let the peer find the shim and the socket.
  const shimDir = mkdtempSync(join(tmpdir(), 'berth-shim-'));
  t.teardown(() => rmSync(shimDir, { recursive: true, force: true }));
  chmodSync(shimDir, 0o755);
  const shim = join(shimDir, 'berth-bridge');
  copyFileSync(join(w.cniPath.split(':')[0]!, 'berth-bridge'), shim);
  chmodSync(shim, 0o755);
  for (const dir of [w.dir, w.env.BERTH_RUN_DIR!]) chmodSync(dir, 0o711);
  const asNobody = await new Promise<string>((resolve) => {
    const child = spawn(shim, [], {
      uid: 65534,
      gid: 65534,
      env: { CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'x', CNI_IFNAME: 'eth0', BERTH_RUN_DIR: w.env.BERTH_RUN_DIR!, PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
    child.stdin.end('{"cniVersion":"1.0.0","name":"x","type":"berth-bridge"}');
  });
  t.regex(asNobody, /"code":11,"msg":"cannot reach berthd at .*cni\.sock".*permission denied/i);
  chmodSync(socket, 0o666);
  const nobody = await exchange(socket, whole, { uid: 65534 });
  chmodSync(socket, 0o600);
  t.regex(nobody.stdout, /"code":5,"msg":"berthd serves CNI requests from uid 0 only; this peer is uid 65534"/);
  // Still serving: a real ADD and DEL through the shim.
  const conf = conflist('frames', [berthBridge(w, 'frames', '10.175.4.0/24', { bridge: 'bt-frames' })]);
  const c = client(w);
  const pod = p.pods[0]!;
  t.is((await c.add(pod, conf)).code, 0);
  t.is((await c.del(pod, conf)).code, 0);
  t.is(berthd.proc.exitCode, null, 'berthd is alive');
});

test.serial("through berthd, an IPAM plugin that is not berth's is still run from CNI_PATH (host-local), and its error comes back as its own", async (t) => {
  const { w, p, berthd } = await servedWorld(t, 'deleg', 'bdeleg', 1);
  const dataDir = join(w.dir, 'host-local');
  const conf = conflist('deleg', [{ type: 'berth-bridge', bridge: 'bt-deleg', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.175.5.0/24' }]], dataDir } }]);
  const c = client(w);
  const pod = p.pods[0]!;
  const r = await c.add(pod, conf);
  t.is(r.code, 0, r.stderr + r.stdout);
  const ip = addressOf(r);
  t.true(existsSync(join(dataDir, 'deleg', ip)), 'host-local recorded the address it handed out');
  t.is((await c.del(pod, conf)).code, 0);
  t.false(existsSync(join(dataDir, 'deleg', ip)), 'and released it on DEL');
  const bad = conflist('deleg', [{ type: 'berth-bridge', bridge: 'bt-deleg', isGateway: true, ipam: { type: 'host-local', ranges: [[{ subnet: '10.175.5.0/33' }]], dataDir } }]);
  const e = await c.add(pod, bad);
  t.not(e.code, 0);
  t.regex(e.stdout, /IPAM plugin host-local failed/);
  t.is(berthd.proc.exitCode, null);
});

test.serial('berthd holds no more file descriptors after 20 ADD/DEL cycles than after the first', async (t) => {
  const { w, p, berthd } = await servedWorld(t, 'fds', 'bfds', 1);
  const conf = conflist('fds', [berthBridge(w, 'fds', '10.175.6.0/24', { bridge: 'bt-fds' })]);
  const c = client(w);
  const pod = p.pods[0]!;
  const cycle = async () => {
    t.is((await c.add(pod, conf)).code, 0);
    t.is((await c.del(pod, conf)).code, 0);
  };
  const fds = () => readdirSync(`/proc/${berthd!.proc.pid}/fd`).length;
  await cycle();
  const first = fds();
  for (let i = 0; i < 20; i++) await cycle();
  t.is(fds(), first, 'no descriptor leaks per request');
});

/**
 * berth-bridge's shim with no fallback recorded: it is served by berthd or answers error 11,
 * so a request that succeeds through it was served by berthd.
 */
function berthdOnlyShim(w: World): string {
  const dir = join(w.dir, 'berthd-only');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'berth-bridge');
  const settings = { plugin: 'berth-bridge', socket: '/nonexistent/cni.sock', node: '/nonexistent/node', launcher: '/nonexistent/berth-bridge-node' };
  writeFileSync(path, withShimSettings(readFileSync(join(DIST_BIN, 'cni-shim')), settings), { mode: 0o755 });
  return path;
}

/** Runs a shim with `stdin`; its exit code, or the signal that ended it. */
function runShim(bin: string, env: Record<string, string>, stdin: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stdin.on('error', () => undefined);
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, stdout }));
    p.stdin.end(stdin);
  });
}

/** The plugin's configuration as a runtime hands it to berth-bridge (stdin). */
function pluginConf(conf: object, name: string, cniVersion = '1.0.0'): Record<string, unknown> {
  return { ...(conf as { plugins: object[] }).plugins[0], cniVersion, name };
}

test.serial('a berthd that closes the connection before taking the request (3 MB stdin): the shim falls back, or answers error 11, and is never killed by SIGPIPE', async (t) => {
  const w = world('closing');
  t.teardown(() => w.cleanup());
  // Accepts and closes at once: a berthd stopping, or killed, as the request arrives.
  const runDir = join(w.dir, 'closing-run');
  mkdirSync(runDir);
  const closing = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => closing.listen(join(runDir, 'cni.sock'), resolve));
  t.teardown(() => new Promise<void>((resolve) => closing.close(() => resolve())));
  const big = JSON.stringify({ cniVersion: '1.0.0', name: 'closing', type: 'berth-bridge', padding: 'x'.repeat(3 << 20) });
  const small = JSON.stringify({ cniVersion: '1.0.0', name: 'closing', type: 'berth-bridge' });
  const add = { BERTH_RUN_DIR: runDir, CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'closing', CNI_NETNS: '/nonexistent/netns', CNI_IFNAME: 'eth0' };
  // Without a fallback: a CNI error naming both, whether the send broke (3 MB) or the kernel
  // reported the request unread (a small one).
  for (const [what, stdin] of [
    ['3 MB', big],
    ['small', small],
  ] as const) {
    const r = await runShim(berthdOnlyShim(w), add, stdin);
    t.is(r.signal, null, `${what}: not killed by a signal`);
    t.is(r.code, 1, `${what}: exit status 1`);
    const e = JSON.parse(r.stdout) as { code: number; msg: string };
    t.is(e.code, 11, r.stdout);
    t.regex(e.msg, /^berthd closed the connection before taking the request \(.*cni\.sock: (Broken pipe|Connection reset by peer)\) and the Node binary \/nonexistent\/node is missing$/);
  }
  // With the fallback recorded: berthd never had the request, so the in-process plugin runs
  // it, and answers as it does when no berthd is running (byte for byte).
  const installed = join(w.cniPath.split(':')[0]!, 'berth-bridge');
  const conf = conflist('closing', [berthBridge(w, 'closing', '10.175.8.0/24', { bridge: 'bt-closing' })]);
  const del = { CNI_PATH: w.cniPath, CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'never-added', CNI_IFNAME: 'eth0' };
  for (const [what, stdin] of [
    ['3 MB', JSON.stringify({ ...pluginConf(conf, 'closing'), padding: 'x'.repeat(3 << 20) })],
    ['small', JSON.stringify(pluginConf(conf, 'closing'))],
  ] as const) {
    const viaClosing = await runShim(installed, { ...w.env, ...del, BERTH_RUN_DIR: runDir }, stdin);
    const noBerthd = await runShim(installed, { ...w.env, ...del }, stdin);
    t.is(viaClosing.signal, null, `${what}: not killed by a signal`);
    t.is(viaClosing.stdout, noBerthd.stdout, `${what}: the fallback's answer`);
    t.is(viaClosing.code, noBerthd.code, `${what}: the fallback's exit status`);
  }

  // A real berthd refuses a request larger than it takes, and the shim prints that refusal.
  const berthd = await startBerthd(w);
  t.teardown(() => berthd.stop());
  const refused = await runShim(berthdOnlyShim(w), { ...add, BERTH_RUN_DIR: w.env.BERTH_RUN_DIR! }, big);
  t.is(refused.signal, null);
  t.is(refused.code, 1);
  t.regex(refused.stdout, /"code":6,"msg":"The CNI request of \d+ bytes is larger than/);
  t.is(berthd.proc.exitCode, null, 'berthd is alive');
});

test.serial("GC through berthd releases a stale attachment's address and veth, and keeps the valid ones", async (t) => {
  const { w, p } = await servedWorld(t, 'gcfast', 'bgcf', 3);
  const conf = conflist('gcfast', [berthBridge(w, 'gcfast', '10.175.9.0/24', { bridge: 'bt-gcfast' })]);
  const c = client(w);
  const [keep1, keep2, stale] = p.pods as [Pod, Pod, Pod];
  const address = new Map<Pod, string>();
  for (const pod of p.pods) {
    const r = await c.add(pod, conf);
    t.is(r.code, 0, r.stderr + r.stdout);
    address.set(pod, addressOf(r));
  }
  const veth = (pod: Pod) => hostVethName('gcfast', pod.id, 'eth0');
  t.true(
    p.pods.every((pod) => hostLinks().includes(veth(pod))),
    'each pod has its host veth',
  );
  // GC served by berthd (the shim has no fallback), the stale pod left out of the valid set.
  const gcConf = { ...pluginConf(conf, 'gcfast', '1.1.0'), 'cni.dev/valid-attachments': [keep1, keep2].map((pod) => ({ containerID: pod.id, ifname: 'eth0' })) };
  const gc = await runPlugin(berthdOnlyShim(w), { ...w.env, CNI_COMMAND: 'GC', CNI_PATH: w.cniPath }, JSON.stringify(gcConf));
  t.is(gc.code, 0, gc.stdout + gc.stderr);
  t.deepEqual(
    heldAddresses(w.dataDir, 'gcfast').sort((a, b) => a.address.localeCompare(b.address)),
    [keep1, keep2].map((pod) => ({ address: address.get(pod)!, containerId: pod.id })).sort((a, b) => a.address.localeCompare(b.address)),
    'the valid pods keep their addresses; the stale one is released',
  );
  const links = hostLinks();
  t.true(links.includes(veth(keep1)) && links.includes(veth(keep2)), 'the valid pods keep their veths');
  t.false(links.includes(veth(stale)), "the stale pod's veth is removed");
  t.true(ping(keep1.netns, address.get(keep2)!), 'the valid pods still reach each other');
  for (const pod of p.pods) t.is((await c.del(pod, conf)).code, 0);
  t.deepEqual(heldAddresses(w.dataDir, 'gcfast'), []);
  t.false(hostLinks().includes('bt-gcfast'));
});

test.serial('an ADD and a DEL of the same container sent at once through two shims end in one order or the other, never half', async (t) => {
  const { w, p, berthd } = await servedWorld(t, 'order', 'bord', 9);
  const conf = conflist('order', [berthBridge(w, 'order', '10.175.10.0/24', { bridge: 'bt-order' })]);
  const shim = berthdOnlyShim(w);
  const stdin = JSON.stringify(pluginConf(conf, 'order'));
  const env = (pod: Pod, command: string) => ({ ...w.env, CNI_PATH: w.cniPath, CNI_COMMAND: command, CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0' });
  // One pod stays attached throughout, so the bridge stays and each pair races only on its own container.
  const [anchor, ...racing] = p.pods as [Pod, ...Pod[]];
  const first = await runPlugin(shim, env(anchor, 'ADD'), stdin);
  t.is(first.code, 0, first.stdout);
  const outcomes = { added: 0, deleted: 0 };
  for (let round = 0; round < 3; round++) {
    const pairs = await Promise.all(racing.map(async (pod) => ({ pod, results: await Promise.all([runPlugin(shim, env(pod, 'ADD'), stdin), runPlugin(shim, env(pod, 'DEL'), stdin)]) })));
    const links = hostLinks();
    const held = heldAddresses(w.dataDir, 'order');
    for (const { pod, results } of pairs) {
      const [add, del] = results;
      t.is(add.code, 0, `ADD ${pod.id}: ${add.stdout}`);
      t.is(del.code, 0, `DEL ${pod.id}: ${del.stdout}`);
      const mine = held.filter((h) => h.containerId === pod.id).map((h) => h.address);
      const hasVeth = links.includes(hostVethName('order', pod.id, 'eth0'));
      const hasEth0 = shOk('ip', ['netns', 'exec', pod.netns, 'ip', 'link', 'show', 'eth0']);
      if (mine.length === 0 && !hasVeth && !hasEth0) {
        outcomes.deleted++; // ADD, then DEL
      } else if (mine.length === 1 && mine[0] === addressOf(add) && hasVeth && hasEth0) {
        outcomes.added++; // DEL, then ADD
      } else {
        t.fail(`${pod.id} is half attached: addresses ${JSON.stringify(mine)}, host veth ${hasVeth}, eth0 ${hasEth0}, ADD answered ${add.stdout}`);
      }
    }
    // Back to nothing for the next round.
    for (const pod of racing) t.is((await runPlugin(shim, env(pod, 'DEL'), stdin)).code, 0);
    t.deepEqual(
      heldAddresses(w.dataDir, 'order').map((h) => h.containerId),
      [anchor.id],
    );
  }
  t.is((await runPlugin(shim, env(anchor, 'DEL'), stdin)).code, 0);
  t.log(`ADD then DEL (nothing left): ${outcomes.deleted}; DEL then ADD (attached): ${outcomes.added}`);
  t.deepEqual(heldAddresses(w.dataDir, 'order'), []);
  t.is(berthd.proc.exitCode, null, 'berthd is alive');
});

test.serial('berth status shows whether berthd serves the CNI socket', async (t) => {
  const w = world('status');
  let berthd: Berthd | undefined;
  t.teardown(async () => {
    await berthd?.stop();
    w.cleanup();
  });
  const runDir = w.env.BERTH_RUN_DIR!;
  const api = join(runDir, 'berthd.sock');
  const status = () => runProcess(process.execPath, [join(DIST_BIN, 'berth'), 'status', '-H', api], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
  const cniLine = (out: string) => out.split('\n').find((l) => l.startsWith('CNI:'));

  berthd = await startBerthd(w);
  const served = await status();
  t.is(served.code, 0, served.stderr);
  t.is(cniLine(served.stdout), `CNI:            ${join(runDir, 'cni.sock')} (the plugins' fast path)`);
  await berthd.stop();

  berthd = await startBerthd(w, ['--no-cni']);
  const notServed = await status();
  t.is(notServed.code, 0, notServed.stderr);
  t.is(cniLine(notServed.stdout), 'CNI:            not served (the plugins run in-process)');
  await berthd.stop();
  berthd = undefined;

  // berthd down: status says it cannot reach berthd (exit 69), and claims nothing about the socket.
  const down = await status();
  t.is(down.code, 69);
  t.regex(down.stderr, /Cannot reach berthd at .*berthd\.sock: is it running\?/);
  t.is(cniLine(down.stdout), undefined);
});
