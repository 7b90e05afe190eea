/**
 * berth's Docker networks on a Docker host that booted with forwarding off: Docker turns
 * forwarding on and drops in `filter FORWARD`, and br_netfilter sends even frames bridged
 * between two containers through that drop. berth-nat and berth-bridge containers must still
 * reach each other and the outside, and be reached through published ports, after a berthd
 * restart and after a dockerd restart too; Docker's own networks stay closed to berth's and the
 * other way round; removing berth's networks leaves no berth rule in Docker's chains. berth's
 * rule sits below the admin's rules in DOCKER-USER, so an admin's block of the uplink closes
 * berth's published ports as it closes Docker's; a rule taken away by a firewall reload comes
 * back on the engine's start event, not only on the periodic re-check.
 *
 * Addresses: 10.234.0.0/16, only inside this run's namespaces; the external client's namespace
 * hangs off the host on 10.234.9.0/24.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
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

/** Takes berth's rule out of DOCKER-USER, as a firewall reload that restores only the admin's own rules would. */
const deleteBerthRule = () => {
  for (const line of iptables('-S', 'DOCKER-USER').split('\n')) {
    if (!line.includes('berth:')) continue;
    const args = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
    iptables('-D', ...args.slice(1));
  }
};

/** berthd's log lines (JSON) from byte `from` on. */
const logSince = (file: string, from: number): { message?: string; why?: string; owner?: string; chain?: string }[] =>
  readFileSync(file)
    .subarray(from)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { message?: string });

const run = async (t: T, name: string, network: string, extra: string[] = [], cmd: string[] = ['sleep', '3600']) => {
  // --restart always: the containers come back when dockerd restarts, through berthd again.
  await t.context.env.dockerOk(['run', '-d', '--restart', 'always', '--name', name, '--network', network, ...extra, IMAGE, ...cmd]);
};

dockerTest(
  "on a host that booted with forwarding off, berth-nat and berth-bridge work through Docker's FORWARD drop, across berthd and dockerd restarts, and leave nothing in Docker's chains",
  async (t) => {
    const env = t.context.env;
    const up = t.context.up!;
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

    // From here on only Docker's engine events re-check berth's rules at once: the periodic re-check is 10 minutes away.
    await env.stopBerthd();
    await env.startBerthd(['--firewall-check-interval', '600']);
    await run(t, 'nat2', 'fw-nat');
    t.true(await ping(env, 'nat2', await env.containerIp('web', 'fw-nat')), 'after a berthd restart: a new container reaches an old one');
    await checkAll(t, 'after a berthd restart');

    // A port Docker publishes itself, to compare the admin's block with.
    await run(t, 'dweb', 'fw-docker', ['-p', '8081:80'], HTTPD('hello-docker'));
    t.true(await eventually(() => httpGet(`http://${up.hostIp}:8081/`, up.ext) === 'hello-docker', "Docker's published port"), "an external client reaches Docker's own -p 8081:80");

    // A firewall reload (or the admin's `iptables -F DOCKER-USER` and their script run again):
    // the admin's rule is back, Docker's RETURN is there, berth's rule is gone. The admin's rule
    // is Docker's documented way to close published ports to the outside, made to let replies
    // in (a plain `-i IF -j DROP` would drop the replies to the containers' own connections).
    deleteBerthRule();
    const adminRule = ['DOCKER-USER', '-i', up.hostIf, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP'];
    iptables('-I', ...adminRule);
    t.is(berthRules(), 0);
    const logFrom = statSync(env.berthd!.logFile).size;
    await env.restartDockerd();
    const answered = Date.now();
    // Back from the engine-start event (berthd reconnects to the events stream within its 5 s
    // backoff), not from the periodic re-check 10 minutes away.
    await waitFor(() => berthRules() === 1, 8000, "berth's rule back in DOCKER-USER after the engine started").catch(() => undefined);
    t.log(`berth's rule back ${Date.now() - answered} ms after the engine answered`);
    t.is(berthRules(), 1, `berth's rule is back within 8 s of the engine answering (${Date.now() - answered} ms):\n${iptables('-S', 'DOCKER-USER')}`);
    const repaired = logSince(env.berthd!.logFile, logFrom).filter((l) => l.message?.includes('was put back'));
    t.true(
      repaired.some((l) => l.why === 'docker engine started' && l.owner === 'docker' && l.chain === 'ip filter DOCKER-USER'),
      `berthd logged the repair, from the engine-start event: ${JSON.stringify(repaired)}`,
    );
    const order = iptables('-S', 'DOCKER-USER')
      .split('\n')
      .filter((l) => l.startsWith('-A '));
    const at = (re: RegExp) => order.findIndex((l) => re.test(l));
    t.true(at(/--ctstate NEW -j DROP/) < at(/berth:/) && at(/berth:/) < at(/^-A DOCKER-USER -j RETURN$/), `berth's rule sits after the admin's and before Docker's RETURN:\n${order.join('\n')}`);

    await waitFor(
      async () => (await env.docker(['ps', '-q', '--filter', 'status=running'])).stdout.split(/\s+/).filter(Boolean).length === 7,
      60_000,
      'the containers to come back after the dockerd restart',
    );
    t.true(await eventually(() => ping(env, 'nat1', 'web'), 'nat1 → web'), "with the admin's block: containers on a berth-nat network reach each other");
    t.true(await ping(env, 'br1', await env.containerIp('br2', 'fw-br')), '... and on a berth-bridge network');
    t.true(await ping(env, 'nat1', up.extIp), '... and the outside (the replies pass the admin rule)');
    t.true(await ping(env, 'br1', up.extIp), '... from berth-bridge too');
    t.is(httpGet(`http://${up.hostIp}:8081/`, up.ext), undefined, "the admin's rule closes Docker's published port to the outside");
    t.is(httpGet(`http://${up.hostIp}:8080/`, up.ext), undefined, "... and berth's published port too: berth's accept does not jump ahead of it");
    iptables('-D', ...adminRule);
    t.true(await eventually(() => httpGet(`http://${up.hostIp}:8081/`, up.ext) === 'hello-docker', "Docker's published port"), "without the admin's rule Docker's port is open again");

    await checkAll(t, 'after a dockerd restart');

    for (const c of ['web', 'nat1', 'nat2', 'br1', 'br2', 'dock1', 'dweb']) await env.dockerOk(['rm', '-f', c]);
    for (const n of ['fw-nat', 'fw-br', 'fw-docker']) await env.dockerOk(['network', 'rm', n]);
    t.is(berthRules(), 0, `removing the last network leaves no berth rule in DOCKER-USER:\n${iptables('-S', 'DOCKER-USER')}`);
    t.false(env.ruleset().includes('berth-passage'), "nor berth's passage table");
    t.regex(iptables('-S', 'FORWARD'), /^-P FORWARD DROP$/m, "Docker's policy is as Docker left it");
  },
);
