/**
 * windows-nat: the rules of Windows' WinNAT, reproduced by berth-nat. With `loopback` off (the
 * default, as on Windows) the host reaches a container by the container's own address and not
 * through the port published on its own address; an external host reaches it through the
 * host's address and the published port; the network's containers do not use the host's
 * published ports. A second NAT network beside the first, with `loopback` on (which Windows
 * cannot do), answers its published port on the host's addresses and to its own containers.
 * Then what Windows would hold for the same: the HNS documents and the NetNat listing.
 */
import { natMappings, publishedPorts, type NatMapping } from '../framework/docker-ports.js';
import { DockerHost, IMAGE } from '../framework/docker-host.js';
import { addExternalHost } from '../framework/external-host.js';
import type { LabDefinition } from '../framework/lab.js';
import type { LabContext } from '../framework/context.js';
import { firstLine, type StepRecord } from '../framework/report.js';
import { webServer } from './port-mapping.js';

const WIN_SUBNET = '10.33.0.0/24';
const LOOP_SUBNET = '10.34.0.0/24';

/** `curl` from the lab's host (or from the external host), quietly retried until `ms` passed. */
function curl(ctx: LabContext, url: string, opts: { from?: string; ms?: number; note?: string } = {}): Promise<StepRecord> {
  const argv = [...(opts.from ? ['ip', 'netns', 'exec', opts.from] : []), 'curl', '-s', '--max-time', '2', url];
  return ctx.stepUntil({ show: argv.join(' '), argv }, opts.ms ?? 0, opts.note);
}

function answered(s: StepRecord, what: string, banner: string): boolean {
  return s.check(what, s.stdout.trim() === banner, s.code === 0 ? `answered ${JSON.stringify(s.stdout.trim())}` : `curl exit status ${s.code}`);
}

function notAnswered(s: StepRecord, what: string, why: string): boolean {
  return s.check(what, s.code !== 0 && !s.stdout.trim(), s.code !== 0 ? `curl exit status ${s.code}: ${why}` : `it answered ${JSON.stringify(s.stdout.trim())}`);
}

/** busybox wget from inside a container: reached or not. */
async function wgetFrom(host: DockerHost, container: string, url: string, note?: string): Promise<StepRecord> {
  // No -T: the static busybox's wget crashes with it; a refused connection ends at once.
  return host.docker(['exec', container, 'wget', '-q', '-O', '-', url], note);
}

function mappingOf(mappings: readonly NatMapping[], port: number): NatMapping | undefined {
  return mappings.find((m) => m.externalPort === port);
}

export const windowsNatLab: LabDefinition = {
  name: 'windows-nat',
  purpose: "Windows' NAT rules: the host uses the container's address, the outside the published port; loopback on (Windows cannot); two NAT networks; HNS and NetNat",
  async run(ctx) {
    const host = await DockerHost.start(ctx);
    const outside = await addExternalHost(ctx, 'outside', '198.51.100');
    const hostIp = outside.hostAddress;

    (
      await host.docker(
        ['network', 'create', '-d', 'berth-nat', '--subnet', WIN_SUBNET, 'winnat'],
        'A nat network as Windows makes one (New-NetNat): a bridge behind a WinNAT instance, loopback off as on Windows.',
      )
    ).succeeded('winnat is created');
    (await host.run('web', ['--network', 'winnat', '-p', '8080:80', ...webServer('hello-from-web')], 'A web server published on host port 8080.')).succeeded('web runs with 8080:80');
    (await host.run('client', ['--network', 'winnat', IMAGE, 'sleep', '1d'], 'Another container on the same network, a client.')).succeeded('client runs');
    const webIp = await host.ip('web', 'winnat');

    answered(
      await curl(ctx, `http://${webIp}:80/`, { ms: 3000, note: "From the host, a container is reached by its own (virtual) address and port: the host routes to the NAT's internal prefix." }),
      "the host reaches web by web's address",
      'hello-from-web',
    );
    notAnswered(
      await curl(ctx, `http://${hostIp}:8080/`, { note: "Not through the published port on the host's own address: WinNAT translates only what arrives from outside." }),
      'the host does not reach web through its own address and 8080',
      'nothing listens on the host itself',
    );
    notAnswered(await curl(ctx, 'http://127.0.0.1:8080/'), 'nor through 127.0.0.1:8080', 'nothing listens on the host itself');
    const hairpin = await wgetFrom(host, 'client', `http://${hostIp}:8080/`, "Nor do the network's own containers use the host's published ports.");
    hairpin.check("client does not reach web through the host's address and 8080", hairpin.code !== 0, hairpin.code !== 0 ? `wget exit status ${hairpin.code}` : 'it answered');
    const direct = await wgetFrom(host, 'client', `http://${webIp}:80/`, 'Containers reach each other directly.');
    direct.check("client reaches web by web's address", direct.stdout.trim() === 'hello-from-web', direct.code === 0 ? 'answered' : `wget exit status ${direct.code}`);

    if (ctx.sabotage) await ctx.sh(['nft', 'flush', 'ruleset'], 'Sabotage (test only): every nftables rule is gone, the NAT with them.');
    answered(
      await curl(ctx, `http://${hostIp}:8080/`, { from: outside.name, ms: ctx.sabotage ? 0 : 3000, note: "From outside, the container is reached through the host's address and the published port." }),
      'the external host reaches web through host:8080',
      'hello-from-web',
    );
    (await ctx.sh(['ip', '-n', outside.name, 'route', 'add', WIN_SUBNET, 'via', hostIp], "The NAT's prefix is the host's own business; even an outside that routes it to the host...")).succeeded(
      'the external host routes the internal prefix to the host',
    );
    const outDirect = await curl(ctx, `http://${webIp}:80/`, { from: outside.name, note: '...gets nothing through but the published ports.' });
    notAnswered(outDirect, "the external host does not reach web by web's address", 'only published ports are let in');

    (
      await host.docker(
        ['network', 'create', '-d', 'berth-nat', '--subnet', LOOP_SUBNET, '-o', 'loopback=true', 'loopnat'],
        'A second NAT network side by side (Windows allows several from 1703 on, their prefixes apart), with loopback on, which Windows cannot do.',
      )
    ).succeeded('loopnat is created beside winnat');
    (await host.run('web2', ['--network', 'loopnat', '-p', '8081:80', ...webServer('hello-from-web2')], 'A web server on it, published on host port 8081.')).succeeded('web2 runs with 8081:80');
    (await host.run('client2', ['--network', 'loopnat', IMAGE, 'sleep', '1d'])).succeeded('client2 runs');
    answered(
      await curl(ctx, `http://${hostIp}:8081/`, { ms: 3000, note: 'With loopback, the host reaches the published port on its own address...' }),
      'the host reaches web2 through its own address and 8081',
      'hello-from-web2',
    );
    answered(await curl(ctx, 'http://127.0.0.1:8081/', { note: '...and on 127.0.0.1.' }), 'the host reaches web2 through 127.0.0.1:8081', 'hello-from-web2');
    const hairpin2 = await wgetFrom(host, 'client2', `http://${hostIp}:8081/`, "The network's own containers reach the published port through the host's address (hairpin).");
    hairpin2.check(
      "client2 reaches web2 through the host's address and 8081",
      hairpin2.stdout.trim() === 'hello-from-web2',
      hairpin2.code === 0 ? `answered ${JSON.stringify(hairpin2.stdout.trim())}` : `wget exit status ${hairpin2.code}`,
    );
    answered(await curl(ctx, `http://${hostIp}:8081/`, { from: outside.name, note: 'From outside, as before.' }), 'the external host reaches web2 through host:8081', 'hello-from-web2');

    const ls = await host.berth(['nat', 'ls'], 'Both NAT instances and their static mappings (Get-NetNat, Get-NetNatStaticMapping).');
    const mappings = await natMappings();
    const nats = [...new Set(mappings.map((m) => m.natName))];
    ls.check('two NAT instances side by side, one per network', nats.length === 2, `${nats.length} instances with mappings: ${nats.join(', ') || 'none'}`);
    const m1 = mappingOf(mappings, 8080);
    const m2 = mappingOf(mappings, 8081);
    ls.check(
      '8080 -> web:80 and 8081 -> web2:80',
      m1?.internalIPAddress === webIp && m2?.internalPort === 80,
      `8080 -> ${m1 ? `${m1.internalIPAddress}:${m1.internalPort}` : 'none'}, 8081 -> ${m2 ? `${m2.internalIPAddress}:${m2.internalPort}` : 'none'}`,
    );
    const loopLine = ls.stdout.split('\n').filter((l) => /10\.3[34]\.0\.0\/24/.test(l));
    ls.check(
      'loopback is off on winnat and on on loopnat',
      loopLine.some((l) => l.includes('10.33.0.0/24') && /\sfalse\s/.test(l)) && loopLine.some((l) => l.includes('10.34.0.0/24') && /\strue\s/.test(l)),
      loopLine.map((l) => l.replace(/\s+/g, ' ').trim()).join('; ') || 'no instance lines',
    );

    const netnat = await host.berth(['nat', 'ls', '--format', 'netnat'], 'The same as the NetNat commands Windows would be given.');
    const newNat = netnat.stdout.match(/^New-NetNat .*$/gm) ?? [];
    netnat.check(
      'a New-NetNat per instance, with its prefix',
      newNat.length === 2 && newNat.some((l) => l.includes(WIN_SUBNET)) && newNat.some((l) => l.includes(LOOP_SUBNET)),
      `${newNat.length} New-NetNat`,
    );
    netnat.check(
      'an Add-NetNatStaticMapping per published port',
      /Add-NetNatStaticMapping .*-ExternalPort 8080\b/.test(netnat.stdout) && /Add-NetNatStaticMapping .*-ExternalPort 8081\b/.test(netnat.stdout),
      firstLine(netnat.stdout.split('\n').find((l) => l.startsWith('Add-NetNatStaticMapping')) ?? 'none'),
    );
    netnat.check('loopback is said to have no Windows setting', /loopback/i.test(netnat.ran.stderr), firstLine(netnat.ran.stderr.split('\n').find((l) => /loopback/i.test(l)) ?? 'no note'));

    const hns = await host.berth(['nat', 'ls', '--format', 'hns'], 'And as HNS (HCN) documents: a NAT network per instance, a PortMapping policy per published port.');
    let hnsDoc: { networks?: { network?: { Type?: string }; endpoints?: { document?: { Policies?: { Type?: string; Settings?: { ExternalPort?: number } }[] } }[] }[] } = {};
    try {
      hnsDoc = JSON.parse(hns.stdout) as typeof hnsDoc;
    } catch {
      // Checked below.
    }
    const networks = hnsDoc.networks ?? [];
    hns.check(
      'two HCN networks of Type NAT',
      networks.length === 2 && networks.every((n) => n.network?.Type === 'NAT'),
      `${networks.length} networks: ${networks.map((n) => n.network?.Type).join(', ')}`,
    );
    const ports = networks.flatMap((n) => (n.endpoints ?? []).flatMap((e) => (e.document?.Policies ?? []).filter((p) => p.Type === 'PortMapping').map((p) => p.Settings?.ExternalPort)));
    hns.check('PortMapping policies for 8080 and 8081', ports.includes(8080) && ports.includes(8081), `external ports ${ports.join(', ') || 'none'}`);

    const render = await host.berth(
      ['render', '--os', 'windows', '-d', 'nat', '--subnet', WIN_SUBNET, '--endpoint', webIp, '--container', 'web', '--publish', '8080:80', 'winnat'],
      'What HcnCreateNetwork and HcnCreateEndpoint would be given for winnat and web (berth render: offline, nothing created).',
    );
    let doc: { network?: { Type?: string }; endpoint?: { Policies?: { Type?: string }[]; IpConfigurations?: { IpAddress?: string }[] } } = {};
    try {
      doc = JSON.parse(render.stdout) as typeof doc;
    } catch {
      // Checked below.
    }
    render.check(
      "a NAT network and web's endpoint with its address and a PortMapping",
      doc.network?.Type === 'NAT' && doc.endpoint?.IpConfigurations?.[0]?.IpAddress === webIp && (doc.endpoint?.Policies ?? []).some((p) => p.Type === 'PortMapping'),
      render.code === 0
        ? `network ${doc.network?.Type}, endpoint ${doc.endpoint?.IpConfigurations?.[0]?.IpAddress}, policies ${(doc.endpoint?.Policies ?? []).map((p) => p.Type).join(', ')}`
        : firstLine(render.ran.stderr),
    );
    const refused = await host.berth(
      ['render', '--os', 'windows', '-d', 'nat', '--subnet', LOOP_SUBNET, '-o', 'loopback=true', 'loopnat'],
      'loopnat has no Windows form: HNS has no loopback setting.',
    );
    refused.check(
      'Windows rendering refuses loopback, naming it',
      refused.code === 2 && /loopback/.test(refused.ran.stderr),
      refused.code !== 0 ? `exit status ${refused.code}: ${firstLine(refused.ran.stderr)}` : 'it rendered',
    );
    return { ports: () => publishedPorts() };
  },
};
