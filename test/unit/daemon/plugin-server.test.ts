import test from 'ava';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError } from '../../../core/errors.js';
import { startPluginServer } from '../../../daemon/docker/plugin-server.js';
import { SILENT_LOG } from '../../../daemon/log.js';
import { Metrics } from '../../../daemon/metrics.js';

function post(socketPath: string, path: string, body: string, method = 'POST'): Promise<{ status: number; json: unknown; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, headers: { 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text), type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('plugin server: Activate, JSON calls, empty bodies, and {"Err"} for every failure; socket mode 0660', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-plugin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const metrics = new Metrics();
  const server = await startPluginServer({
    name: 'berth-test',
    dir,
    implements: ['NetworkDriver'],
    log: SILENT_LOG,
    metrics,
    handlers: {
      'NetworkDriver.Echo': async (body) => ({ Got: body }),
      'NetworkDriver.Refuse': async () => {
        throw new InvalidConfigError('Subnet 10.1.0.0/24 overlaps something');
      },
      'NetworkDriver.Crash': async () => {
        throw new TypeError('oops');
      },
    },
  });
  t.teardown(() => server.close());
  t.is(statSync(server.socketPath).mode & 0o777, 0o660);
  t.like(await post(server.socketPath, '/Plugin.Activate', ''), { status: 200, json: { Implements: ['NetworkDriver'] }, type: 'application/vnd.docker.plugins.v1.1+json' });
  t.like(await post(server.socketPath, '/NetworkDriver.Echo', '{"A":1}'), { status: 200, json: { Got: { A: 1 } } });
  t.like(await post(server.socketPath, '/NetworkDriver.Echo', 'null'), { status: 200, json: { Got: {} } });
  t.like(await post(server.socketPath, '/NetworkDriver.Echo', '{"A":'), { status: 400, json: { Err: 'NetworkDriver.Echo: the request body is not valid JSON (Unexpected end of JSON input)' } });
  t.like(await post(server.socketPath, '/NetworkDriver.Echo', '[1]'), { status: 400, json: { Err: 'NetworkDriver.Echo: the request body must be a JSON object' } });
  t.like(await post(server.socketPath, '/NetworkDriver.Refuse', '{}'), { status: 400, json: { Err: 'Subnet 10.1.0.0/24 overlaps something' } });
  t.like(await post(server.socketPath, '/NetworkDriver.Crash', '{}'), { status: 500, json: { Err: 'berthd internal error: oops' } });
  t.like(await post(server.socketPath, '/NetworkDriver.Nope', '{}'), { status: 404, json: { Err: 'Plugin berth-test does not implement NetworkDriver.Nope' } });
  t.like(await post(server.socketPath, '/NetworkDriver.Echo', '', 'GET'), { status: 400, json: { Err: 'NetworkDriver.Echo must be called with POST, not GET' } });
  t.regex(await metrics.render(), /berth_requests_total\{api="docker",call="NetworkDriver.Refuse",outcome="error"\} 1/);
});
