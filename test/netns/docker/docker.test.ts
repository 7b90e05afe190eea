/**
 * berthd with a real Docker engine: `docker network create -d berth-bridge`, containers that
 * reach each other, `docker network rm` leaving nothing, a berthd restart under running
 * containers, `--ipam-driver berth` with Docker's own bridge driver, and bad input answered
 * with messages the docker CLI shows, with nothing half-created.
 *
 * One dockerd and one berthd serve every test of this file (starting dockerd costs seconds);
 * the tests run serially and each removes what it made. Addresses: 10.231.0.0/16, which
 * exists only inside this run's namespaces.
 */
import anyTest, { type TestFn } from 'ava';
import type { DockerEnv } from './harness.js';
import { type DockerContext, IMAGE, PLUGIN_DIR, dockerFile, rawPluginRequest, waitFor } from './harness.js';

const anyTestTyped = anyTest as TestFn<DockerContext>;

const dockerTest = dockerFile(anyTestTyped);
const test = { serial: dockerTest };

/** Starts a container that sleeps on `network`; removed by the test's teardown. */
const runSleeper = async (t: { context: { env: DockerEnv }; teardown: (fn: () => Promise<void>) => void }, name: string, network: string): Promise<void> => {
  const env = t.context.env;
  t.teardown(async () => void (await env.docker(['rm', '-f', name])));
  await env.dockerOk(['run', '-d', '--name', name, '--network', network, IMAGE, 'sleep', '600']);
};

const createNetwork = async (t: { context: { env: DockerEnv }; teardown: (fn: () => Promise<void>) => void }, args: string[], name: string): Promise<void> => {
  const env = t.context.env;
  t.teardown(async () => void (await env.docker(['network', 'rm', name])));
  await env.dockerOk(['network', 'create', ...args, name]);
};

const ping = async (env: DockerEnv, from: string, to: string): Promise<boolean> => (await env.docker(['exec', from, 'ping', '-c', '1', '-W', '2', to])).code === 0;

test.serial('berth-bridge: two containers on one network ping each other', async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-bridge', '--subnet', '10.231.1.0/24'], 'n1');
  await runSleeper(t, 'c1', 'n1');
  await runSleeper(t, 'c2', 'n1');
  const ip1 = await env.containerIp('c1', 'n1');
  const ip2 = await env.containerIp('c2', 'n1');
  t.regex(ip1, /^10\.231\.1\.\d+$/);
  t.not(ip1, ip2);
  t.true(await ping(env, 'c1', ip2), 'c1 reaches c2');
  t.true(await ping(env, 'c2', ip1), 'c2 reaches c1');
  t.true(await ping(env, 'c1', '10.231.1.1'), 'the gateway on the bridge answers');
  const id = await env.dockerOk(['network', 'inspect', '-f', '{{.Id}}', 'n1']);
  t.true(env.links().includes(`bn-${id.slice(0, 12)}`), 'the network has its bridge');
  // Inside the container Docker named the interface eth0 and gave it the address.
  const addr = await env.dockerOk(['exec', 'c1', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
  t.true(addr.includes(`${ip1}/24`));
  const mac = ['02', '42', ...ip1.split('.').map((b) => Number(b).toString(16).padStart(2, '0'))].join(':');
  t.is(await env.dockerOk(['exec', 'c1', 'cat', '/sys/class/net/eth0/address']), mac, "the MAC is derived from the address, as Docker's bridge does");

  // disconnect: Leave and DeleteEndpoint remove c2's veth; connect gives it a new one.
  const vethsBefore = env.links().filter((l) => l.startsWith('bv')).length;
  await env.dockerOk(['network', 'disconnect', 'n1', 'c2']);
  t.is(env.links().filter((l) => l.startsWith('bv')).length, vethsBefore - 1, "the disconnected endpoint's veth is gone");
  t.false(await ping(env, 'c1', ip2), 'c2 is off the network');
  await env.dockerOk(['network', 'connect', 'n1', 'c2']);
  t.true(await ping(env, 'c1', await env.containerIp('c2', 'n1')), 'c2 is back after connect');
});

test.serial('berth-bridge: docker network rm removes every link, rule and record', async (t) => {
  const env = t.context.env;
  await env.dockerOk(['network', 'create', '-d', 'berth-bridge', '--subnet', '10.231.2.0/24', 'n2']);
  const id = await env.dockerOk(['network', 'inspect', '-f', '{{.Id}}', 'n2']);
  await env.dockerOk(['run', '-d', '--name', 'c3', '--network', 'n2', IMAGE, 'sleep', '600']);
  t.true(
    env.links().some((l) => l.startsWith('bv')),
    'the container has a host veth',
  );
  t.true(env.ruleset().includes(`bn-${id.slice(0, 12)}`), 'the network has nftables rules');
  await env.dockerOk(['rm', '-f', 'c3']);
  await env.dockerOk(['network', 'rm', 'n2']);
  const links = env.links();
  t.false(links.includes(`bn-${id.slice(0, 12)}`), 'the bridge is gone');
  t.deepEqual(
    links.filter((l) => /^b[vp][0-9a-f]{12}$/.test(l)),
    [],
    'no veth is left',
  );
  t.false(env.ruleset().includes(`bn-${id.slice(0, 12)}`), 'no rule names the bridge');
  t.deepEqual(
    env.storeKeys().filter((k) => k.includes(id)),
    [],
    'no record is left',
  );
});

test.serial('berthd restart: running containers keep talking, and Docker is answered afterwards', async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-bridge', '--subnet', '10.231.3.0/24'], 'n3');
  await runSleeper(t, 'c4', 'n3');
  await runSleeper(t, 'c5', 'n3');
  const ip5 = await env.containerIp('c5', 'n3');
  await env.stopBerthd();
  t.true(await ping(env, 'c4', ip5), 'traffic flows while berthd is down');
  await env.startBerthd();
  t.true(await ping(env, 'c4', ip5), 'traffic flows after berthd restarted');
  // A new container on the same network: CreateEndpoint and Join reach the new berthd,
  // which knows the network only from its store.
  await runSleeper(t, 'c6', 'n3');
  const ip6 = await env.containerIp('c6', 'n3');
  t.true(await ping(env, 'c6', ip5), 'a container started after the restart reaches an old one');
  t.true(await ping(env, 'c4', ip6), 'and the other way round');
});

test.serial("--ipam-driver berth with Docker's built-in bridge driver", async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'bridge', '--ipam-driver', 'berth', '--subnet', '10.231.4.0/24', '-o', 'com.docker.network.bridge.name=br-berthipam'], 'n4');
  await runSleeper(t, 'c7', 'n4');
  await runSleeper(t, 'c8', 'n4');
  const ip7 = await env.containerIp('c7', 'n4');
  const ip8 = await env.containerIp('c8', 'n4');
  t.regex(ip7, /^10\.231\.4\.\d+$/);
  t.regex(ip8, /^10\.231\.4\.\d+$/);
  t.true(await ping(env, 'c8', ip7));
  t.true(await ping(env, 'c7', ip8));
  t.regex(await env.dockerOk(['exec', 'c7', 'ip', 'route']), /default via 10\.231\.4\.1 /, 'berth IPAM gave the gateway, which Docker put on its bridge');
  const held = env.storeKeys().filter((k) => k.startsWith('ipam/pools/docker:'));
  t.is(held.length, 1, 'berth IPAM holds the pool');
  await env.dockerOk(['rm', '-f', 'c7', 'c8']);
  await env.dockerOk(['network', 'rm', 'n4']);
  t.deepEqual(
    env.storeKeys().filter((k) => k.includes('ipam')),
    [],
    'the pool and every allocation are released',
  );
});

test.serial('bad input: an unknown driver option is refused with a message the docker CLI shows; nothing is created', async (t) => {
  const env = t.context.env;
  const before = env.links();
  const r = await env.docker(['network', 'create', '-d', 'berth-bridge', '--subnet', '10.231.5.0/24', '-o', 'bogus=1', 'nbad']);
  t.not(r.code, 0);
  t.regex(r.stderr, /Unknown option "bogus" for driver berth-bridge/);
  t.deepEqual(env.links(), before);
  t.false((await env.docker(['network', 'inspect', 'nbad'])).code === 0, 'Docker has no such network');
  t.deepEqual(
    env.storeKeys().filter((k) => k.startsWith('berthd/networks/')),
    [],
    'berthd recorded nothing',
  );
});

test.serial('bad input: a subnet overlapping another berth network is refused, by berth IPAM and by the driver', async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-bridge', '--ipam-driver', 'berth', '--subnet', '10.231.6.0/24'], 'n6');
  // berth IPAM refuses the second pool.
  const viaIpam = await env.docker(['network', 'create', '-d', 'berth-bridge', '--ipam-driver', 'berth', '--subnet', '10.231.6.128/25', 'n6b']);
  t.not(viaIpam.code, 0);
  t.regex(viaIpam.stderr, /Subnet 10\.231\.6\.128\/25 overlaps berth IPAM pool/);
  // Docker's own IPAM does not know berth's pool: the driver refuses the overlap.
  const viaDriver = await env.docker(['network', 'create', '-d', 'berth-bridge', '--subnet', '10.231.6.0/25', 'n6c']);
  t.not(viaDriver.code, 0);
  t.regex(viaDriver.stderr, /Subnet 10\.231\.6\.0\/25 overlaps subnet 10\.231\.6\.0\/24 of Docker network/);
  t.is((await env.dockerOk(['network', 'ls', '--filter', 'driver=berth-bridge', '--format', '{{.Name}}'])).split('\n').filter(Boolean).join(','), 'n6');
  t.is(env.links().filter((l) => l.startsWith('bn-')).length, 1, 'only n6 has a bridge');
});

test.serial('bad input: an existing non-bridge link as bridge name fails the create and leaves nothing', async (t) => {
  const env = t.context.env;
  const r = await env.docker(['network', 'create', '-d', 'berth-bridge', '--subnet', '10.231.7.0/24', '-o', 'com.docker.network.bridge.name=lo', 'nlo']);
  t.not(r.code, 0);
  t.regex(r.stderr, /"lo" exists and is not a bridge/);
  t.deepEqual(env.storeKeys().filter((k) => k.startsWith('berthd/networks/')).length, 0);
  t.is((await env.docker(['network', 'inspect', 'nlo'])).code === 0, false);
});

test.serial('--internal: containers reach each other, Docker adds no gateway, nothing is masqueraded', async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-bridge', '--internal', '--subnet', '10.231.10.0/24'], 'n10');
  await runSleeper(t, 'c10', 'n10');
  await runSleeper(t, 'c11', 'n10');
  t.true(await ping(env, 'c10', await env.containerIp('c11', 'n10')));
  t.notRegex(await env.dockerOk(['exec', 'c10', 'ip', 'route']), /default/, 'no default route');
  t.false(env.ruleset().includes('10.231.10.0'), 'no masquerade rule for the subnet');
});

test.serial('bad input: -p on a berth-bridge network is refused with the reason, and the endpoint leaves nothing', async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-bridge', '--subnet', '10.231.11.0/24'], 'n11');
  const before = env.links();
  const r = await env.docker(['run', '--rm', '--network', 'n11', '-p', '8080:80', IMAGE, 'true']);
  t.not(r.code, 0);
  t.regex(r.stderr, /Driver berth-bridge does not publish ports: run the container without -p\/-P, or on a berth-nat network/);
  t.deepEqual(env.links(), before, 'no veth is left');
  t.deepEqual(
    env.storeKeys().filter((k) => k.startsWith('berthd/endpoints/')),
    [],
    'no endpoint record is left',
  );
});

test.serial('bad input on the plugin socket: broken JSON and missing fields get {"Err": ...}', async (t) => {
  const sock = `${PLUGIN_DIR}/berth-bridge.sock`;
  const broken = await rawPluginRequest(sock, '/NetworkDriver.CreateNetwork', '{"NetworkID": ');
  t.is(broken.status, 400);
  t.regex((JSON.parse(broken.body) as { Err: string }).Err, /not valid JSON/);
  const missing = await rawPluginRequest(sock, '/NetworkDriver.CreateEndpoint', '{"NetworkID": "x"}');
  t.is(missing.status, 400);
  t.deepEqual(JSON.parse(missing.body), { Err: 'CreateEndpoint: the request has no EndpointID' });
  const wrongType = await rawPluginRequest(`${PLUGIN_DIR}/berth.sock`, '/IpamDriver.RequestAddress', '{"PoolID": 7}');
  t.regex((JSON.parse(wrongType.body) as { Err: string }).Err, /PoolID must be a string/);
  const unknown = await rawPluginRequest(sock, '/NetworkDriver.Nonsense', '{}');
  t.is(unknown.status, 404);
  t.truthy((JSON.parse(unknown.body) as { Err?: string }).Err);
});

test.serial('metrics: requests per call, networks and endpoints', async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-bridge', '--subnet', '10.231.8.0/24'], 'n8');
  await runSleeper(t, 'c9', 'n8');
  const text = await new Promise<string>((resolve, reject) => {
    import('node:http').then(({ get }) => {
      get({ socketPath: env.berthd!.metricsSocket, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    }, reject);
  });
  t.regex(text, /berth_requests_total\{api="docker",call="NetworkDriver.CreateNetwork",outcome="ok"\} \d+/);
  t.regex(text, /berth_request_duration_seconds_count\{api="docker",call="NetworkDriver.Join"\} \d+/);
  t.regex(text, /berth_networks\{driver="bridge"\} [1-9]/);
  t.regex(text, /berth_endpoints\{driver="bridge"\} [1-9]/);
});

test.serial('teardown check: the berthd log is JSON lines', async (t) => {
  const env = t.context.env;
  await waitFor(() => true, 10, 'nothing');
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(env.berthd!.logFile, 'utf8').trim().split('\n');
  t.true(lines.length > 0);
  for (const line of lines) t.notThrows(() => JSON.parse(line), line);
});
