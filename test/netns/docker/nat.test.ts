/**
 * berthd's `berth-nat` with a real Docker engine: containers on a nat network reach each
 * other; `docker run -p 8080:80` is reachable from an external namespace through the host's
 * address; the host reaches a container by its address, and through its own address only with
 * `-o loopback=true`; `-p HOSTIP:...` binds one host address; a host port already published
 * makes `docker run` fail with berth's message; `docker network rm` leaves no link, rule, NAT instance or record.
 *
 * Addresses: 10.232.0.0/16, which exists only inside this run's namespaces; the external
 * client's namespace hangs off the host on 10.232.9.0/24.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { join } from 'node:path';
import { describeNat } from '../../../drivers/nat/index.js';
import { DIST_BIN, runProcess } from '../../support/netns.js';
import type { DockerEnv } from './harness.js';
import { type DockerContext, HTTPD, IMAGE, dockerFile, httpGet } from './harness.js';

const anyTestTyped = anyTest as TestFn<DockerContext>;

const dockerTest = dockerFile(anyTestTyped, '10.232.9');

type T = ExecutionContext<DockerContext>;
const createNetwork = async (t: T, args: string[], name: string): Promise<void> => {
  const env = t.context.env;
  t.teardown(async () => void (await env.docker(['network', 'rm', name])));
  await env.dockerOk(['network', 'create', ...args, name]);
};
const run = async (t: T, name: string, args: string[]): Promise<void> => {
  const env = t.context.env;
  t.teardown(async () => void (await env.docker(['rm', '-f', name])));
  await env.dockerOk(['run', '-d', '--name', name, ...args]);
};
/** Waits until `probe` gives a body (the server may take a moment to listen). */
const eventually = async (probe: () => string | undefined): Promise<string | undefined> => {
  for (let i = 0; i < 30; i++) {
    const body = probe();
    if (body !== undefined) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
};
const ping = async (env: DockerEnv, from: string, to: string): Promise<boolean> => (await env.docker(['exec', from, 'ping', '-c', '1', '-W', '2', to])).code === 0;

dockerTest('berth-nat: containers ping each other; -p 8080:80 answers an external client through the host address; the host reaches the container by its address only', async (t) => {
  const env = t.context.env;
  const up = t.context.up!;
  await createNetwork(t, ['-d', 'berth-nat', '--subnet', '10.232.1.0/24'], 'n1');
  await run(t, 'c1', ['--network', 'n1', IMAGE, 'sleep', '600']);
  await run(t, 'web', ['--network', 'n1', '-p', '8080:80', IMAGE, ...HTTPD('hello-nat')]);
  const ip1 = await env.containerIp('c1', 'n1');
  const ipWeb = await env.containerIp('web', 'n1');
  t.regex(ip1, /^10\.232\.1\.\d+$/);
  t.true(await ping(env, 'c1', ipWeb), 'c1 reaches web');
  t.true(await ping(env, 'web', ip1), 'web reaches c1');

  t.is(await eventually(() => httpGet(`http://${up.hostIp}:8080/`, up.ext)), 'hello-nat', 'the external client reaches the published port through the host address');
  t.is(httpGet(`http://${ipWeb}:80/`), 'hello-nat', 'the host reaches the container by its address');
  t.is(httpGet(`http://${up.hostIp}:8080/`), undefined, 'without loopback the host does not reach the port on its own address (the Windows rule)');

  const nat = describeNat({ runDir: env.berthd!.runDir });
  t.is(nat.nats.length, 1, 'one NAT instance');
  t.is(nat.nats[0]!.internalIPInterfaceAddressPrefix, '10.232.1.0/24');
  const m = nat.staticMappings.find((s) => s.externalPort === 8080);
  t.truthy(m, 'the static mapping is recorded');
  t.is(m?.internalIPAddress, ipWeb);
  t.is(m?.internalPort, 80);

  // berth nat ls through berthd shows the instance and the mapping (Get-NetNatStaticMapping).
  const ls = await runProcess(process.execPath, [join(DIST_BIN, 'berth'), 'nat', 'ls', '--host', env.berthd!.apiSocket], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
  t.is(ls.code, 0, ls.stderr);
  t.regex(ls.stdout, /10\.232\.1\.0\/24\s+bn-[0-9a-f]{12}\s+false\s+1\n/);
  t.regex(ls.stdout, new RegExp(`\\n1\\s+\\S+\\s+TCP\\s+0\\.0\\.0\\.0\\s+8080\\s+${ipWeb.replaceAll('.', '\\.')}\\s+80\\s+[0-9a-f]{12}/eth\\n`));
});

dockerTest('berth-nat: -o loopback=true lets the host reach a published port on its own address', async (t) => {
  const up = t.context.up!;
  await createNetwork(t, ['-d', 'berth-nat', '--subnet', '10.232.2.0/24', '-o', 'loopback=true'], 'n2');
  await run(t, 'web2', ['--network', 'n2', '-p', '8081:80', IMAGE, ...HTTPD('hello-loopback')]);
  t.is(await eventually(() => httpGet(`http://${up.hostIp}:8081/`)), 'hello-loopback', 'the host reaches the port on its own address');
  t.is(httpGet(`http://127.0.0.1:8081/`), 'hello-loopback', 'and on 127.0.0.1');
  t.is(httpGet(`http://${up.hostIp}:8081/`, up.ext), 'hello-loopback', 'the external client still does');
});

dockerTest('berth-nat: -p HOSTIP:8090:80 publishes on that host address only', async (t) => {
  const env = t.context.env;
  const up = t.context.up!;
  await createNetwork(t, ['-d', 'berth-nat', '--subnet', '10.232.6.0/24'], 'n6');
  await run(t, 'bound', ['--network', 'n6', '-p', `${up.hostIp}:8090:80`, IMAGE, ...HTTPD('hello-bound')]);
  t.is(await eventually(() => httpGet(`http://${up.hostIp}:8090/`, up.ext)), 'hello-bound', 'the external client reaches it on the named address');
  const m = describeNat({ runDir: env.berthd!.runDir }).staticMappings.find((s) => s.externalPort === 8090);
  t.is(m?.externalIPAddress, up.hostIp, 'the mapping is bound to the host address, not 0.0.0.0');
  // 0.0.0.0 covers every host address, the bound one included: publishing the port there clashes.
  const r = await env.docker(['run', '-d', '--name', 'wide', '--network', 'n6', '-p', '8090:80', IMAGE, 'sleep', '600']);
  t.teardown(async () => void (await env.docker(['rm', '-f', 'wide'])));
  t.not(r.code, 0, 'a wildcard mapping of a port bound on one address is refused');
  t.regex(r.stderr, /8090/);
});

dockerTest("berth-nat: a host port already published makes docker run fail with berth's message, leaving nothing", async (t) => {
  const env = t.context.env;
  await createNetwork(t, ['-d', 'berth-nat', '--subnet', '10.232.3.0/24'], 'n3');
  await run(t, 'holder', ['--network', 'n3', '-p', '8082:80', IMAGE, ...HTTPD('holder')]);
  const vethsBefore = env.links().filter((l) => /^b[vp][0-9a-f]{12}$/.test(l)).length;
  t.teardown(async () => void (await env.docker(['rm', '-f', 'clash'])));
  const r = await env.docker(['run', '-d', '--name', 'clash', '--network', 'n3', '-p', '8082:80', IMAGE, 'sleep', '600']);
  t.not(r.code, 0);
  t.regex(r.stderr, /tcp port 8082 is already published by container [0-9a-f]+/);
  t.is(env.links().filter((l) => /^b[vp][0-9a-f]{12}$/.test(l)).length, vethsBefore, 'no veth is left');
  t.is(describeNat({ runDir: env.berthd!.runDir }).staticMappings.filter((s) => s.externalPort === 8082).length, 1, "only the holder's mapping");
});

dockerTest('berth-nat: -P gets an ephemeral host port, and published ports keep answering across a berthd restart', async (t) => {
  const env = t.context.env;
  const up = t.context.up!;
  await createNetwork(t, ['-d', 'berth-nat', '--subnet', '10.232.5.0/24'], 'n5');
  await run(t, 'web5', ['--network', 'n5', '--expose', '80', '-P', IMAGE, ...HTTPD('hello-ephemeral')]);
  const ipWeb = await env.containerIp('web5', 'n5');
  const mapped = describeNat({ runDir: env.berthd!.runDir }).staticMappings.filter((s) => s.internalIPAddress === ipWeb);
  t.is(mapped.length, 1, 'one mapping for the exposed port');
  t.true(mapped[0]!.ephemeral, 'berth picked the host port');
  const port = mapped[0]!.externalPort;
  t.is(await eventually(() => httpGet(`http://${up.hostIp}:${port}/`, up.ext)), 'hello-ephemeral', `the external client reaches it on ${port}`);

  await env.stopBerthd();
  t.is(httpGet(`http://${up.hostIp}:${port}/`, up.ext), 'hello-ephemeral', 'it answers while berthd is down');
  await env.startBerthd();
  t.is(httpGet(`http://${up.hostIp}:${port}/`, up.ext), 'hello-ephemeral', 'and after berthd restarted');
  t.is(describeNat({ runDir: env.berthd!.runDir }).staticMappings.filter((s) => s.internalIPAddress === ipWeb)[0]?.externalPort, port, 'the same port is kept');
});

dockerTest('berth-nat bad input: an unknown option and --internal are refused by name; nothing is created', async (t) => {
  const env = t.context.env;
  const before = env.links();
  const unknown = await env.docker(['network', 'create', '-d', 'berth-nat', '--subnet', '10.232.6.0/24', '-o', 'ipMasq=false', 'nbad']);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /Unknown option "ipMasq" for driver berth-nat; it accepts: .*loopback/);
  const internal = await env.docker(['network', 'create', '-d', 'berth-nat', '--internal', '--subnet', '10.232.6.0/24', 'nbad2']);
  t.not(internal.code, 0);
  t.regex(internal.stderr, /A berth-nat network cannot be --internal/);
  t.deepEqual(env.links(), before, 'no bridge was made');
  t.deepEqual(describeNat({ runDir: env.berthd!.runDir }).nats, [], 'no NAT instance');
  t.deepEqual(
    env.storeKeys().filter((k) => k.startsWith('berthd/networks/')),
    [],
    'berthd recorded nothing',
  );
});

dockerTest('berth-nat: docker network rm removes every link, rule, mapping and record', async (t) => {
  const env = t.context.env;
  await env.dockerOk(['network', 'create', '-d', 'berth-nat', '--subnet', '10.232.4.0/24', 'n4']);
  const id = await env.dockerOk(['network', 'inspect', '-f', '{{.Id}}', 'n4']);
  await env.dockerOk(['run', '-d', '--name', 'c4', '--network', 'n4', '-p', '8083:80', IMAGE, ...HTTPD('bye')]);
  t.true(env.ruleset().includes('berth-nat'), 'the NAT table exists');
  await env.dockerOk(['rm', '-f', 'c4']);
  await env.dockerOk(['network', 'rm', 'n4']);
  const links = env.links();
  t.false(links.includes(`bn-${id.slice(0, 12)}`), 'the bridge is gone');
  t.deepEqual(
    links.filter((l) => /^b[vp][0-9a-f]{12}$/.test(l)),
    [],
    'no veth is left',
  );
  t.false(env.ruleset().includes('"berth-nat"'), 'no ip berth-nat table is left');
  t.false(env.ruleset().includes(`bn-${id.slice(0, 12)}`), 'no rule names the bridge');
  const nat = describeNat({ runDir: env.berthd!.runDir });
  t.deepEqual([nat.nats.length, nat.staticMappings.length], [0, 0], 'no NAT instance or mapping is left');
  t.deepEqual(
    env.storeKeys().filter((k) => k.includes(id)),
    [],
    'no record is left',
  );
});
