/**
 * A fake kube-apiserver for tests (no kube-apiserver runs here). It serves what berth's
 * Kubernetes policy source uses and nothing more: the three cluster-wide lists (with
 * limit/continue and a resourceVersion) and their watches (newline-delimited JSON events from a
 * resourceVersion, BOOKMARK, and 410 Gone once history is compacted), behind a bearer token,
 * over HTTP or HTTPS. `put` and `delete` change objects and send ADDED/MODIFIED/DELETED to the
 * running watches, as the API server does for kubectl's changes.
 */
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { PolicyKind } from '../../daemon/policy/policy-source.js';

/** The bearer token the fake accepts, and writeKubeconfig puts in the kubeconfig. */
export const TOKEN = 'berth-test-token';

export const PATHS: Record<PolicyKind, string> = {
  Namespace: '/api/v1/namespaces',
  Pod: '/api/v1/pods',
  NetworkPolicy: '/apis/networking.k8s.io/v1/networkpolicies',
};
export const API_VERSIONS: Record<PolicyKind, string> = { Namespace: 'v1', Pod: 'v1', NetworkPolicy: 'networking.k8s.io/v1' };
const KIND_OF = new Map(Object.entries(PATHS).map(([kind, path]) => [path, kind as PolicyKind]));

export type Obj = { metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };
interface Watcher {
  readonly kind: PolicyKind;
  readonly res: ServerResponse;
}

/** A fake kube-apiserver: one resourceVersion counter, per-kind objects, an event history. */
export class FakeApi {
  readonly server: Server;
  port = 0;
  rv = 1000;
  /** Watches from a resourceVersion below this get 410 Gone (history compacted). */
  compacted = 0;
  /** How 410 is told: an ERROR event in a 200 stream (current servers) or the HTTP status. */
  goneAs: 'event' | 'status' = 'event';
  /** The next this many requests are answered 500. */
  failNext = 0;
  /** Requests get no answer at all (a server that accepts and hangs). */
  hang = false;
  readonly objects = new Map<PolicyKind, Map<string, Obj>>();
  readonly history: { kind: PolicyKind; rv: number; type: string; object: Obj }[] = [];
  readonly watchers = new Set<Watcher>();
  readonly requests: { kind: PolicyKind | undefined; watch: boolean; query: URLSearchParams; userAgent: string | undefined }[] = [];
  readonly sockets = new Set<Socket>();

  constructor(tls?: { key: string; cert: string }) {
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res);
    this.server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
    this.server.on('connection', (s: Socket) => this.#track(s));
    this.server.on('secureConnection', (s: Socket) => this.#track(s));
    for (const kind of Object.keys(PATHS) as PolicyKind[]) this.objects.set(kind, new Map());
  }

  #track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** The base URL to put in a kubeconfig (after listen()). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The stored object (with its resourceVersion), or undefined. */
  get(kind: PolicyKind, namespace: string, name: string): Obj | undefined {
    return this.objects.get(kind)!.get(`${namespace}/${name}`);
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  /** Creates or changes an object; `silent` leaves it out of running watches (an event lost). */
  put(kind: PolicyKind, object: Obj, silent = false): Obj {
    const key = `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    const type = this.objects.get(kind)!.has(key) ? 'MODIFIED' : 'ADDED';
    this.rv++;
    const stored = { ...object, metadata: { ...object.metadata, resourceVersion: String(this.rv) } };
    this.objects.get(kind)!.set(key, stored);
    this.#record(kind, type, stored, silent);
    return stored;
  }

  delete(kind: PolicyKind, namespace: string, name: string, silent = false): void {
    const key = `${namespace}/${name}`;
    const old = this.objects.get(kind)!.get(key);
    if (!old) throw new Error(`no ${kind} ${key}`);
    this.objects.get(kind)!.delete(key);
    this.rv++;
    this.#record(kind, 'DELETED', { ...old, metadata: { ...old.metadata, resourceVersion: String(this.rv) } }, silent);
  }

  #record(kind: PolicyKind, type: string, object: Obj, silent: boolean): void {
    const entry = { kind, rv: this.rv, type, object };
    this.history.push(entry);
    if (silent) return;
    for (const w of this.watchers) if (w.kind === kind) this.#send(w.res, kind, type, object);
  }

  #send(res: ServerResponse, kind: PolicyKind, type: string, object: unknown): void {
    res.write(`${JSON.stringify({ type, object: { apiVersion: API_VERSIONS[kind], kind, ...(object as object) } })}\n`);
  }

  bookmark(kind: PolicyKind): void {
    for (const w of this.watchers) if (w.kind === kind) this.#send(w.res, kind, 'BOOKMARK', { metadata: { resourceVersion: String(this.rv) } });
  }

  /** Ends every watch stream cleanly, as the server does at a watch's timeout. */
  endWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** History up to now is compacted: running watches are told 410 and new ones from older versions get it. */
  compact(): void {
    this.compacted = this.rv;
    for (const w of this.watchers) {
      if (this.goneAs === 'event') this.#send(w.res, w.kind, 'ERROR', gone());
      w.res.end();
    }
    this.watchers.clear();
  }

  watchCount(kind: PolicyKind): number {
    return this.requests.filter((r) => r.kind === kind && r.watch).length;
  }

  listCount(kind: PolicyKind): number {
    return this.requests.filter((r) => r.kind === kind && !r.watch && !r.query.has('continue')).length;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const kind = KIND_OF.get(url.pathname);
    const watch = url.searchParams.get('watch') === 'true';
    this.requests.push({ kind, watch, query: url.searchParams, userAgent: req.headers['user-agent'] });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized');
    if (req.method !== 'GET' || !kind) return status(res, 404, `the server could not find the requested resource (${url.pathname})`);
    if (this.hang) return;
    if (this.failNext > 0) {
      this.failNext--;
      return status(res, 500, 'etcdserver: request timed out');
    }
    if (watch) this.#watch(kind, url.searchParams, res);
    else this.#list(kind, url.searchParams, res);
  }

  #list(kind: PolicyKind, query: URLSearchParams, res: ServerResponse): void {
    // Lists carry no apiVersion/kind on their items, as the real API server's.
    const all = [...this.objects.get(kind)!.values()].sort((a, b) => key(a).localeCompare(key(b)));
    const limit = Number(query.get('limit') ?? 0) || all.length;
    const token = query.get('continue');
    const [tokenRv, offsetText] = token ? token.split(':') : [String(this.rv), '0'];
    if (Number(tokenRv) < this.compacted) return status(res, 410, 'The provided continue parameter is too old');
    const offset = Number(offsetText);
    const items = all.slice(offset, offset + limit);
    const more = offset + limit < all.length;
    const metadata = { resourceVersion: tokenRv, ...(more ? { continue: `${tokenRv}:${offset + limit}` } : {}) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ apiVersion: API_VERSIONS[kind], kind: `${kind}List`, metadata, items }));
  }

  #watch(kind: PolicyKind, query: URLSearchParams, res: ServerResponse): void {
    const from = query.get('resourceVersion');
    if (from !== null && Number(from) < this.compacted && this.goneAs === 'status') return status(res, 410, `too old resource version: ${from} (${this.compacted})`);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (from !== null && Number(from) < this.compacted) {
      this.#send(res, kind, 'ERROR', gone());
      res.end();
      return;
    }
    if (from === null) for (const o of this.objects.get(kind)!.values()) this.#send(res, kind, 'ADDED', o);
    else for (const e of this.history) if (e.kind === kind && e.rv > Number(from)) this.#send(res, kind, e.type, e.object);
    const watcher = { kind, res };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }
}

function key(o: Obj): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function gone(): unknown {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1 (2)', reason: 'Expired', code: 410 };
}

function status(res: ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code }));
}

/** Writes `dir`/kubeconfig: one cluster at `server` (extra cluster fields from `cluster`), the fake's bearer token. */
export function writeKubeconfig(dir: string, server: string, cluster: Record<string, unknown> = { 'insecure-skip-tls-verify': true }): string {
  const file = join(dir, 'kubeconfig');
  const clusterLines = Object.entries({ server, ...cluster }).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`);
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: fake',
      '    cluster:',
      ...clusterLines,
      'users:',
      '  - name: berthd',
      '    user:',
      `      token: ${TOKEN}`,
      'contexts:',
      '  - name: fake',
      '    context: { cluster: fake, user: berthd }',
      'current-context: fake',
      '',
    ].join('\n'),
  );
  return file;
}
