/**
 * port-mapping: `docker run -p 8080:80` and `-p 80` (an ephemeral host port) on a berth-nat
 * network; `berth nat ls` shows both static mappings; an external host reaches each service
 * through the host's address and the published port.
 */
import { natMappings, publishedPorts } from '../framework/docker-ports.js';
import { DockerHost, IMAGE } from '../framework/docker-host.js';
import { addExternalHost } from '../framework/external-host.js';
import type { LabDefinition } from '../framework/lab.js';
import { firstLine } from '../framework/report.js';

const SUBNET = '10.32.0.0/24';

export function webServer(banner: string): string[] {
  return [IMAGE, 'sh', '-c', `echo ${banner} > /www/index.html && exec httpd -f -p 80 -h /www`];
}

export const portMappingLab: LabDefinition = {
  name: 'port-mapping',
  purpose: 'publish a port and an ephemeral port on a nat network; berth nat ls shows them; an external host reaches both',
  async run(ctx) {
    const host = await DockerHost.start(ctx);
    const outside = await addExternalHost(ctx, 'outside', '198.51.100');
    (await host.docker(['network', 'create', '-d', 'berth-nat', '--subnet', SUBNET, 'natnet'], 'A NAT network: a bridge behind a WinNAT instance (masquerade out, static mappings in).')).succeeded(
      'the nat network is created',
    );
    (await host.run('web', ['--network', 'natnet', '-p', '8080:80', ...webServer('hello-from-web')], 'A web server published on host port 8080.')).succeeded('web runs with 8080:80');
    (await host.run('web2', ['--network', 'natnet', '-p', '80', ...webServer('hello-from-web2')], 'Another published on an ephemeral host port (-p 80: the NAT picks it).')).succeeded(
      'web2 runs with an ephemeral port',
    );
    const webIp = await host.ip('web', 'natnet');
    const web2Ip = await host.ip('web2', 'natnet');

    const ls = await host.berth(['nat', 'ls'], "The NAT instance and its static mappings (Windows' Get-NetNat and Get-NetNatStaticMapping).");
    const mappings = await natMappings();
    const fixed = mappings.find((m) => m.externalPort === 8080);
    ls.check(
      '8080/tcp is mapped to web:80',
      fixed?.internalIPAddress === webIp && fixed.internalPort === 80 && fixed.protocol === 'TCP',
      fixed ? `8080 -> ${fixed.internalIPAddress}:${fixed.internalPort} (web is ${webIp})` : 'no mapping of 8080',
    );
    const eph = mappings.find((m) => m.internalIPAddress === web2Ip && m.internalPort === 80);
    ls.check(
      'web2:80 has an ephemeral host port',
      eph?.ephemeral === true && eph.externalPort >= 1024,
      eph ? `host port ${eph.externalPort}${eph.ephemeral ? ', picked from the ephemeral range' : ', not marked ephemeral'}` : `no mapping to ${web2Ip}:80`,
    );
    ls.check(
      'berth nat ls lists both',
      ls.code === 0 && ls.stdout.includes('8080') && (eph ? ls.stdout.includes(String(eph.externalPort)) : false),
      ls.code === 0 ? 'both ports are in the table' : firstLine(ls.ran.stderr),
    );

    if (ctx.sabotage) await ctx.sh(['nft', 'flush', 'ruleset'], 'Sabotage (test only): every nftables rule is gone, the NAT with them.');
    const curl = (port: number) =>
      ctx.stepUntil(
        {
          show: `ip netns exec outside curl -s --max-time 2 http://${outside.hostAddress}:${port}/`,
          argv: ['ip', 'netns', 'exec', 'outside', 'curl', '-s', '--max-time', '2', `http://${outside.hostAddress}:${port}/`],
        },
        ctx.sabotage ? 0 : 3000,
        port === 8080 ? "From the external host, the service is reached through the host's address and the published port." : undefined,
      );
    const a = await curl(8080);
    a.check('the external host reaches web through host:8080', a.stdout.trim() === 'hello-from-web', a.code === 0 ? `answered ${JSON.stringify(a.stdout.trim())}` : `curl exit status ${a.code}`);
    if (eph) {
      const b = await curl(eph.externalPort);
      b.check(
        `the external host reaches web2 through host:${eph.externalPort}`,
        b.stdout.trim() === 'hello-from-web2',
        b.code === 0 ? `answered ${JSON.stringify(b.stdout.trim())}` : `curl exit status ${b.code}`,
      );
    }
    return { ports: () => publishedPorts() };
  },
};
