/**
 * The `berth` CLI against a real berthd over its gRPC socket: `network create/ls/inspect/rm`
 * and `status`, output like `docker network`, `--format json`, and the exit status and
 * message of each kind of failure. Addresses: 10.233.0.0/16, inside this run's namespace.
 */
import anyTest, { type TestFn } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DIST_BIN, runProcess, scratch, shOk, type Run } from '../../support/netns.js';
import { rawPluginRequest, waitFor } from './harness.js';

const test = anyTest as TestFn<{ berthd: ChildProcess; socket: string; cleanup: () => void }>;

test.before(async (t) => {
  const s = scratch('cli');
  const socket = join(s.dir, 'run', 'berthd.sock');
  const plugins = join(s.dir, 'plugins');
  const berthd = spawn(
    process.execPath,
    [
      join(DIST_BIN, 'berthd'),
      '--plugin-dir',
      plugins,
      '--data-dir',
      join(s.dir, 'data'),
      '--run-dir',
      join(s.dir, 'run'),
      '--metrics-address',
      'none',
      '--log-file',
      join(s.dir, 'log'),
      '--docker-socket',
      join(s.dir, 'no-docker.sock'),
    ],
    {
      stdio: 'ignore',
    },
  );
  t.context = { berthd, socket, cleanup: s.cleanup };
  await waitFor(async () => (await rawPluginRequest(join(plugins, 'berth-bridge.sock'), '/Plugin.Activate', '').catch(() => ({ status: 0 }))).status === 200, 20_000, 'berthd');
});

test.after.always(async (t) => {
  const { berthd, cleanup } = t.context;
  if (berthd && berthd.exitCode === null) {
    const exited = new Promise((r) => berthd.once('exit', r));
    berthd.kill('SIGTERM');
    await exited;
  }
  cleanup?.();
});

function berth(socket: string, ...args: string[]): Promise<Run> {
  return runProcess(process.execPath, [join(DIST_BIN, 'berth'), ...args], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', BERTH_HOST: socket });
}

test.serial('berth network create, ls, inspect and rm: a bridge network through berthd', async (t) => {
  const { socket } = t.context;
  const created = await berth(socket, 'network', 'create', '-d', 'bridge', '--subnet', '10.233.1.0/24', '-o', 'mtu=1400', 'apinet');
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout.trim(), /^[0-9a-f]{64}$/);
  t.true(shOk('/usr/sbin/ip', ['link', 'show', 'bn-apinet']), 'the bridge exists');

  const ls = await berth(socket, 'network', 'ls');
  t.is(ls.code, 0);
  const [header, row] = ls.stdout.trim().split('\n');
  t.regex(header ?? '', /^NETWORK ID\s{3,}NAME\s{3,}DRIVER\s{3,}ORIGIN\s{3,}SUBNET\s{3,}ENDPOINTS$/);
  t.regex(row ?? '', new RegExp(`^${created.stdout.trim().slice(0, 12)}\\s+apinet\\s+bridge\\s+api\\s+10\\.233\\.1\\.0/24\\s+0$`));

  const json = await berth(socket, 'network', 'ls', '--format', 'json');
  t.like(JSON.parse(json.stdout.trim()), { Name: 'apinet', Driver: 'bridge', Subnets: ['10.233.1.0/24'] });

  const inspect = await berth(socket, 'network', 'inspect', 'apinet');
  t.is(inspect.code, 0);
  const [net] = JSON.parse(inspect.stdout) as { name: string; subnets: { subnet: string; gateway: string }[]; options: Record<string, string> }[];
  t.deepEqual(net?.subnets, [{ subnet: '10.233.1.0/24', gateway: '10.233.1.1' }]);
  t.deepEqual(net?.options, { mtu: '1400' });

  const status = await berth(socket, 'status');
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^berthd 0\.1\.0, up/);
  t.regex(status.stdout, /bridge\s+berth-bridge\s+1\s+0/);
  const statusJson = JSON.parse((await berth(socket, 'status', '--format', 'json')).stdout) as { drivers: { networks: number }[] };
  t.is(statusJson.drivers[0]?.networks, 1);

  const rm = await berth(socket, 'network', 'rm', 'apinet');
  t.is(rm.code, 0, rm.stderr);
  t.is(rm.stdout, 'apinet\n');
  t.false(shOk('/usr/sbin/ip', ['link', 'show', 'bn-apinet']), 'the bridge is gone');
  t.is((await berth(socket, 'network', 'ls', '-q')).stdout, '');
});

test.serial('berth network: errors are clear and exit with the documented status', async (t) => {
  const { socket } = t.context;
  const unknownDriver = await berth(socket, 'network', 'create', '-d', 'warp', '--subnet', '10.233.2.0/24', 'x');
  t.is(unknownDriver.code, 2);
  t.regex(unknownDriver.stderr, /^berth: Unknown driver "warp": berthd serves bridge/);

  const badSubnet = await berth(socket, 'network', 'create', '-d', 'bridge', '--subnet', '10.233.2.1/24', 'x');
  t.is(badSubnet.code, 2);
  t.regex(badSubnet.stderr, /Subnet "10\.233\.2\.1\/24" is not a subnet in CIDR notation/);

  const badOption = await berth(socket, 'network', 'create', '-d', 'bridge', '--subnet', '10.233.2.0/24', '-o', 'colour=blue', 'x');
  t.is(badOption.code, 2);
  t.regex(badOption.stderr, /Unknown option "colour" for driver berth-bridge/);

  t.is((await berth(socket, 'network', 'create', '-d', 'bridge', '--subnet', '10.233.3.0/24', 'first')).code, 0);
  t.teardown(() => berth(socket, 'network', 'rm', 'first').then(() => undefined));
  const overlap = await berth(socket, 'network', 'create', '-d', 'bridge', '--subnet', '10.233.3.128/25', 'second');
  t.is(overlap.code, 2);
  t.regex(overlap.stderr, /Subnet 10\.233\.3\.128\/25 overlaps subnet 10\.233\.3\.0\/24 of network first/);
  const sameName = await berth(socket, 'network', 'create', '-d', 'bridge', '--subnet', '10.233.4.0/24', 'first');
  t.is(sameName.code, 1);
  t.regex(sameName.stderr, /A network named first already exists/);
  t.false(shOk('/usr/sbin/ip', ['link', 'show', 'bn-second']), 'a refused network leaves no bridge');

  const missing = await berth(socket, 'network', 'rm', 'nosuch');
  t.is(missing.code, 1);
  t.is(missing.stderr, 'Error: No such network: nosuch\n');

  const usage = await berth(socket, 'network', 'create', '--subnet', '10.233.5.0/24', 'x');
  t.is(usage.code, 2);
  t.regex(usage.stderr, /-d DRIVER is required/);

  const unreachable = await berth(join(socket, '..', 'nothing.sock'), 'network', 'ls');
  t.is(unreachable.code, 69);
  t.regex(unreachable.stderr, /Cannot reach berthd at .*nothing\.sock: is it running\?/);
});

test.serial('berth nat ls: NAT instances through berthd, and straight from the state without it', async (t) => {
  const { socket } = t.context;
  const runDir = join(socket, '..');
  const created = await berth(socket, 'network', 'create', '-d', 'nat', '--subnet', '10.233.20.0/24', '-o', 'loopback=true', 'natnet');
  t.is(created.code, 0, created.stderr);
  t.teardown(() => berth(socket, 'network', 'rm', 'natnet').then(() => undefined));

  const ls = await berth(socket, 'nat', 'ls');
  t.is(ls.code, 0, ls.stderr);
  const [header, row] = ls.stdout.split('\n');
  t.regex(header ?? '', /^NAME\s{3,}INTERNAL PREFIX\s{3,}INTERFACE\s{3,}LOOPBACK\s{3,}STATIC MAPPINGS$/);
  t.regex(row ?? '', /^natnet\s+10\.233\.20\.0\/24\s+bn-natnet\s+true\s+0$/);
  t.regex(ls.stdout, /\nID\s{3,}NAT NAME\s{3,}PROTOCOL\s{3,}EXTERNAL ADDRESS\s{3,}EXTERNAL PORT\s{3,}INTERNAL ADDRESS\s{3,}INTERNAL PORT\s{3,}CONTAINER\n$/);

  const json = await berth(socket, 'nat', 'ls', '--format', 'json');
  t.is(json.code, 0, json.stderr);
  const viaApi = JSON.parse(json.stdout) as unknown;
  t.deepEqual(viaApi, {
    nats: [{ name: 'natnet', internalIPInterfaceAddressPrefix: '10.233.20.0/24', internalInterface: 'bn-natnet', loopback: true, staticMappings: 0 }],
    staticMappings: [],
  });

  const direct = await berth(socket, 'nat', 'ls', '--format', 'json', '--run-dir', runDir);
  t.is(direct.code, 0, direct.stderr);
  t.deepEqual(JSON.parse(direct.stdout), viaApi, 'the state read directly says the same');

  // berthd unreachable and no --host: the state under BERTH_RUN_DIR, with a warning.
  const fallback = await runProcess(process.execPath, [join(DIST_BIN, 'berth'), 'nat', 'ls', '--format', 'json'], {
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
    BERTH_HOST: join(runDir, 'nothing.sock'),
    BERTH_RUN_DIR: runDir,
  });
  t.is(fallback.code, 0, fallback.stderr);
  t.regex(fallback.stderr, /berthd is not reachable; showing the NAT state under /);
  t.deepEqual(JSON.parse(fallback.stdout), viaApi);

  // An explicit --host that does not answer is an error, not a silent fallback.
  const explicit = await berth(socket, 'nat', 'ls', '--host', join(runDir, 'nothing.sock'));
  t.is(explicit.code, 69);
  const badFormat = await berth(socket, 'nat', 'ls', '--format', 'yaml');
  t.is(badFormat.code, 2);
  t.regex(badFormat.stderr, /--format "yaml" is not supported/);

  t.is((await berth(socket, 'network', 'rm', 'natnet')).code, 0);
  t.deepEqual(JSON.parse((await berth(socket, 'nat', 'ls', '--format', 'json')).stdout), { nats: [], staticMappings: [] }, 'the instance goes with its network');
});
