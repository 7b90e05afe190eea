/**
 * windows-drivers: Windows' network types as berth's drivers realise them on Linux, side by
 * side on one host whose uplink (eth0) is a port of a LAN: a switch with the LAN's router and
 * DHCP server (dnsmasq), all in a namespace of the lab ("lan"). transparent: the container on
 * the LAN with its own MAC, its address leased from the LAN's server; l2bridge: the container
 * in the host's subnet behind the host's MAC; l2tunnel: every frame out to the switch, so two
 * containers of one host talk only through the switch's hairpin; nat: behind the host's
 * address. Then the HNS documents each means on Windows (overlay's too: its lab is `overlay`).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { LabContext } from '../framework/context.js';
import { DockerHost, IMAGE } from '../framework/docker-host.js';
import type { LabDefinition } from '../framework/lab.js';
import { endProcess, runCommand, waitUntil } from '../framework/process.js';
import { firstLine, type StepRecord } from '../framework/report.js';

const LAN = 'lan';
const SWITCH = 'switch';
const ROUTER = '192.168.77.1';
const HOST_IP = '192.168.77.2';
const SUBNET = '192.168.77.0/24';
/** A second prefix of the LAN, for l2tunnel (berth keeps its networks' subnets apart). */
const TUN_ROUTER = '192.168.78.1';
const TUN_HOST_IP = '192.168.78.2';
const TUN_SUBNET = '192.168.78.0/24';
const SLEEP = [IMAGE, 'sleep', '1d'];

/** The LAN: namespace "lan" with a bridge (the switch) holding the router's address, the host's eth0 a port of it. */
async function buildLan(ctx: LabContext): Promise<void> {
  ctx.defer('the LAN', async () => {
    await runCommand(['ip', 'netns', 'del', LAN]);
    await runCommand(['ip', 'link', 'del', 'eth0']);
  });
  const steps: string[][] = [
    ['ip', 'netns', 'add', LAN],
    ['ip', '-n', LAN, 'link', 'add', SWITCH, 'type', 'bridge'],
    ['ip', '-n', LAN, 'addr', 'add', `${ROUTER}/24`, 'dev', SWITCH],
    ['ip', '-n', LAN, 'addr', 'add', `${TUN_ROUTER}/24`, 'dev', SWITCH],
    ['ip', '-n', LAN, 'link', 'set', SWITCH, 'up'],
    ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'port-host', 'netns', LAN],
    ['ip', '-n', LAN, 'link', 'set', 'port-host', 'master', SWITCH, 'up'],
    ['ip', 'addr', 'add', `${HOST_IP}/24`, 'dev', 'eth0'],
    ['ip', 'addr', 'add', `${TUN_HOST_IP}/24`, 'dev', 'eth0'],
    ['ip', 'link', 'set', 'eth0', 'up'],
    ['ip', 'route', 'add', 'default', 'via', ROUTER],
  ];
  for (const [n, argv] of steps.entries()) {
    const s = await ctx.sh(
      argv,
      n === 0 ? `A LAN of two prefixes: a switch with the router (${ROUTER}, ${TUN_ROUTER}), and the host's uplink eth0 (${HOST_IP}, ${TUN_HOST_IP}) on one of its ports.` : undefined,
    );
    if (s.code !== 0) {
      s.succeeded(argv.join(' '));
      throw new Error(`the LAN could not be built: ${s.ran.stderr.trim()}`);
    }
  }
  ctx.addPlace({ kind: 'host', name: LAN, role: 'external', exec: ['ip', 'netns', 'exec', LAN], shell: ['ip', 'netns', 'exec', LAN, 'sh'], netns: `/run/netns/${LAN}` });
}

/** dnsmasq on the switch: the LAN's DHCP server, .200-.220. */
async function startDhcpServer(ctx: LabContext): Promise<string> {
  const leases = join(ctx.dir, 'dnsmasq.leases');
  const log = openSync(join(ctx.dir, 'dnsmasq.log'), 'a');
  const args = [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--port=0',
    `--interface=${SWITCH}`,
    '--bind-interfaces',
    '--except-interface=lo',
    '--dhcp-range=192.168.77.200,192.168.77.220,255.255.255.0,2m',
    `--dhcp-option=option:router,${ROUTER}`,
    `--dhcp-leasefile=${leases}`,
    `--pid-file=${join(ctx.dir, 'dnsmasq.pid')}`,
    '--dhcp-authoritative',
    '--log-facility=-',
    '--user=root',
  ];
  const proc = spawn('ip', ['netns', 'exec', LAN, ...args], { stdio: ['ignore', log, log] });
  closeSync(log);
  ctx.defer('the DHCP server', () => endProcess(proc, 'SIGTERM', 5000));
  await waitUntil(() => existsSync(join(ctx.dir, 'dnsmasq.pid')), 5000, 'dnsmasq to start');
  const ss = await ctx.inNetns(LAN, ['ss', '-lunp', 'sport', '=', ':67'], "The LAN's DHCP server (dnsmasq, range .200-.220) listens on the switch.");
  ss.check('dnsmasq serves DHCP on the LAN', ss.stdout.includes('dnsmasq'), firstLine(ss.stdout.split('\n')[1] ?? '') || 'nothing on port 67');
  return leases;
}

/** The MAC the LAN's router holds for `ip`, after pinging it: what the LAN sees. */
async function macSeenByLan(ctx: LabContext, ip: string, note?: string): Promise<{ step: StepRecord; mac: string }> {
  await runCommand(['ip', 'netns', 'exec', LAN, 'ping', '-c', '1', '-W', '2', ip]);
  const step = await ctx.inNetns(LAN, ['ip', 'neigh', 'show', ip], note);
  return { step, mac: /lladdr ([0-9a-f:]{17})/.exec(step.stdout)?.[1] ?? '' };
}

export const windowsDriversLab: LabDefinition = {
  name: 'windows-drivers',
  purpose: "Windows' network types as berth's drivers: transparent (own MAC, DHCP), l2bridge (the host's MAC), l2tunnel (the switch's hairpin), nat; and their HNS documents",
  async run(ctx) {
    const host = await DockerHost.start(ctx);
    await buildLan(ctx);
    const leases = await startDhcpServer(ctx);
    // From the lab's namespace (this process's /sys is the machine's).
    const hostMac = (JSON.parse((await runCommand(['ip', '-j', 'link', 'show', 'eth0'])).stdout || '[{}]') as { address?: string }[])[0]?.address ?? '';
    const inspect = async (c: string, net: string, field: 'IPAddress' | 'MacAddress') =>
      (await host.dockerQuiet(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").${field}}}`, c])).stdout.trim();

    // transparent
    (
      await host.docker(
        ['network', 'create', '-d', 'berth-transparent', '--ipam-driver', 'null', '-o', 'parent=eth0', 'tlan'],
        "transparent: containers directly on the LAN (macvlan on eth0), each with its own MAC; without a subnet the address comes from the LAN's DHCP server.",
      )
    ).succeeded('tlan is created');
    (await host.run('t1', ['--network', 'tlan', ...SLEEP])).succeeded('t1 runs on tlan');
    const t1 = { ip: await inspect('t1', 'tlan', 'IPAddress'), mac: await inspect('t1', 'tlan', 'MacAddress') };
    const lease = await ctx.inNetns(LAN, ['cat', leases], "The DHCP server's leases.");
    lease.check(
      "t1 leased its address from the LAN's server",
      /^192\.168\.77\.2(0\d|1\d|20)$/.test(t1.ip) && t1.mac !== '' && lease.stdout.includes(t1.mac) && lease.stdout.includes(t1.ip),
      `t1 is ${t1.ip || 'without an address'} (${t1.mac}); ${lease.stdout.includes(t1.mac) ? 'the server holds its lease' : 'no lease for its MAC'}`,
    );
    const seenT = await macSeenByLan(ctx, t1.ip, "The router reaches t1; the LAN sees t1's own MAC.");
    seenT.step.check("the LAN sees t1 with t1's own MAC", seenT.mac === t1.mac && t1.mac !== hostMac, `${t1.ip} is at ${seenT.mac || 'no MAC'} (t1 ${t1.mac}, the host ${hostMac})`);

    // l2bridge
    (
      await host.docker(
        ['network', 'create', '-d', 'berth-l2bridge', '--ipam-driver', 'berth', '--subnet', SUBNET, '--gateway', ROUTER, '--ip-range', '192.168.77.176/28', '-o', 'parent=eth0', 'l2b'],
        "l2bridge: containers in the host's subnet, every frame with the host's MAC (routed, the host answers ARP for them).",
      )
    ).succeeded('l2b is created');
    (await host.run('b1', ['--network', 'l2b', ...SLEEP])).succeeded('b1 runs on l2b');
    const b1 = { ip: await inspect('b1', 'l2b', 'IPAddress'), mac: await inspect('b1', 'l2b', 'MacAddress') };
    const seenB = await macSeenByLan(ctx, b1.ip, "The router reaches b1; the LAN sees the host's MAC for it.");
    seenB.step.check(
      "the LAN sees b1 behind the host's MAC",
      seenB.mac === hostMac && b1.ip.startsWith('192.168.77.'),
      `${b1.ip || 'b1'} is at ${seenB.mac || 'no MAC'} (the host ${hostMac}, b1's own ${b1.mac})`,
    );

    // l2tunnel
    (
      await host.docker(
        ['network', 'create', '-d', 'berth-l2tunnel', '--subnet', TUN_SUBNET, '--gateway', TUN_ROUTER, '--ip-range', '192.168.78.144/28', '-o', 'parent=eth0', 'tun'],
        'l2tunnel: like transparent, but every frame goes out to the switch, even between two containers of one host (VEPA), where the fabric applies policy.',
      )
    ).succeeded('tun is created');
    (await host.run('u1', ['--network', 'tun', ...SLEEP])).succeeded('u1 runs on tun');
    (await host.run('u2', ['--network', 'tun', ...SLEEP])).succeeded('u2 runs on tun');
    const u1 = { ip: await inspect('u1', 'tun', 'IPAddress'), mac: await inspect('u1', 'tun', 'MacAddress') };
    const u2ip = await inspect('u2', 'tun', 'IPAddress');
    const apart = await host.docker(['exec', 'u1', 'ping', '-c', '1', '-W', '1', u2ip], 'Two containers of one host: the switch does not send a frame back out of the port it came in by...');
    apart.check(
      'u1 does not reach u2 while the switch has no hairpin',
      u2ip !== '' && apart.code !== 0,
      apart.code !== 0 ? 'no answer: the frame went to the switch and stopped there' : 'it answered',
    );
    (await ctx.inNetns(LAN, ['bridge', 'link', 'set', 'dev', 'port-host', 'hairpin', 'on'], "...until the switch's port towards the host hairpins (reflective relay).")).succeeded('hairpin on');
    if (ctx.sabotage) await ctx.inNetns(LAN, ['bridge', 'link', 'set', 'dev', 'port-host', 'hairpin', 'off'], 'Sabotage (test only): the hairpin is off again.');
    const through = await host.docker(['exec', 'u1', 'ping', '-c', '1', '-W', '2', u2ip]);
    through.check('u1 reaches u2 through the switch', through.code === 0, through.code === 0 ? 'answered' : `no answer from ${u2ip}`);
    const fdb = await ctx.inNetns(LAN, ['bridge', 'fdb', 'show', 'dev', 'port-host'], "The switch learned u1's own MAC on the host's port: the frames went through it.");
    fdb.check("the switch learned u1's MAC on the host's port", u1.mac !== '' && fdb.stdout.includes(u1.mac), `${u1.mac} ${fdb.stdout.includes(u1.mac) ? 'is' : 'is not'} in the port's table`);

    // nat
    (await host.docker(['network', 'create', '-d', 'berth-nat', '--subnet', '10.35.0.0/24', 'natnet'], "nat: a private prefix behind the host's address (WinNAT).")).succeeded('natnet is created');
    (await host.run('n1', ['--network', 'natnet', ...SLEEP])).succeeded('n1 runs on natnet');
    const out = await host.docker(['exec', 'n1', 'ping', '-c', '1', '-W', '2', ROUTER], 'n1 reaches the router, translated to the host address.');
    out.check('n1 reaches the LAN through the NAT', out.code === 0, out.code === 0 ? 'answered' : 'no answer');
    const seenN = await macSeenByLan(ctx, HOST_IP, 'The LAN knows only the host for it.');
    seenN.step.check("the LAN sees n1's traffic from the host's address and MAC", seenN.mac === hostMac, `${HOST_IP} is at ${seenN.mac || 'no MAC'}`);

    // What Windows would be given.
    const renders: [string, string, string[]][] = [
      ['nat', 'NAT', ['--subnet', '10.35.0.0/24', '--endpoint', '10.35.0.2', 'natnet']],
      ['transparent', 'Transparent', ['--subnet', SUBNET, '--gateway', ROUTER, '-o', 'parent=eth0', '--endpoint', '192.168.77.161', 'tlan']],
      ['l2bridge', 'L2Bridge', ['--subnet', SUBNET, '--gateway', ROUTER, '-o', 'parent=eth0', '--host-ip', HOST_IP, '--endpoint', '192.168.77.177', 'l2b']],
      ['l2tunnel', 'L2Tunnel', ['--subnet', TUN_SUBNET, '--gateway', TUN_ROUTER, '-o', 'parent=eth0', '--endpoint', '192.168.78.145', 'tun']],
      ['overlay', 'Overlay', ['--subnet', '10.36.0.0/24', '-o', 'vni=4100', '--host-ip', HOST_IP, '--endpoint', '10.36.0.2', 'ov']],
    ];
    for (const [n, [driver, type, args]] of renders.entries()) {
      const r = await host.berth(
        ['render', '--os', 'windows', '-d', driver, ...args],
        n === 0 ? 'On Windows each is an HNS network of the same type: the HCN documents berth renders for them (nothing created).' : undefined,
      );
      let doc: { network?: { Type?: string; Policies?: { Type?: string }[] }; endpoint?: { IpConfigurations?: unknown[] } } = {};
      try {
        doc = JSON.parse(r.stdout) as typeof doc;
      } catch {
        // Checked below.
      }
      r.check(
        `${driver} is an HCN network of Type ${type} with an endpoint`,
        doc.network?.Type === type && (doc.endpoint?.IpConfigurations ?? []).length === 1,
        r.code === 0 ? `Type ${doc.network?.Type}, policies ${(doc.network?.Policies ?? []).map((p) => p.Type).join(', ') || 'none'}` : firstLine(r.ran.stderr),
      );
    }
    return {};
  },
};
