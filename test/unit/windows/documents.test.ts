/**
 * The HCN documents every driver means on Windows: golden files per case
 * (test/fixtures/windows/<case>.json, what `berth render --os windows` prints), each network
 * checked by hnscheck as hcsshim's HostComputeNetwork and each endpoint as HostComputeEndpoint;
 * what Docker's options cannot say (a DHCP transparent network, a bridge without a gateway)
 * through the drivers' Windows renderings directly; bad input refused with exit status 2.
 * BERTH_UPDATE_GOLDEN=1 rewrites the golden files.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import { renderWindows } from '../../../cli/commands/render.js';
import { describeFailure } from '../../../cli/exit-codes.js';
import { bridgeWindows } from '../../../drivers/bridge/windows.js';
import { makeBridgeOptions } from '../../../drivers/bridge/bridge-options.js';
import { DOCKER_MANAGED, type EndpointSpec, type NetworkSpec } from '../../../drivers/driver.js';
import { makeMacvlanOptions } from '../../../drivers/transparent/macvlan-options.js';
import { transparentWindows } from '../../../drivers/transparent/windows.js';
import { CNI_CASES, RENDER_CASES } from '../../fixtures/windows/cases.js';
import { expectGolden } from '../../support/golden.js';
import { hnscheck } from '../../support/hnscheck.js';
import { ROOT } from '../../support/netns.js';

const GOLDEN = join(ROOT, 'test', 'fixtures', 'windows');
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function checked(t: ExecutionContext, type: string, doc: unknown): void {
  const r = hnscheck(type, '-', JSON.stringify(doc));
  t.is(r.stdout.trim(), 'ok', `${type}: ${r.stdout}${r.stderr}`);
  t.is(r.status, 0);
}

for (const c of RENDER_CASES) {
  test(`${c.name}: golden, network and endpoint checked by hnscheck`, async (t) => {
    const out = (await renderWindows(c.argv)) as { network: unknown; endpoint?: unknown };
    expectGolden(t, join(GOLDEN, `${c.name}.json`), json(out));
    checked(t, 'HostComputeNetwork', out.network);
    if (out.endpoint !== undefined) checked(t, 'HostComputeEndpoint', out.endpoint);
  });
}

for (const c of CNI_CASES) {
  test(`${c.name}: golden, its endpoint policies checked by hnscheck`, async (t) => {
    const conf = (await renderWindows(c.argv)) as { AdditionalArgs: { Name: string; Value: unknown }[] };
    expectGolden(t, join(GOLDEN, `${c.name}.json`), json(conf));
    t.true(conf.AdditionalArgs.every((a) => a.Name === 'EndpointPolicy'));
    checked(
      t,
      '[]EndpointPolicy',
      conf.AdditionalArgs.map((a) => a.Value),
    );
  });
}

const range = (cidr: string, gateway?: string) => {
  const p = IpPrefix.parse(cidr);
  return { subnet: p, rangeStart: p.first, rangeEnd: p.last, ...(gateway ? { gateway: IpAddress.parse(gateway) } : {}) };
};
const endpoint = (addresses: string[], extra: Partial<EndpointSpec> = {}): EndpointSpec => ({
  containerId: 'c1',
  ifname: 'eth0',
  placement: DOCKER_MANAGED,
  addresses: addresses.map((a) => {
    const [ip, len] = a.split('/');
    return { address: { address: IpAddress.parse(ip!), length: Number(len) } };
  }),
  routes: [],
  ...extra,
});

test('transparent with DHCP: a Dhcp Ipam, and an endpoint without addresses that leases one (EnableDhcp)', (t) => {
  const net: NetworkSpec<ReturnType<typeof makeMacvlanOptions>> = {
    id: 'dhcp',
    name: 'dhcp',
    subnets: [],
    options: makeMacvlanOptions({ mode: 'bridge', master: 'Ethernet', dhcp: true, mac: '02:42:c0:a8:01:32' }),
    followsEndpoints: true,
  };
  const out = { network: transparentWindows.network(net), endpoint: transparentWindows.endpoint(net, endpoint([])) };
  expectGolden(t, join(GOLDEN, 'transparent-dhcp.json'), json(out));
  checked(t, 'HostComputeNetwork', out.network);
  checked(t, 'HostComputeEndpoint', out.endpoint);
  t.like(out.endpoint, { Flags: 32, MacAddress: '02-42-C0-A8-01-32' });
  t.false('IpConfigurations' in out.endpoint);
});

test('bridge without a gateway: a Private network, endpoints without routes', (t) => {
  const net: NetworkSpec<ReturnType<typeof makeBridgeOptions>> = {
    id: 'iso',
    name: 'iso',
    subnets: [range('10.99.0.0/24')],
    options: makeBridgeOptions('iso', {}),
    followsEndpoints: true,
  };
  const out = { network: bridgeWindows.network(net), endpoint: bridgeWindows.endpoint(net, endpoint(['10.99.0.5/24'])) };
  expectGolden(t, join(GOLDEN, 'bridge-private.json'), json(out));
  checked(t, 'HostComputeNetwork', out.network);
  checked(t, 'HostComputeEndpoint', out.endpoint);
  t.is(out.network.Type, 'Private');
  t.false('Routes' in out.endpoint);
});

test('hnscheck refuses what hcsshim cannot carry: a RemoteSubnetRoute isolation id above 16 bits', async (t) => {
  const out = (await renderWindows(RENDER_CASES.find((c) => c.name === 'overlay-node-block')!.argv)) as { network: { Policies: { Type: string; Settings: Record<string, unknown> }[] } };
  const broken = structuredClone(out.network);
  broken.Policies.find((p) => p.Type === 'RemoteSubnetRoute')!.Settings.IsolationId = 70000;
  const r = hnscheck('HostComputeNetwork', '-', JSON.stringify(broken));
  t.is(r.status, 1);
  t.regex(r.stdout, /IsolationId/);
});

const W = ['--os', 'windows'];
const REFUSED: readonly [string, readonly string[], RegExp][] = [
  ['an OS other than windows', ['--os', 'linux', '-d', 'nat', '--subnet', '10.0.0.0/24', 'n'], /renders for windows only/],
  ['an unknown driver', [...W, '-d', 'macvlan', '--subnet', '10.0.0.0/24', 'n'], /unknown driver "macvlan"/],
  ['an unknown -o key', [...W, '-d', 'nat', '--subnet', '10.0.0.0/24', '-o', 'bogus=1', 'n'], /Unknown option "bogus"/],
  ['IPv6 on nat', [...W, '-d', 'nat', '--subnet', 'fd00::/64', 'n'], /IPv4 only/],
  ['IPv6 on transparent', [...W, '-d', 'transparent', '--subnet', 'fd00::/64', '-o', 'parent=Ethernet', 'n'], /IPv4 only/],
  ['loopback on nat', [...W, '-d', 'nat', '--subnet', '10.0.0.0/24', '-o', 'loopback=true', 'n'], /loopback has no HCN setting/],
  ['a VNI Windows reserves', [...W, '-d', 'overlay', '--subnet', '10.30.0.0/24', '-o', 'vni=42', 'n'], /below 4096/],
  ['a VNI beyond RemoteSubnetRoute', [...W, '-d', 'overlay', '--subnet', '10.244.0.0/16', '-o', 'vni=70000', '--peer', '10.244.2.0/24,192.0.2.12', 'n'], /16-bit isolation id/],
  ['a node subnet outside the cluster', [...W, '-d', 'overlay', '--subnet', '10.244.0.0/16', '-o', 'vni=4096', '--node-subnet', '10.9.1.0/24', 'n'], /not a block of the cluster subnet/],
  ['ports on transparent', [...W, '-d', 'transparent', '--subnet', '10.0.0.0/24', '-o', 'parent=Ethernet', '--endpoint', '10.0.0.5', '--publish', '80:80', 'n'], /publishes no ports/],
  ['a bad --publish', [...W, '-d', 'nat', '--subnet', '10.0.0.0/24', '--endpoint', '10.0.0.5', '--publish', '80:x', 'n'], /is not \[HOST_IP:\]HOST/],
  ['an endpoint outside the subnet', [...W, '-d', 'nat', '--subnet', '10.0.0.0/24', '--endpoint', '10.1.0.5', 'n'], /not in a subnet/],
  ['--cni for nat', [...W, '--cni', '-d', 'nat', '--subnet', '10.0.0.0/24', 'n'], /sdnoverlay.*sdnbridge/],
  ['l2bridge without a parent', [...W, '-d', 'l2bridge', '--subnet', '10.0.0.0/24', 'n'], /needs -o parent/],
  ['no subnet', [...W, '-d', 'nat', 'n'], /needs --subnet/],
  ['an unknown flag', [...W, '-d', 'nat', '--subnet', '10.0.0.0/24', '--frobnicate', 'n'], /unknown option "--frobnicate"/],
];

for (const [what, argv, message] of REFUSED) {
  test(`refused with exit status 2: ${what}`, async (t) => {
    const err = await t.throwsAsync(renderWindows(argv));
    const { message: text, exitCode } = describeFailure(err);
    t.is(exitCode, 2, text);
    t.regex(text, message);
  });
}

const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'berth');

test('berth render: the command prints the documents, and refuses with status 2 and the reason', (t) => {
  const ok = spawnSync(process.execPath, [BERTH, 'render', ...RENDER_CASES[0]!.argv], { encoding: 'utf8' });
  t.is(ok.status, 0, ok.stderr);
  t.deepEqual(Object.keys(JSON.parse(ok.stdout) as object), ['network', 'endpoint']);
  const bad = spawnSync(process.execPath, [BERTH, 'render', ...W, '-d', 'nat', '--subnet', 'fd00::/64', 'n'], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /^berth: .*IPv4 only/);
});
