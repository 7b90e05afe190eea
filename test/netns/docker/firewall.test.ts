/**
 * berth's Docker networks on a Docker host that booted with forwarding off: Docker turns
 * forwarding on and drops in `filter FORWARD`, and br_netfilter sends even frames bridged
 * between two containers through that drop. berth-nat and berth-bridge containers must still
 * reach each other and the outside, and be reached through published ports, after a berthd
 * restart and after a dockerd restart too; Docker's own networks stay closed to berth's and the
 * other way round; removing berth's networks leaves no berth rule in Docker's chains.
 *
 * Addresses: 10.234.0.0/16, only inside this run's namespaces; the external client's namespace
 * hangs off the host on 10.234.9.0/24.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DIST_BIN, runProcess } from '../../support/netns.js';
import type { DockerEnv } from './harness.js';
import { type DockerContext, HTTPD, IMAGE, dockerFile, httpGet, waitFor } from './harness.js';

const anyTestTyped = anyTest as TestFn<DockerContext>;
const dockerTest = dockerFile(anyTestTyped, '10.234.9');
type T = ExecutionContext<DockerContext>;

const IPTABLES = '/usr/sbin/iptables';

function iptables(...args: string[]): string {
  const r = spawnSync(IPTABLES, ['-w', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`iptables ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const ping = async (env: DockerEnv, from: string, to: string): Promise<boolean> => (await env.docker(['exec', from, 'ping', '-c', '1', '-W', '1', to])).code === 0;
const eventually = async (probe: () => Promise<boolean> | boolean, what: string): Promise<boolean> => {
  try {
    await waitFor(probe, 10_000, what);
    return true;
  } catch {
    return false;
  }
};

/** Everything the issue promises, checked from the containers named in the world below. */
const checkAll = async (t: T, when: string): Promise<void> => {
  const env = t.context.env;
  const up = t.context.up!;
  const ip = async (c: string, n: string) => env.containerIp(c, n);
  const [ipWeb, ipNat1, ipBr2, ipDock] = await Promise.all([ip('web', 'fw-nat'), ip('nat1', 'fw-nat'), ip('br2', 'fw-br'), ip('dock1', 'fw-docker')]);
  t.true(await eventually(() => ping(env, 'nat1', ipWeb), 'nat1 → web'), `${when}: containers on a berth-nat network reach each other`);
  t.true(await ping(env, 'nat1', 'web'), `${when}: ... by name too`);
  t.true(await ping(env, 'br1', ipBr2), `${when}: containers on a berth-bridge network reach each other`);
  t.true(await ping(env, 'nat1', up.extIp), `${when}: a berth-nat container reaches the outside`);
  t.true(await ping(env, 'br1', up.extIp), `${when}: a berth-bridge container reaches the outside`);
  t.true(await eventually(() => httpGet(`http://${up.hostIp}:8080/`, up.ext) === 'hello-fw', 'published port'), `${when}: an external client reaches -p 8080:80 through the host address`);
  t.false(await ping(env, 'dock1', ipNat1), `${when}: a container on Docker's own bridge does not reach a berth-nat network it is not on`);
  t.false(await ping(env, 'dock1', ipBr2), `${when}: ... nor a berth-bridge network`);
  t.false(await ping(env, 'nat1', ipDock), `${when}: and berth's containers do not reach into Docker's network`);
  t.is(berthRules(), 1, `${when}: one berth rule in DOCKER-USER:\n${iptables('-S', 'DOCKER-USER')}`);
};

const berthRules = () =>
  iptables('-S', 'DOCKER-USER')
    .split('\n')
    .filter((l) => l.includes('berth:')).length;

const run = async (t: T, name: string, network: string, extra: string[] = [], cmd: string[] = ['sleep', '3600']) => {
  // --restart always: the containers come back when dockerd restarts, through berthd again.
  await t.context.env.dockerOk(['run', '-d', '--restart', 'always', '--name', name, '--network', network, ...extra, IMAGE, ...cmd]);
};

dockerTest(
  "on a host that booted with forwarding off, berth-nat and berth-bridge work through Docker's FORWARD drop, across berthd and dockerd restarts, and leave nothing in Docker's chains",
  async (t) => {
    const env = t.context.env;
    t.regex(iptables('-S', 'FORWARD'), /^-P FORWARD DROP$/m, 'Docker set FORWARD to drop, as on a freshly booted host');
    t.is(spawnSync('/bin/cat', ['/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' }).stdout.trim(), '1', 'and turned forwarding on');

    await env.dockerOk(['network', 'create', '-d', 'berth-nat', '--subnet', '10.234.1.0/24', 'fw-nat']);
    await env.dockerOk(['network', 'create', '-d', 'berth-bridge', '--subnet', '10.234.2.0/24', 'fw-br']);
    await env.dockerOk(['network', 'create', '-d', 'bridge', '--subnet', '10.234.3.0/24', 'fw-docker']);
    await run(t, 'web', 'fw-nat', ['-p', '8080:80'], HTTPD('hello-fw'));
    await run(t, 'nat1', 'fw-nat');
    await run(t, 'br1', 'fw-br');
    await run(t, 'br2', 'fw-br');
    await run(t, 'dock1', 'fw-docker');

    await checkAll(t, 'at first');

    const status = await runProcess(process.execPath, [join(DIST_BIN, 'berth'), 'status', '--host', env.berthd!.apiSocket], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    t.is(status.code, 0, status.stderr);
    t.regex(status.stdout, /docker\s+ip filter DOCKER-USER\s+added\s+Docker's ip filter FORWARD drops forwarded traffic/, status.stdout);

    // Docker cannot show a plugin's port mappings; berth ps does, with Docker's names.
    const ps = await runProcess(process.execPath, [join(DIST_BIN, 'berth'), 'ps', '--host', env.berthd!.apiSocket, '--docker-socket', env.dockerSocket], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    t.is(ps.code, 0, ps.stderr);
    t.regex(ps.stdout, /^web\s+fw-nat\s+10\.234\.1\.\d+\/24\s+0\.0\.0\.0:8080->80\/tcp$/m, ps.stdout);
    t.regex(ps.stdout, /^br1\s+fw-br\s+10\.234\.2\.\d+\/24$/m, ps.stdout);
    t.is((await env.dockerOk(['port', 'web'])).trim(), '', 'docker port shows nothing for a plugin network (why berth ps exists)');

    await env.stopBerthd();
    await env.startBerthd();
    await run(t, 'nat2', 'fw-nat');
    t.true(await ping(env, 'nat2', await env.containerIp('web', 'fw-nat')), 'after a berthd restart: a new container reaches an old one');
    await checkAll(t, 'after a berthd restart');

    await env.restartDockerd();
    await waitFor(
      async () => (await env.docker(['ps', '-q', '--filter', 'status=running'])).stdout.split(/\s+/).filter(Boolean).length === 6,
      60_000,
      'the containers to come back after the dockerd restart',
    );
    await checkAll(t, 'after a dockerd restart');

    for (const c of ['web', 'nat1', 'nat2', 'br1', 'br2', 'dock1']) await env.dockerOk(['rm', '-f', c]);
    for (const n of ['fw-nat', 'fw-br', 'fw-docker']) await env.dockerOk(['network', 'rm', n]);
    t.is(berthRules(), 0, `removing the last network leaves no berth rule in DOCKER-USER:\n${iptables('-S', 'DOCKER-USER')}`);
    t.false(env.ruleset().includes('berth-passage'), "nor berth's passage table");
    t.regex(iptables('-S', 'FORWARD'), /^-P FORWARD DROP$/m, "Docker's policy is as Docker left it");
  },
);
