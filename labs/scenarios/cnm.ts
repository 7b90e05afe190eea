/**
 * cnm: Docker's container network model on berth. A network (the berth-bridge driver's
 * bridge), two endpoints (veth pairs, one end a port of the bridge) and two sandboxes (the
 * containers' network namespaces); each object is shown in the kernel, and the containers
 * reach each other.
 */
import { DockerHost, IMAGE } from '../framework/docker-host.js';
import { bridgeHolding, bridgePorts } from '../framework/kernel-state.js';
import type { LabDefinition } from '../framework/lab.js';
import { firstLine } from '../framework/report.js';

const SUBNET = '10.30.0.0/24';
const GATEWAY = '10.30.0.1';

export const cnmLab: LabDefinition = {
  name: 'cnm',
  purpose: 'sandbox, endpoint, network: which namespace, veth and bridge realise each, and two containers reach each other',
  async run(ctx) {
    const host = await DockerHost.start(ctx);
    const net = await host.docker(
      ['network', 'create', '-d', 'berth-bridge', '--subnet', SUBNET, 'cnm'],
      'The network: the berth-bridge driver (a Docker remote driver served by berthd) makes a Linux bridge for it.',
    );
    net.succeeded('Docker created the network through berthd');
    const show = await ctx.sh(['ip', '-br', 'addr', 'show', 'type', 'bridge'], 'The network is realised by a bridge holding the gateway address.');
    const bridge = await bridgeHolding(GATEWAY);
    show.check('a bridge holds the gateway', bridge !== '', bridge ? `${bridge} holds ${GATEWAY}` : `no bridge holds ${GATEWAY}`);

    for (const c of ['c1', 'c2'])
      (await host.run(c, ['--network', 'cnm', IMAGE, 'sleep', '1d'], c === 'c1' ? 'Two containers on the network: each gets a sandbox and an endpoint.' : undefined)).succeeded(`${c} runs`);
    const ip1 = await host.ip('c1', 'cnm');
    const ip2 = await host.ip('c2', 'cnm');

    const sandbox = await host.docker(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'c1'], "The sandbox: the container's network namespace.");
    const key = sandbox.stdout.trim();
    const ns = await ctx.sh(['stat', '-f', '-c', '%T', key]);
    const fs = ns.stdout.trim();
    ns.check("c1's sandbox is a network namespace (a file of the nsfs file system)", ns.code === 0 && fs === 'nsfs', ns.code === 0 ? `${key} is on ${fs}` : firstLine(ns.ran.stderr));

    const eps = await host.docker(
      ['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.EndpointID}} {{.IPv4Address}}{{println}}{{end}}', 'cnm'],
      'The endpoints: one per container on the network, each with its address.',
    );
    const lines = eps.stdout.trim().split('\n').filter(Boolean);
    eps.check(
      'two endpoints, one per container, addresses from the subnet',
      lines.length === 2 && [ip1, ip2].every((a) => a.startsWith('10.30.0.')),
      `${lines.length} endpoints; c1 ${ip1 || 'none'}, c2 ${ip2 || 'none'}`,
    );

    const inside = await host.docker(['exec', 'c1', 'ip', 'link', 'show', 'eth0'], "An endpoint is a veth pair: eth0 in the sandbox, its peer (eth0@ifN) in the host's namespace.");
    const peer = Number(/eth0@if(\d+)/.exec(inside.stdout)?.[1] ?? NaN);
    const ports = await bridgePorts(bridge);
    const ports2 = await ctx.sh(['ip', '-br', 'link', 'show', 'master', bridge]);
    ports2.check(
      "the peer of c1's eth0 is a port of the network's bridge",
      ports.has(peer),
      ports.has(peer) ? `ifindex ${peer} is ${ports.get(peer)}, a port of ${bridge}` : `ifindex ${peer} is not among ${bridge}'s ports (${[...ports.values()].join(', ') || 'none'})`,
    );
    ports2.check('the bridge has a port for each endpoint', ports.size === 2, `${ports.size} ports`);

    if (ctx.sabotage) await ctx.sh(['ip', 'link', 'set', bridge, 'down'], 'Sabotage (test only): the bridge goes down.');
    const ping = await host.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', ip2], 'The containers reach each other over the bridge.');
    ping.check('c1 reaches c2 by its address', ping.code === 0, ping.code === 0 ? firstLine(ping.stdout.split('\n')[1] ?? '') : `no answer from ${ip2}`);
    const back = await host.docker(['exec', 'c2', 'ping', '-c', '1', '-W', '2', ip1]);
    back.check('c2 reaches c1', back.code === 0, back.code === 0 ? 'answered' : `no answer from ${ip1}`);
    return {};
  },
};
