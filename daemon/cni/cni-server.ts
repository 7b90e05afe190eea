/**
 * berthd's CNI socket: the native plugin shim (cni/shim/) hands it one request per
 * connection (the plugin's environment and stdin) and prints the answer byte for byte, so a
 * pod operation costs a small process start plus berth's own work, with the drivers, stores
 * and libraries already loaded here.
 *
 * The answer is exactly what the in-process plugin would have written: the same handlers
 * (cni/plugins) run through the same protocol edge (cni/skel.ts) with the request's
 * environment. Delegation keeps the spec's semantics: an IPAM plugin that is not berth's is
 * still executed from the request's CNI_PATH.
 *
 * Frames: a 4-byte big-endian length, then JSON; request `{plugin, env: ["K=V"...], stdin}`,
 * answer `{code, stdout, stderr}` (stdin, stdout and stderr base64, as Go encodes []byte).
 * Only root peers are served (SO_PEERCRED); anything malformed or oversized gets a CNI
 * error, and the server carries on.
 */
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { BerthError, DecodeError, asBerthError } from '../../core/errors.js';
import { peerCredentials } from '../../dataplane/linux/index.js';
import { toCniError } from '../../cni/error-codes.js';
import { PLUGINS } from '../../cni/plugins/index.js';
import { runPlugin, type PluginHandlers, type PluginIo } from '../../cni/skel.js';
import { CURRENT_VERSION } from '../../cni/version.js';
import type { Log } from '../log.js';
import type { Metrics } from '../metrics.js';

/** Larger than any real configuration (a conflist with a long prevResult is a few KiB). */
export const MAX_REQUEST_BYTES = 1 << 20;

export interface CniServerOptions {
  readonly socketPath: string;
  readonly log: Log;
  readonly metrics: Metrics;
  /** @default berth's plugins */
  readonly plugins?: Readonly<Record<string, PluginHandlers>>;
  /** Peers with another uid are refused. @default 0 (root) */
  readonly allowedUid?: number;
  /**
   * A listening socket handed over by systemd (socket activation, berthd-cni.socket): the
   * socket exists from early boot, so a plugin that runs while berthd starts waits for it
   * instead of falling back. `socketPath` then only names it.
   */
  readonly listenFd?: number;
}

export interface CniServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

interface Answer {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function startCniServer(o: CniServerOptions): Promise<CniServer> {
  const plugins = o.plugins ?? PLUGINS;
  const allowedUid = o.allowedUid ?? 0;
  const order = new KeyedQueue();
  if (o.listenFd === undefined) {
    mkdirSync(dirname(o.socketPath), { recursive: true, mode: 0o755 });
    removeStale(o.socketPath);
  }
  const open = new Set<Socket>();
  /** Connections whose whole request has arrived: it runs (or is queued), and its answer is owed. */
  const taken = new Set<Socket>();
  // Half-open: a peer that shuts down its sending side (or is cut short) still gets its answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      taken.delete(socket);
    });
    socket.on('error', () => undefined);
    serve(socket, { plugins, allowedUid, order, taken, log: o.log, metrics: o.metrics }).catch((err: unknown) => {
      o.log.warn('cni: a connection failed', { error: asBerthError(err).message });
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Root only: the socket runs plugins with whatever environment the peer sends.
    if (o.listenFd !== undefined) {
      server.listen({ fd: o.listenFd }, () => resolve());
      return;
    }
    const mask = process.umask(0o177);
    try {
      server.listen(o.socketPath, () => resolve());
    } finally {
      process.umask(mask);
    }
  });
  if (o.listenFd === undefined) chmodSync(o.socketPath, 0o600);
  return {
    socketPath: o.socketPath,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // Requests taken finish and their answers are written. A peer whose request has not
        // all arrived is reset, not ended: ended, its request would still arrive and run with
        // nowhere to answer; reset, it was never acted on, and its shim runs it in-process.
        for (const s of open) if (!taken.has(s) && !s.writableEnded) s.destroy();
        // systemd's socket stays: it queues requests for the next berthd.
        if (o.listenFd === undefined) removeStale(o.socketPath);
      }),
  };
}

interface ServeContext {
  readonly plugins: Readonly<Record<string, PluginHandlers>>;
  readonly allowedUid: number;
  readonly order: KeyedQueue;
  readonly taken: Set<Socket>;
  readonly log: Log;
  readonly metrics: Metrics;
}

async function serve(socket: Socket, ctx: ServeContext): Promise<void> {
  const started = process.hrtime.bigint();
  const uid = peerUid(socket);
  if (uid !== ctx.allowedUid) {
    reply(socket, refusal(new BerthError('io', `berthd serves CNI requests from uid ${ctx.allowedUid} only; this peer is uid ${uid ?? 'unknown'}`)));
    return;
  }
  let frame: Buffer;
  try {
    frame = await readFrame(socket);
  } catch (err) {
    reply(socket, refusal(asBerthError(err)));
    return;
  }
  ctx.taken.add(socket);
  let request: { plugin: string; env: Record<string, string>; stdin: Buffer };
  try {
    request = decodeRequest(frame, ctx.plugins);
  } catch (err) {
    reply(socket, refusal(asBerthError(err)));
    return;
  }
  const { plugin, env, stdin } = request;
  // Requests on one attachment are served in arrival order, as the plugins' locks order
  // them across processes; everything else runs concurrently.
  const key = `${env.CNI_CONTAINERID ?? ''}\0${env.CNI_IFNAME ?? ''}`;
  const answer = await ctx.order.run(key, () => runRequest(ctx.plugins[plugin]!, env, stdin));
  reply(socket, answer);
  ctx.metrics.observeRequest('cni', `${plugin} ${env.CNI_COMMAND ?? ''}`.trim(), answer.code === 0, Number(process.hrtime.bigint() - started) / 1e9);
  if (answer.code !== 0) ctx.log.info('cni: request failed', { plugin, command: env.CNI_COMMAND, containerId: env.CNI_CONTAINERID, answer: answer.stdout.trim() });
}

async function runRequest(handlers: PluginHandlers, env: Record<string, string>, stdin: Buffer): Promise<Answer> {
  let stdout = '';
  let stderr = '';
  const io: PluginIo = {
    env,
    readStdin: () => stdin,
    writeStdout: (text) => (stdout += text),
    writeStderr: (text) => (stderr += text),
  };
  const code = await runPlugin(handlers, io);
  return { code, stdout, stderr };
}

function decodeRequest(frame: Buffer, plugins: ServeContext['plugins']): { plugin: string; env: Record<string, string>; stdin: Buffer } {
  let raw: unknown;
  try {
    raw = JSON.parse(frame.toString('utf8'));
  } catch (err) {
    throw new DecodeError(`The CNI request is not JSON: ${(err as Error).message}`, { field: 'request' });
  }
  const r = raw as { plugin?: unknown; env?: unknown; stdin?: unknown } | null;
  if (!r || typeof r !== 'object') throw new DecodeError('The CNI request must be a JSON object', { field: 'request' });
  if (typeof r.plugin !== 'string' || !Object.hasOwn(plugins, r.plugin)) {
    throw new DecodeError(`The CNI request names plugin ${JSON.stringify(r.plugin)}; berthd serves ${Object.keys(plugins).join(', ')}`, { field: 'plugin' });
  }
  if (!Array.isArray(r.env) || !r.env.every((e) => typeof e === 'string')) throw new DecodeError('The CNI request\'s env must be a list of "KEY=VALUE" strings', { field: 'env' });
  if (r.stdin !== null && r.stdin !== undefined && typeof r.stdin !== 'string') throw new DecodeError("The CNI request's stdin must be base64 text", { field: 'stdin' });
  const env: Record<string, string> = {};
  for (const e of r.env as string[]) {
    const eq = e.indexOf('=');
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return { plugin: r.plugin, env, stdin: Buffer.from((r.stdin as string | null | undefined) ?? '', 'base64') };
}

/** Reads one length-prefixed frame; rejects an oversized or truncated one. */
function readFrame(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let want = -1;
    const done = (err?: Error, frame?: Buffer) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (err) reject(err);
      else resolve(frame!);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (want < 0 && buf.length >= 4) {
        want = buf.readUInt32BE(0);
        if (want > MAX_REQUEST_BYTES) return done(new DecodeError(`The CNI request of ${want} bytes is larger than ${MAX_REQUEST_BYTES}`, { field: 'request' }));
      }
      if (want >= 0 && buf.length >= 4 + want) done(undefined, buf.subarray(4, 4 + want));
    };
    const onEnd = () => done(new DecodeError(`The CNI request was cut short (${buf.length} bytes received)`, { field: 'request' }));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

function refusal(err: BerthError): Answer {
  return { code: 1, stdout: `${JSON.stringify(toCniError(err, CURRENT_VERSION))}\n`, stderr: '' };
}

function reply(socket: Socket, a: Answer): void {
  if (socket.destroyed) return;
  const body = Buffer.from(JSON.stringify({ code: a.code, stdout: Buffer.from(a.stdout).toString('base64'), stderr: Buffer.from(a.stderr).toString('base64') }));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  socket.end(Buffer.concat([head, body]));
}

function peerUid(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  try {
    return peerCredentials(fd).uid;
  } catch {
    return undefined;
  }
}

function removeStale(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Not there.
  }
}

/** Runs tasks with the same key one after another, in arrival order. */
class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(key) ?? Promise.resolve();
    const mine = before.then(task, task);
    const tail = mine.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return mine;
  }
}
