/**
 * The Prometheus endpoint: `GET /metrics` (text format 0.0.4) and `GET /healthz` (200 `ok`, or
 * 503 with one line naming the problem), on TCP (`host:port`) or a unix socket (`unix:PATH`).
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { IoError } from '../core/errors.js';
import type { Log } from './log.js';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  /** Where it listens: `host:port` (the real port when 0 was asked) or `unix:PATH`. */
  readonly address: string;
  close(): Promise<void>;
}

/** What is wrong with berthd right now, as one line, or undefined when it is healthy. */
export type HealthProblem = () => string | undefined;

export async function startMetricsServer(address: string, metrics: Metrics, log: Log, health: HealthProblem = () => undefined): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics.render().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(`metrics failed: ${(err as Error).message}\n`);
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      // A probe asks whether berthd does its job now, so the check runs per request (it is cheap).
      let problem: string | undefined;
      try {
        problem = health();
      } catch (err) {
        problem = `health check failed: ${(err as Error).message}`;
      }
      res.writeHead(problem === undefined ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(problem === undefined ? 'ok\n' : `${problem.replace(/\n/g, ' ')}\n`);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found: try /metrics\n');
  });
  const unixPath = address.startsWith('unix:') ? address.slice(5) : undefined;
  if (unixPath) {
    try {
      unlinkSync(unixPath);
    } catch {
      // Not there: fine.
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (unixPath) server.listen(unixPath, done);
    else {
      const colon = address.lastIndexOf(':');
      server.listen(Number(address.slice(colon + 1)), address.slice(0, colon).replace(/^\[|\]$/g, ''), done);
    }
  }).catch((err: unknown) => {
    throw new IoError(`Cannot serve metrics on ${address}: ${(err as Error).message}`, { operation: `listen ${address}` }, { cause: err });
  });
  if (unixPath) chmodSync(unixPath, 0o660);
  const bound = server.address();
  const actual = unixPath ? address : typeof bound === 'object' && bound ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : address;
  log.info('metrics listening', { address: actual });
  return {
    address: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
