/**
 * A PolicySource that follows a Kubernetes API server: for each of Namespace, Pod and
 * NetworkPolicy, list (in pages) and then watch from the list's resourceVersion, the way
 * client-go's reflector does, and hand every object to the sink as the raw API object.
 *
 * `@kubernetes/client-node` reads the kubeconfig and authenticates: contexts, client
 * certificates, CA data, bearer tokens, exec and OIDC credential plugins, proxies all end in the
 * agent and headers of `applyToHTTPSOptions`, asked for again before every request so that
 * expiring credentials are renewed. The requests themselves are plain node:http(s) GETs, so that
 * lists stay raw JSON (the generated typed API turns them into model classes) and every request,
 * connecting or streaming, can be cut at once by stop(). Loading the package costs ~0.7 s, so it
 * is imported only here, when berthd is given a kubeconfig (the berthd bundle keeps it external).
 *
 * Per kind, forever until stop():
 * - list (pages of `pageSize`), then `replaceAll`; the list's resourceVersion starts the watch;
 * - watch (`allowWatchBookmarks`, `timeoutSeconds` 5–10 min): ADDED/MODIFIED → `upsert`,
 *   DELETED → `remove`, BOOKMARK only moves the resourceVersion;
 * - the server ending a watch (its timeout, a restart) → watch again from the last
 *   resourceVersion, no relist;
 * - 410 Gone (an expired resourceVersion or continue token; as an HTTP status or an ERROR event)
 *   → relist at once, and `replaceAll` with what exists now;
 * - any other failure (no connection, 5xx, 403, an ERROR event, a broken stream) → wait with a
 *   capped, jittered exponential backoff and try again. The first failure after a good spell is
 *   logged once as a warning, the retries only at debug, and the recovery once at info.
 */
import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { InvalidConfigError } from '../../core/errors.js';
import type { Log } from '../log.js';
import { POLICY_KINDS, type PolicyKind, type PolicyObjectSink, type PolicySource } from './policy-source.js';

export interface KubeSourceOptions {
  /** The kubeconfig file; its current context names the cluster and the credentials. */
  readonly kubeconfigPath: string;
  readonly sink: PolicyObjectSink;
  readonly logger: Log;
  /**
   * This node's name, sent in the User-Agent and logged. Every pod is still watched, not only
   * this node's: pods elsewhere are the peers that policies select.
   */
  readonly nodeName?: string;
  /** Reconnect delays: `initialMs` (default 500) doubling per failure up to `maxMs` (default 30,000), ±20%. */
  readonly retry?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Objects per list page. @default 500 */
  readonly pageSize?: number;
}

interface KindApi {
  readonly kind: PolicyKind;
  readonly apiVersion: string;
  /** The cluster-wide collection. */
  readonly path: string;
}

const APIS: Record<PolicyKind, KindApi> = {
  Namespace: { kind: 'Namespace', apiVersion: 'v1', path: '/api/v1/namespaces' },
  Pod: { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods' },
  NetworkPolicy: { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', path: '/apis/networking.k8s.io/v1/networkpolicies' },
};

/** A list page answers within this, or the request is cut. */
const LIST_IDLE_MS = 60_000;
/** Beyond the watch's own timeoutSeconds, how long a silent watch stream may last. */
const WATCH_GRACE_MS = 30_000;
/** A watch that ends sooner than this without one event counts as a failure (no tight loop). */
const SHORT_WATCH_MS = 1_000;

/**
 * Loads `@kubernetes/client-node` and the kubeconfig. InvalidConfigError names the file when it
 * is missing, unreadable, malformed, or names no usable cluster.
 */
export async function createKubeSource(options: KubeSourceOptions): Promise<PolicySource> {
  const file = options.kubeconfigPath;
  const invalid = (reason: string, cause?: unknown) => new InvalidConfigError(`kubeconfig ${file}: ${reason}`, { field: 'kubeconfig', value: file }, { cause });
  const [k8s, http, https] = await Promise.all([import('@kubernetes/client-node'), import('node:http'), import('node:https')]);
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw invalid('no such file', err);
    if (code === 'EACCES') throw invalid('permission denied', err);
    if (code === 'EISDIR') throw invalid('is a directory, not a file', err);
    if (err instanceof TypeError) throw invalid('not a kubeconfig (a YAML mapping with clusters, contexts and users)', err);
    throw invalid(`cannot be read: ${(err as Error).message.split('\n')[0]}`, err);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    const context = kc.getCurrentContext();
    throw invalid(context ? `its current context ${JSON.stringify(context)} names no cluster of the file` : 'it has no current-context');
  }
  let server: URL;
  try {
    server = new URL(cluster.server);
  } catch (err) {
    throw invalid(`cluster ${JSON.stringify(cluster.name)} has server ${JSON.stringify(cluster.server)}, not a URL`, err);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') {
    throw invalid(`cluster ${JSON.stringify(cluster.name)}: server ${cluster.server} is neither https: nor http:`);
  }
  if (server.protocol === 'http:' && !cluster.skipTLSVerify) {
    // @kubernetes/client-node's rule: plain HTTP only when the file says TLS is not checked.
    throw invalid(`cluster ${JSON.stringify(cluster.name)}: a plain http: server needs insecure-skip-tls-verify: true`);
  }
  const request = server.protocol === 'https:' ? https.request : http.request;
  return new KubeSource(options, kc, server, request);
}

type RequestFn = (url: URL, options: RequestOptions) => ClientRequest;

/** 410: the resourceVersion or continue token is too old; only a fresh list helps. */
class GoneError extends Error {}
/** The server said the watch went wrong (ERROR event), or sent something unreadable: relist after the backoff. */
class WatchBrokenError extends Error {}
class StoppedError extends Error {}

/** Where one kind stands: `resourceVersion` undefined means "list first". */
interface KindState {
  resourceVersion: string | undefined;
  /** Failures since the last good list or watch; sets the backoff. */
  failures: number;
}

interface WatchEnd {
  readonly events: number;
  readonly ms: number;
}

class KubeSource implements PolicySource {
  readonly #sink: PolicyObjectSink;
  readonly #log: Log;
  readonly #kc: KubeConfig;
  readonly #server: URL;
  readonly #request: RequestFn;
  readonly #userAgent: string;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #pageSize: number;
  readonly #stop = new AbortController();
  readonly #requests = new Set<ClientRequest>();
  readonly #loops: Promise<void>[] = [];
  /** Kinds delivered at least once; start() resolves when all are. */
  readonly #synced = new Map<PolicyKind, number>();
  /** Kinds failing now, with their attempt count: the source is "disconnected" while any is. */
  readonly #failing = new Map<PolicyKind, number>();
  #started: Promise<void> | undefined;
  #settleStart: ((err?: Error) => void) | undefined;

  constructor(options: KubeSourceOptions, kc: KubeConfig, server: URL, request: RequestFn) {
    this.#sink = options.sink;
    this.#log = options.logger;
    this.#kc = kc;
    this.#server = server;
    this.#request = request;
    this.#userAgent = options.nodeName ? `berthd (node ${options.nodeName})` : 'berthd';
    this.#initialMs = options.retry?.initialMs ?? 500;
    this.#maxMs = options.retry?.maxMs ?? 30_000;
    this.#pageSize = options.pageSize ?? 500;
  }

  start(): Promise<void> {
    if (this.#started) return this.#started;
    this.#started = new Promise<void>((resolve, reject) => {
      this.#settleStart = (err) => (err ? reject(err) : resolve());
    });
    // A caller that stops without awaiting start() gets no unhandled rejection.
    this.#started.catch(() => {});
    if (this.#stop.signal.aborted) {
      this.#settleStart?.(new Error('the Kubernetes policy source was stopped before it started'));
      return this.#started;
    }
    this.#log.info('following the Kubernetes API server', { server: this.#server.origin });
    for (const kind of POLICY_KINDS) this.#loops.push(this.#follow(APIS[kind]));
    return this.#started;
  }

  async stop(): Promise<void> {
    if (!this.#stop.signal.aborted) {
      this.#stop.abort();
      for (const req of this.#requests) req.destroy();
      this.#settleStart?.(new Error('the Kubernetes policy source was stopped before its first list of every kind'));
    }
    await Promise.all(this.#loops);
  }

  get #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** List and watch one kind until stop(). Never throws. */
  async #follow(api: KindApi): Promise<void> {
    const state: KindState = { resourceVersion: undefined, failures: 0 };
    let gone = 0;
    while (!this.#stopped) {
      try {
        if (state.resourceVersion === undefined) {
          const list = await this.#list(api);
          if (this.#stopped) return;
          this.#deliver(api.kind, () => this.#sink.replaceAll(api.kind, list.items));
          state.resourceVersion = list.resourceVersion;
          state.failures = 0;
          this.#ok(api.kind);
          gone = 0;
          if (!this.#synced.has(api.kind)) this.#markSynced(api.kind, list.items.length);
        }
        const end = await this.#watch(api, state);
        if (end.events > 0 || end.ms >= SHORT_WATCH_MS) state.failures = 0;
        else {
          state.failures++;
          this.#log.debug('Kubernetes watch ended at once', { kind: api.kind, attempt: state.failures });
          await this.#sleep(state.failures);
        }
      } catch (err) {
        if (this.#stopped || err instanceof StoppedError) return;
        if (err instanceof GoneError) {
          this.#log.debug('Kubernetes resourceVersion expired; listing again', { kind: api.kind, error: err.message });
          state.resourceVersion = undefined;
          // The first 410 relists at once; 410s in a row (a list's continue token expiring
          // again and again) back off like any failure.
          if (++gone === 1) continue;
        }
        if (err instanceof WatchBrokenError) state.resourceVersion = undefined;
        state.failures++;
        this.#failed(api.kind, state.failures, err);
        await this.#sleep(state.failures);
      }
    }
  }

  /** Every page of a list, items completed; the resourceVersion to watch from. */
  async #list(api: KindApi): Promise<{ items: unknown[]; resourceVersion: string }> {
    const items: unknown[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(this.#pageSize) });
      if (next) query.set('continue', next);
      const res = await this.#get(`${api.path}?${query}`, LIST_IDLE_MS);
      const text = await readText(res);
      if (res.statusCode !== 200) throw statusError(api, res.statusCode, text);
      let page: unknown;
      try {
        page = JSON.parse(text);
      } catch {
        throw new Error(`${api.path}: the list is not JSON`);
      }
      if (!isRecord(page) || !Array.isArray(page.items)) throw new Error(`${api.path}: the answer is not a ${api.kind} list`);
      for (const item of page.items) {
        const manifest = this.#complete(api, item);
        if (manifest) items.push(manifest);
      }
      const meta = isRecord(page.metadata) ? page.metadata : {};
      resourceVersion = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '';
      next = typeof meta.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
    } while (next !== undefined);
    return { items, resourceVersion };
  }

  /** One watch request: delivers its events; resolves when the server ends it. */
  async #watch(api: KindApi, state: KindState): Promise<WatchEnd> {
    // client-go's spread, so that the watches of many nodes do not end together.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    const query = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) });
    if (state.resourceVersion) query.set('resourceVersion', state.resourceVersion);
    const opened = Date.now();
    const res = await this.#get(`${api.path}?${query}`, timeoutSeconds * 1000 + WATCH_GRACE_MS);
    if (res.statusCode !== 200) throw statusError(api, res.statusCode, await readText(res));
    this.#ok(api.kind);
    res.setEncoding('utf8');
    let events = 0;
    let partial = '';
    for await (const chunk of res as AsyncIterable<string>) {
      const lines = chunk.split('\n');
      if (lines.length === 1) {
        partial += chunk;
        continue;
      }
      lines[0] = partial + lines[0];
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        this.#event(api, state, line);
        // The stream works: a later failure starts the backoff from the beginning.
        if (events++ === 0) state.failures = 0;
      }
    }
    if (partial.trim() !== '') {
      this.#event(api, state, partial);
      events++;
    }
    return { events, ms: Date.now() - opened };
  }

  /** One line of a watch stream. */
  #event(api: KindApi, state: KindState, line: string): void {
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      throw new WatchBrokenError(`${api.path}: a watch event is not JSON`);
    }
    const type = isRecord(event) ? event.type : undefined;
    const object = isRecord(event) && isRecord(event.object) ? event.object : undefined;
    if (!object) throw new WatchBrokenError(`${api.path}: a watch event has no object`);
    switch (type) {
      case 'ADDED':
      case 'MODIFIED': {
        const manifest = this.#complete(api, object);
        if (manifest) this.#deliver(api.kind, () => this.#sink.upsert(api.kind, manifest));
        break;
      }
      case 'DELETED': {
        const meta = isRecord(object.metadata) ? object.metadata : {};
        if (typeof meta.name !== 'string' || meta.name === '') {
          this.#log.debug('Kubernetes object without a name skipped', { kind: api.kind });
          break;
        }
        const namespace = api.kind === 'Namespace' || typeof meta.namespace !== 'string' ? '' : meta.namespace;
        this.#deliver(api.kind, () => this.#sink.remove(api.kind, namespace, meta.name as string));
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const message = typeof object.message === 'string' ? object.message : JSON.stringify(object);
        if (object.code === 410) throw new GoneError(`${api.path}: ${message}`);
        throw new WatchBrokenError(`${api.path}: the watch failed: ${message}`);
      }
      default:
        this.#log.debug('Kubernetes watch event of unknown type skipped', { kind: api.kind, type: String(type) });
        return;
    }
    const meta = object.metadata;
    if (isRecord(meta) && typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') {
      state.resourceVersion = meta.resourceVersion;
    }
  }

  /** The manifest as the sink gets it: apiVersion and kind set, managedFields dropped. */
  #complete(api: KindApi, item: unknown): Record<string, unknown> | undefined {
    if (!isRecord(item) || !isRecord(item.metadata) || typeof item.metadata.name !== 'string') {
      this.#log.debug('Kubernetes object without metadata.name skipped', { kind: api.kind });
      return undefined;
    }
    const { managedFields: _dropped, ...metadata } = item.metadata;
    return { ...item, apiVersion: api.apiVersion, kind: api.kind, metadata };
  }

  /** A GET on the API server with the kubeconfig's credentials; the response is not read yet. */
  async #get(pathAndQuery: string, idleMs: number): Promise<IncomingMessage> {
    const auth: RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(auth);
    const agent = auth.agent instanceof Object ? (auth.agent as Agent) : undefined;
    if (this.#stopped) {
      agent?.destroy();
      throw new StoppedError('stopped');
    }
    const url = new URL(this.#server.href.replace(/\/$/, '') + pathAndQuery);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = this.#request(url, {
        method: 'GET',
        agent,
        auth: auth.auth,
        headers: { ...(auth.headers as OutgoingHttpHeaders | undefined), Accept: 'application/json', 'User-Agent': this.#userAgent },
      });
      this.#requests.add(req);
      req.setTimeout(idleMs, () => req.destroy(new Error(`${url.pathname}: nothing from the server for ${idleMs / 1000} s`)));
      req.on('close', () => {
        this.#requests.delete(req);
        agent?.destroy();
        // Closed before any answer (stop(), or a socket that went away without an error).
        reject(this.#stopped ? new StoppedError('stopped') : new Error(`${url.pathname}: the connection closed before an answer`));
      });
      req.on('error', (err) => reject(this.#stopped ? new StoppedError('stopped') : err));
      req.on('response', resolve);
      req.end();
    });
  }

  #deliver(kind: PolicyKind, call: () => void): void {
    if (this.#stopped) return;
    try {
      call();
    } catch (err) {
      this.#log.error('the policy agent failed on a Kubernetes object', { kind, error: (err as Error).message });
    }
  }

  #markSynced(kind: PolicyKind, count: number): void {
    this.#synced.set(kind, count);
    if (this.#synced.size < POLICY_KINDS.length) return;
    this.#log.info('listed the Kubernetes objects', {
      server: this.#server.origin,
      namespaces: this.#synced.get('Namespace'),
      pods: this.#synced.get('Pod'),
      networkPolicies: this.#synced.get('NetworkPolicy'),
    });
    this.#settleStart?.();
  }

  /** A list or watch succeeded: the end of an outage is logged once, when no kind fails any more. */
  #ok(kind: PolicyKind): void {
    const attempts = this.#failing.get(kind);
    if (attempts === undefined) return;
    this.#failing.delete(kind);
    if (this.#failing.size === 0) this.#log.info('Kubernetes API server reachable again', { server: this.#server.origin, kind, attempts });
  }

  /** The first failure of an outage is a warning; the retries are debug lines. */
  #failed(kind: PolicyKind, attempt: number, err: unknown): void {
    const fields = { server: this.#server.origin, kind, attempt, error: describe(err) };
    const outage = this.#failing.size > 0;
    this.#failing.set(kind, attempt);
    if (outage) this.#log.debug('Kubernetes API request failed; retrying', fields);
    else this.#log.warn('lost the Kubernetes API server; retrying with backoff', fields);
  }

  /** The backoff before attempt `failures + 1`; stop() cuts it short. */
  async #sleep(failures: number): Promise<void> {
    const base = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(failures - 1, 30));
    const ms = Math.round(base * (0.8 + Math.random() * 0.4));
    await delay(ms, undefined, { signal: this.#stop.signal }).catch(() => {});
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res as AsyncIterable<string>) text += chunk;
  return text;
}

/** An answer other than 200: the Status message when there is one; 410 → GoneError. */
function statusError(api: KindApi, status: number | undefined, body: string): Error {
  let message = body.slice(0, 200);
  try {
    const parsed: unknown = JSON.parse(body);
    if (isRecord(parsed) && typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not a Status: the text as it came
  }
  const text = `${api.path}: HTTP ${status}${message ? `: ${message}` : ''}`;
  return status === 410 ? new GoneError(text) : new Error(text);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
