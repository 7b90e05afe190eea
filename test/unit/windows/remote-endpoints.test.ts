/**
 * The other nodes' endpoints of an overlay network whose subnet spans the nodes (HCN remote
 * endpoints: Flags RemoteEndpoint, a ProviderAddress policy) rendered from the overlay's peer
 * plan, and l2bridge's outbound NAT: goldens checked by hnscheck, the plan's decisions (an
 * address announced by two nodes, a block instead of an address) and bad input refused.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { renderWindows } from '../../../cli/commands/render.js';
import { describeFailure } from '../../../cli/exit-codes.js';
import { IpAddress } from '../../../core/ip.js';
import { planPeers } from '../../../drivers/overlay/peer-plan.js';
import { remoteEndpointMac, remoteEndpointsOfPlan } from '../../../drivers/overlay/windows.js';
import { MORE_RENDER_CASES } from '../../fixtures/windows/cases.js';
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

interface Rendered {
  network: unknown;
  endpoint?: { Policies?: { Type: string; Settings: Record<string, unknown> }[] };
  remoteEndpoints?: { Name: string; Flags: number; MacAddress: string; IpConfigurations: { IpAddress: string }[]; Policies: { Type: string; Settings: { ProviderAddress: string } }[] }[];
}

for (const c of MORE_RENDER_CASES) {
  test(`${c.name}: golden, every document checked by hnscheck`, async (t) => {
    const out = (await renderWindows(c.argv)) as Rendered;
    expectGolden(t, join(GOLDEN, `${c.name}.json`), json(out));
    checked(t, 'HostComputeNetwork', out.network);
    if (out.endpoint) checked(t, 'HostComputeEndpoint', out.endpoint);
    if (out.remoteEndpoints) checked(t, '[]HostComputeEndpoint', out.remoteEndpoints);
  });
}

test('remote endpoints: one per announced address, its node as ProviderAddress, Flags RemoteEndpoint, the given MAC or one of its address', async (t) => {
  const out = (await renderWindows(MORE_RENDER_CASES.find((c) => c.name === 'overlay-remote-endpoints')!.argv)) as Rendered;
  t.deepEqual(
    out.remoteEndpoints!.map((r) => [r.IpConfigurations[0]!.IpAddress, r.Policies[0]!.Settings.ProviderAddress, r.MacAddress, r.Flags]),
    [
      ['10.0.1.7', '192.0.2.12', '02-11-0A-00-01-07', 1],
      ['10.0.1.8', '192.0.2.12', '02-42-0A-00-01-08', 1],
      ['10.0.1.9', '192.0.2.13', '02-11-0A-00-01-09', 1],
    ],
  );
  t.is(remoteEndpointMac(IpAddress.parse('10.244.2.17')), '02:11:0a:f4:02:11');
});

test("remote endpoints come from the Linux overlay's peer plan of a shared subnet: each /32 route via a node's address", (t) => {
  const leases = [
    { node: 'b', subnet: '10.0.1.0/24', vtep: '192.0.2.12', vtepMac: '0e:00:00:00:00:0b' },
    { node: 'c', subnet: '10.0.1.0/24', vtep: '192.0.2.13', vtepMac: '0e:00:00:00:00:0c' },
  ];
  const endpoints = new Map([
    ['b', ['10.0.1.7', '10.0.1.8']],
    ['c', ['10.0.1.9']],
  ]);
  for (const mode of ['vxlan', 'auto'] as const) {
    const plan = planPeers('a', leases, { endpoints, mode });
    t.deepEqual(
      remoteEndpointsOfPlan(plan).map((r) => `${r.address}@${r.providerAddress}`),
      ['10.0.1.7@192.0.2.12', '10.0.1.8@192.0.2.12', '10.0.1.9@192.0.2.13'],
    );
  }
  // Blocks per node are RemoteSubnetRoutes, not endpoints.
  const blocks = planPeers('a', [{ node: 'b', subnet: '10.244.2.0/24', vtep: '192.0.2.12', vtepMac: '0e:00:00:00:00:0b' }]);
  t.throws(() => remoteEndpointsOfPlan(blocks), { message: /its route to 10\.244\.2\.0\/24 is a block, not one endpoint/ });
});

const W = ['--os', 'windows'];
const OV = [...W, '-d', 'overlay', '--subnet', '10.0.1.0/24', '-o', 'vni=4097', '--host-ip', '192.0.2.11'];
const REFUSED: readonly [string, readonly string[], RegExp][] = [
  [
    'an address announced by two nodes',
    [...OV, '--remote-endpoint', '10.0.1.7@192.0.2.12', '--remote-endpoint', '10.0.1.7@192.0.2.13', 'ov'],
    /remote endpoints of 192\.0\.2\.13: its route to 10\.0\.1\.7\/32 is already node 192\.0\.2\.12's/,
  ],
  ["an endpoint on this node's own address", [...OV, '--remote-endpoint', '10.0.1.7@192.0.2.11', 'ov'], /has this node's address 192\.0\.2\.11: it is a local endpoint/],
  ['an address outside the subnet', [...OV, '--remote-endpoint', '10.9.0.7@192.0.2.12', 'ov'], /remote endpoint 10\.9\.0\.7 is not in the network's subnet 10\.0\.1\.0\/24/],
  ['remote endpoints beside blocks per node', [...OV, '--node-subnet', '10.0.1.0/25', '--remote-endpoint', '10.0.1.200@192.0.2.12', 'ov'], /remote endpoints are for a subnet that spans the nodes/],
  ['a malformed --remote-endpoint', [...OV, '--remote-endpoint', '10.0.1.7', 'ov'], /is not IP@NODE_IP\[,MAC\]/],
  ['a bad MAC', [...OV, '--remote-endpoint', '10.0.1.7@192.0.2.12,zz', 'ov'], /zz is not a MAC address/],
  ['remote endpoints on nat', [...W, '-d', 'nat', '--subnet', '10.0.1.0/24', '--remote-endpoint', '10.0.1.7@192.0.2.12', 'n'], /--remote-endpoint are for overlay networks/],
];

for (const [what, argv, message] of REFUSED) {
  test(`refused with exit status 2: ${what}`, async (t) => {
    const err = await t.throwsAsync(renderWindows(argv));
    const { message: text, exitCode } = describeFailure(err);
    t.is(exitCode, 2, text);
    t.regex(text, message);
  });
}

test("l2bridge with outbound_nat: OutBoundNAT excepting the network's prefixes, before the route to the host", async (t) => {
  const out = (await renderWindows(MORE_RENDER_CASES.find((c) => c.name === 'l2bridge-outbound-nat')!.argv)) as Rendered;
  t.deepEqual(
    out.endpoint!.Policies!.map((p) => p.Type),
    ['OutBoundNAT', 'SDNRoute'],
  );
  t.deepEqual(out.endpoint!.Policies![0]!.Settings, { Exceptions: ['192.168.1.0/24'] });
});
