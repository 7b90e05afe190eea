/**
 * Notices a Docker engine starting and its network changes, through its events stream on the
 * API socket (`GET /events`, one JSON object per line). A new engine rewrites its firewall
 * chains, so each successful connection counts as "the engine started". While no engine
 * answers, it retries with a capped backoff; nothing is logged for a host without Docker.
 */
import { request, type ClientRequest } from 'node:http';

export interface EngineWatch {
  stop(): void;
}

export interface EngineEvents {
  /** A connection to an engine's events stream was made (the engine is, or came back, up). */
  up(): void;
  /** The engine created, removed, connected or disconnected a network. */
  networkEvent(): void;
}

const FILTERS = encodeURIComponent(JSON.stringify({ type: ['network'], event: ['create', 'destroy'] }));
const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;

export function watchDockerEngine(socketPath: string, on: EngineEvents): EngineWatch {
  let stopped = false;
  let req: ClientRequest | undefined;
  let timer: NodeJS.Timeout | undefined;
  let retryMs = MIN_RETRY_MS;

  const again = () => {
    req = undefined;
    if (stopped) return;
    timer = setTimeout(connect, retryMs);
    timer.unref();
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  };

  function connect(): void {
    if (stopped) return;
    let pending = '';
    // One retry per connection, whichever of end, close or error comes first.
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      again();
    };
    req = request({ socketPath, path: `/events?filters=${FILTERS}`, method: 'GET', headers: { Host: 'docker' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', finish);
        return;
      }
      retryMs = MIN_RETRY_MS;
      on.up();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        if (lines.some((l) => l.trim() !== '')) on.networkEvent();
      });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    // No socket, engine stopping, connection reset: try again later.
    req.on('error', finish);
    req.end();
  }

  connect();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      req?.destroy();
      req = undefined;
    },
  };
}
