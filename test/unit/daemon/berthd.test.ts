import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpPrefix } from '../../../core/ip.js';
import { startDaemon } from '../../../daemon/berthd.js';
import type { DaemonConfig } from '../../../daemon/config.js';
import { parseDaemonArgs } from '../../../daemon/config.js';
import { DriverRegistry } from '../../../daemon/drivers/binding.js';
import { connectApi } from '../../../daemon/grpc/client.js';
import { SILENT_LOG } from '../../../daemon/log.js';
import { FakeDriver, fakeBinding } from './support.js';

function config(t: ExecutionContext, extra: Partial<DaemonConfig> = {}): DaemonConfig {
  const dir = mkdtempSync(join(tmpdir(), 'berthd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return {
    pluginDir: join(dir, 'plugins'),
    dataDir: join(dir, 'data'),
    runDir: join(dir, 'run'),
    apiSocket: join(dir, 'run', 'berthd.sock'),
    metricsAddress: `unix:${join(dir, 'metrics.sock')}`,
    logLevel: 'error',
    logFile: undefined,
    defaultPoolRange: IpPrefix.parse('10.209.0.0/16'),
    defaultPoolLength: 24,
    docker: true,
    // Unit tests run in the host's namespace: its nftables are not ours to touch.
    policy: false,
    managedPlugin: undefined,
    kubeconfig: undefined,
    dockerSocket: join(dir, 'no-docker.sock'),
    firewallCheckMs: 0,
    cniSocket: join(dir, 'run', 'cni.sock'),
    cluster: undefined,
    ...extra,
  };
}

/** Unit tests run in the host's namespace: its firewall is not ours to read or touch. */
const NONE = { devices: [], passages: [] };
const NO_FIREWALL = { open: () => NONE, close: () => NONE, refresh: () => NONE };

function registry(): DriverRegistry {
  const r = new DriverRegistry();
  r.register(fakeBinding(new FakeDriver()));
  return r;
}

/** One HTTP request on a unix socket: its status and body. */
function httpOn(socketPath: string, method: 'GET' | 'POST', path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function post(socketPath: string, path: string): Promise<unknown> {
  return JSON.parse((await httpOn(socketPath, 'POST', path)).body);
}

test('startDaemon: plugin sockets per driver and for IPAM, the API and metrics; stop removes the sockets and the lock', async (t) => {
  const c = config(t);
  const daemon = await startDaemon(c, { log: SILENT_LOG, registry: registry(), sandboxExists: () => false, forwardPassage: NO_FIREWALL });
  t.deepEqual(daemon.pluginSockets, [join(c.pluginDir, 'berth-bridge.sock'), join(c.pluginDir, 'berth.sock')]);
  t.deepEqual(await post(join(c.pluginDir, 'berth.sock'), '/Plugin.Activate'), { Implements: ['IpamDriver'] });
  const second = await t.throwsAsync(startDaemon(c, { log: SILENT_LOG, registry: registry(), forwardPassage: NO_FIREWALL }));
  t.regex(second?.message ?? '', /Another berthd is running/);
  const client = connectApi(c.apiSocket);
  try {
    const created = await client.createNetwork({ name: 'n', driver: 'bridge', subnets: [{ subnet: '10.9.0.0/24', gateway: '' }], options: {}, internal: false });
    t.is(created.subnets[0]?.gateway, '10.9.0.1');
    const status = await client.status();
    t.like(status, { version: '0.1.0', drivers: [{ driver: 'bridge', plugin: 'berth-bridge', networks: 1, endpoints: 0 }] });
    await t.throwsAsync(client.inspectNetwork('nope'), { message: 'No such network: nope' });
  } finally {
    client.close();
  }
  await daemon.stop();
  for (const s of [...daemon.pluginSockets, c.apiSocket, join(c.runDir, 'berthd.lock')]) t.false(existsSync(s), s);
});

const get = (socketPath: string, path: string) => httpOn(socketPath, 'GET', path);

test("/healthz re-checks the firewall passage: ok while it works, 503 naming the problem when berth's accept cannot be restored; status shows the failure", async (t) => {
  const c = config(t);
  let broken = false;
  const passage = {
    ...NO_FIREWALL,
    refresh: () => {
      if (broken) throw new Error('nft: Operation not permitted');
      return NONE;
    },
  };
  const daemon = await startDaemon(c, { log: SILENT_LOG, registry: registry(), sandboxExists: () => false, forwardPassage: passage, firewallHealthFreshMs: 0 });
  t.teardown(() => daemon.stop());
  const metrics = c.metricsAddress!.slice('unix:'.length);
  t.deepEqual(await get(metrics, '/healthz'), { status: 200, body: 'ok\n' });
  broken = true;
  const sick = await get(metrics, '/healthz');
  t.is(sick.status, 503);
  t.is(sick.body, 'firewall passage re-check failed: nft: Operation not permitted\n');
  const client = connectApi(c.apiSocket);
  try {
    t.like(await client.status(), { firewallError: 'nft: Operation not permitted' });
  } finally {
    client.close();
  }
  broken = false;
  t.is((await get(metrics, '/healthz')).status, 200, 'healthy again once the re-check works');
});

test('startDaemon --managed-plugin: one socket implementing the network and IPAM drivers', async (t) => {
  const c = config(t, { managedPlugin: 'bridge', metricsAddress: undefined });
  const daemon = await startDaemon(c, { log: SILENT_LOG, registry: registry(), sandboxExists: () => false, forwardPassage: NO_FIREWALL });
  t.teardown(() => daemon.stop());
  t.deepEqual(daemon.pluginSockets, [join(c.pluginDir, 'berth.sock')]);
  t.deepEqual(await post(join(c.pluginDir, 'berth.sock'), '/Plugin.Activate'), { Implements: ['NetworkDriver', 'IpamDriver'] });
  t.like(await post(join(c.pluginDir, 'berth.sock'), '/NetworkDriver.GetCapabilities'), { Scope: 'local' });
  t.like(await post(join(c.pluginDir, 'berth.sock'), '/IpamDriver.GetDefaultAddressSpaces'), { LocalDefaultAddressSpace: 'berth-local' });
});

test('parseDaemonArgs: defaults, and errors that name the option', (t) => {
  t.like(parseDaemonArgs([]), {
    pluginDir: '/run/docker/plugins',
    dataDir: '/var/lib/berth',
    runDir: '/run/berth',
    apiSocket: '/run/berth/berthd.sock',
    metricsAddress: '127.0.0.1:9613',
    logLevel: 'info',
    docker: true,
  });
  t.like(parseDaemonArgs(['--run-dir', '/tmp/r', '--metrics-address', 'none']), { apiSocket: '/tmp/r/berthd.sock', metricsAddress: undefined });
  t.is(parseDaemonArgs(['-h']), 'help');
  t.throws(() => parseDaemonArgs(['--log-level', 'loud']), { message: /--log-level "loud" is not one of/ });
  t.throws(() => parseDaemonArgs(['--metrics-address', 'here']), { message: /--metrics-address "here" is not HOST:PORT/ });
  t.throws(() => parseDaemonArgs(['--default-pool', 'fd00::/64']), { message: /must be an IPv4 range/ });
  t.throws(() => parseDaemonArgs(['--bogus']), { message: /Unknown option '--bogus'/ });
});

test('parseDaemonArgs: the cluster options, with defaults, and errors that name the option', (t) => {
  t.is((parseDaemonArgs([]) as { cluster: unknown }).cluster, undefined, 'no etcd: single host');
  const config = parseDaemonArgs(['--etcd-endpoints', 'http://10.0.0.1:2379,https://10.0.0.2:2379', '--advertise-address', '192.168.1.5', '--node-name', 'n1']);
  t.like((config as { cluster: object }).cluster, { endpoints: ['http://10.0.0.1:2379', 'https://10.0.0.2:2379'], nodeName: 'n1', nodeTtlSeconds: 10, subnetGraceSeconds: 3600 });
  t.is((config as { cluster: { advertiseAddress: { toString(): string } } }).cluster.advertiseAddress.toString(), '192.168.1.5');
  t.throws(() => parseDaemonArgs(['--etcd-endpoints', 'http://10.0.0.1:2379']), { message: /needs --advertise-address IP/ });
  t.throws(() => parseDaemonArgs(['--etcd-endpoints', '10.0.0.1:2379', '--advertise-address', '192.168.1.5']), { message: /"10\.0\.0\.1:2379" is not an etcd client URL/ });
  t.throws(() => parseDaemonArgs(['--etcd-endpoints', 'http://e:2379', '--advertise-address', 'fd00::1']), { message: /--advertise-address "fd00::1" is not an IPv4 address/ });
  t.throws(() => parseDaemonArgs(['--etcd-endpoints', 'http://e:2379', '--advertise-address', '10.0.0.9', '--node-name', 'a/b']), { message: /--node-name "a\/b" is not a valid node name/ });
  t.throws(() => parseDaemonArgs(['--etcd-endpoints', 'http://e:2379', '--advertise-address', '10.0.0.9', '--node-ttl', '1']), {
    message: /--node-ttl "1" must be a whole number of seconds, at least 2/,
  });
  t.throws(() => parseDaemonArgs(['--advertise-address', '10.0.0.9']), { message: /--advertise-address needs --etcd-endpoints/ });
});
