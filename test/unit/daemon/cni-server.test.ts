/**
 * The order berthd's CNI socket serves requests in: those on one attachment (container and
 * interface) one after another in arrival order, as the plugins' locks order them across
 * processes, and the others concurrently. Fake plugin handlers that wait on gates the test
 * opens make the overlap (or its absence) visible; the real plugins through the shims are
 * exercised by test/netns/cni/fast-path.test.ts.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelError } from '../../../core/errors.js';
import { startCniServer } from '../../../daemon/cni/cni-server.js';
import { SILENT_LOG } from '../../../daemon/log.js';
import { Metrics } from '../../../daemon/metrics.js';
import type { CniRequest, PluginHandlers } from '../../../cni/skel.js';

/** A gate a handler waits on until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** Handlers that log "start"/"end" of each request and, for a request whose container has a gate, wait on it. */
function recordingPlugin(events: string[], gates: Map<string, Promise<void>>, failing: Set<string>): PluginHandlers {
  const run = async (req: CniRequest, command: string) => {
    const tag = `${command} ${req.containerId}`;
    events.push(`start ${tag}`);
    await gates.get(tag);
    events.push(`end ${tag}`);
    if (failing.has(tag)) throw new KernelError(`${tag} failed on purpose`, { operation: tag });
  };
  return {
    name: 'fake',
    about: 'a recording fake',
    add: async (req) => {
      await run(req, 'ADD');
      return {};
    },
    del: (req) => run(req, 'DEL'),
    check: (req) => run(req, 'CHECK'),
    status: async () => undefined,
    gc: async () => undefined,
  };
}

/** One request on the socket, as the shim sends it; resolves to the answer's exit code (-1: no answer). */
function send(socketPath: string, command: string, containerId: string): Promise<number> {
  const env = [`CNI_COMMAND=${command}`, `CNI_CONTAINERID=${containerId}`, 'CNI_IFNAME=eth0', 'CNI_NETNS=/var/run/netns/fake'];
  const body = Buffer.from(JSON.stringify({ plugin: 'fake', env, stdin: Buffer.from('{"cniVersion":"1.0.0","name":"n","type":"fake"}').toString('base64') }));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let data = Buffer.alloc(0);
    s.on('connect', () => s.write(Buffer.concat([head, body])));
    s.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
    s.on('error', reject);
    s.on('close', () => resolve(data.length > 4 ? (JSON.parse(data.subarray(4).toString()) as { code: number }).code : -1));
  });
}

/** Resolves once `events` holds `entry` (the server runs in this process: poll its event loop turns). */
async function until(events: string[], entry: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!events.includes(entry)) {
    if (Date.now() > end) throw new Error(`"${entry}" did not happen; events: ${events.join(', ')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function server(t: ExecutionContext, plugin: PluginHandlers) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-cni-server-'));
  const s = await startCniServer({ socketPath: join(dir, 'cni.sock'), log: SILENT_LOG, metrics: new Metrics(), plugins: { fake: plugin }, allowedUid: process.getuid!() });
  t.teardown(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return s.socketPath;
}

test('an ADD and a DEL of one container run one after another in arrival order; another container is served meanwhile', async (t) => {
  const events: string[] = [];
  const addGate = gate();
  const socket = await server(t, recordingPlugin(events, new Map([['ADD c1', addGate.wait]]), new Set()));
  const add = send(socket, 'ADD', 'c1');
  await until(events, 'start ADD c1');
  const del = send(socket, 'DEL', 'c1');
  // Served while c1's ADD waits: a request on another container does not queue behind it.
  t.is(await send(socket, 'DEL', 'c2'), 0);
  t.false(events.includes('start DEL c1'), "c1's DEL waits for c1's ADD");
  addGate.open();
  t.deepEqual(await Promise.all([add, del]), [0, 0]);
  t.deepEqual(events, ['start ADD c1', 'start DEL c2', 'end DEL c2', 'end ADD c1', 'start DEL c1', 'end DEL c1']);
});

test('a failed request does not hold up the next one on the same container, and the queue keeps the arrival order of three', async (t) => {
  const events: string[] = [];
  const first = gate();
  const socket = await server(t, recordingPlugin(events, new Map([['ADD c1', first.wait]]), new Set(['ADD c1'])));
  const add = send(socket, 'ADD', 'c1');
  await until(events, 'start ADD c1');
  const check = send(socket, 'CHECK', 'c1');
  // The CHECK must reach the server (and be queued) before the DEL is sent, so the arrival order is known.
  await new Promise((r) => setTimeout(r, 100));
  const del = send(socket, 'DEL', 'c1');
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(events, ['start ADD c1'], 'nothing else on c1 starts while its ADD runs');
  first.open();
  t.deepEqual(await Promise.all([add, check, del]), [1, 0, 0], 'the ADD failed (a CNI error), the others were served');
  t.deepEqual(events, ['start ADD c1', 'end ADD c1', 'start CHECK c1', 'end CHECK c1', 'start DEL c1', 'end DEL c1']);
});

test('close() lets a request in flight finish and write its answer, and resets a peer whose request has not all arrived, without running it', async (t) => {
  const events: string[] = [];
  const running = gate();
  const dir = mkdtempSync(join(tmpdir(), 'berth-cni-server-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const s = await startCniServer({
    socketPath: join(dir, 'cni.sock'),
    log: SILENT_LOG,
    metrics: new Metrics(),
    plugins: { fake: recordingPlugin(events, new Map([['DEL c1', running.wait]]), new Set()) },
    allowedUid: process.getuid!(),
  });
  const inFlight = send(s.socketPath, 'DEL', 'c1');
  await until(events, 'start DEL c1');
  // Half a frame: the length and a few bytes, the rest never sent.
  const partial = new Promise<string>((resolve) => {
    const c = connect(s.socketPath);
    c.on('connect', () => c.write(Buffer.from([0, 0, 1, 0, 0x7b])));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    c.on('close', () => resolve('closed'));
  });
  await new Promise((r) => setTimeout(r, 100));
  const closed = s.close();
  t.regex(await partial, /^(ECONNRESET|EPIPE|closed)$/);
  running.open();
  t.is(await inFlight, 0, 'the request in flight got its answer');
  await closed;
  t.deepEqual(events, ['start DEL c1', 'end DEL c1'], 'the partial request was never run');
});
