/**
 * One Docker v1 plugin: HTTP/1.1 with JSON bodies on a unix socket `<dir>/<name>.sock`, where
 * Docker finds plugins by name (docker-remote-and-hns.md §1.1). Docker POSTs
 * `/<Interface>.<Method>`; it sets no Content-Type and sends empty bodies for some calls, so
 * the body is read whatever the headers say and an empty one means `{}`.
 *
 * Every failure, a malformed request included, is answered with `{"Err": "..."}` and a
 * non-200 status (from the error table); Docker shows `Err` to the user. Calls the plugin
 * does not implement get 404, which Docker takes as "not supported" where that is allowed.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { DecodeError, IoError, NotFoundError, asBerthError } from '../../core/errors.js';
import { dockerErrorReply } from '../error-table.js';
import { errorFields, type Log } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Body } from './wire.js';

/** The content type Docker's plugin helpers answer with. */
const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.1+json';
/** Requests are small (a network's options, a port map); anything larger is refused unread. */
const MAX_BODY = 1 << 20;

/** Serves one call: the decoded body in, the JSON reply out; throws core/errors classes. */
export type Handler = (body: Body) => Promise<unknown>;

export interface PluginServerOptions {
  /** Plugin name: the socket is `<dir>/<name>.sock` and `-d <name>` selects it. */
  readonly name: string;
  readonly dir: string;
  /** Interfaces for Plugin.Activate (`NetworkDriver`, `IpamDriver`). */
  readonly implements: readonly string[];
  /** Handlers by path without the leading slash (`NetworkDriver.CreateNetwork`). */
  readonly handlers: Readonly<Record<string, Handler>>;
  readonly log: Log;
  readonly metrics: Metrics;
}

/** A listening plugin socket. */
export interface PluginServer {
  readonly socketPath: string;
  /** Stops accepting, waits for requests in flight, removes the socket file. */
  close(): Promise<void>;
}

/** Creates the socket (mode 0660, replacing a stale one) and starts serving. */
export async function startPluginServer(opts: PluginServerOptions): Promise<PluginServer> {
  const socketPath = join(opts.dir, `${opts.name}.sock`);
  try {
    mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
    removeStaleSocket(socketPath);
  } catch (err) {
    throw new IoError(`Cannot prepare the plugin socket ${socketPath}: ${(err as Error).message}`, { operation: `mkdir ${opts.dir}` }, { cause: err });
  }
  const handlers: Record<string, Handler> = {
    'Plugin.Activate': async () => ({ Implements: opts.implements }),
    ...opts.handlers,
  };
  const server = createServer((req, res) => void serve(opts, handlers, req, res));
  // Docker keeps connections open between calls; do not let an idle one hold close() up.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Created 0600 by the umask below, then opened to the group: never world-accessible.
    const mask = process.umask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(mask);
    }
  }).catch((err: unknown) => {
    throw new IoError(`Cannot listen on ${socketPath}: ${(err as Error).message}`, { operation: `listen ${socketPath}` }, { cause: err });
  });
  chmodSync(socketPath, 0o660);
  opts.log.info('docker plugin listening', { plugin: opts.name, socket: socketPath });
  return { socketPath, close: () => closeServer(server, socketPath) };
}

async function serve(opts: PluginServerOptions, handlers: Readonly<Record<string, Handler>>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const call = (req.url ?? '/').replace(/^\//, '').split('?')[0] ?? '';
  const handler = Object.hasOwn(handlers, call) ? handlers[call] : undefined;
  let ok = false;
  try {
    const text = await readBody(req);
    if (!handler) {
      throw new NotFoundError(`Plugin ${opts.name} does not implement ${call || '(empty path)'}`, { field: 'path', value: req.url ?? '' });
    }
    if (req.method !== 'POST') throw new DecodeError(`${call} must be called with POST, not ${req.method}`, { field: 'method', value: req.method ?? '' });
    const reply = await handler(parseBody(call, text));
    send(res, 200, reply ?? {});
    ok = true;
    opts.log.debug('docker call', { plugin: opts.name, call });
  } catch (err) {
    const e = asBerthError(err);
    const { status, body } = dockerErrorReply(e);
    send(res, status, body);
    const level = e.code === 'internal' ? 'error' : 'warn';
    opts.log[level]('docker call failed', { plugin: opts.name, call, ...errorFields(e) });
  } finally {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    opts.metrics.observeRequest('docker', handler ? call : 'unknown', ok, seconds);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new DecodeError(`The request body is larger than ${MAX_BODY} bytes`, { field: 'body' }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Empty and `null` bodies are `{}`; anything else must be a JSON object. */
function parseBody(call: string, text: string): Body {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DecodeError(`${call}: the request body is not valid JSON (${(err as Error).message})`, { field: 'body' }, { cause: err });
  }
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new DecodeError(`${call}: the request body must be a JSON object`, { field: 'body' });
  return value as Body;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A socket file left by a berthd that died; anything else at the path is not ours to remove. */
function removeStaleSocket(path: string): void {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  unlinkSync(path);
}

function closeServer(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      try {
        unlinkSync(socketPath);
      } catch {
        // Already gone (the socket file is removed by close on some platforms).
      }
      resolve();
    });
    server.closeIdleConnections();
  });
}
