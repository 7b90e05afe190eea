/**
 * HNS v1 (`berth render --schema v1`): goldens per case (test/fixtures/windows/v1-*.json), each
 * network checked by hnscheck as hcsshim's HNSNetwork and each endpoint as HNSEndpoint; the v1
 * documents are the v2 ones translated (same addresses, gateways, ports and policies); what v1
 * cannot carry refused with exit status 2; the checker itself refusing broken v1 documents at
 * the path of the fault. BERTH_UPDATE_GOLDEN=1 rewrites the goldens.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { renderWindows } from '../../../cli/commands/render.js';
import { describeFailure } from '../../../cli/exit-codes.js';
import { NETWORK_GUID, V1_CASES } from '../../fixtures/windows/cases.js';
import { expectGolden } from '../../support/golden.js';
import { hnscheck } from '../../support/hnscheck.js';
import { ROOT } from '../../support/netns.js';

const GOLDEN = join(ROOT, 'test', 'fixtures', 'windows');
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

type Doc = Record<string, unknown>;
interface V1Render {
  network: Doc;
  endpoint?: Doc;
  remoteEndpoints?: Doc[];
}

function checked(t: ExecutionContext, type: string, doc: unknown): void {
  const r = hnscheck(type, '-', JSON.stringify(doc));
  t.is(r.stdout.trim(), 'ok', `${type}: ${r.stdout}${r.stderr}`);
  t.is(r.status, 0);
}

const v2ArgvOf = (argv: readonly string[]) => {
  const out = [...argv];
  out.splice(out.indexOf('--schema'), 2);
  const id = out.indexOf('--network-id');
  if (id >= 0) out.splice(id, 2);
  return out;
};

for (const c of V1_CASES) {
  test(`${c.name}: golden, HNSNetwork and HNSEndpoint checked by hnscheck`, async (t) => {
    const out = (await renderWindows(c.argv)) as V1Render;
    expectGolden(t, join(GOLDEN, `${c.name}.json`), json(out));
    checked(t, 'HNSNetwork', out.network);
    if (out.endpoint !== undefined) checked(t, 'HNSEndpoint', out.endpoint);
    if (out.remoteEndpoints !== undefined) checked(t, '[]HNSEndpoint', out.remoteEndpoints);
  });

  test(`${c.name}: the v2 documents of the same input, translated`, async (t) => {
    const v1 = (await renderWindows(c.argv)) as V1Render;
    const v2 = (await renderWindows(v2ArgvOf(c.argv))) as {
      network: { Name: string; Type: string; Ipams: { Subnets?: { IpAddressPrefix: string; Routes?: { NextHop: string }[] }[] }[] };
      endpoint?: { Name: string; IpConfigurations?: { IpAddress: string; PrefixLength: number }[]; Routes?: { NextHop: string }[]; Policies?: { Type: string }[] };
    };
    t.is(v1.network.Name, v2.network.Name);
    t.is(v1.network.Type, v2.network.Type.toLowerCase());
    const subnets = (v2.network.Ipams[0]!.Subnets ?? []).map((s) => ({ AddressPrefix: s.IpAddressPrefix, GatewayAddress: s.Routes?.[0]?.NextHop }));
    t.deepEqual(
      (v1.network.Subnets as Doc[]).map((s) => ({ AddressPrefix: s.AddressPrefix, GatewayAddress: s.GatewayAddress })),
      subnets,
    );
    const ep = v2.endpoint!;
    t.like(v1.endpoint, { Name: ep.Name, IPAddress: ep.IpConfigurations![0]!.IpAddress, PrefixLength: ep.IpConfigurations![0]!.PrefixLength, GatewayAddress: ep.Routes?.[0]?.NextHop });
    const v2Types = (ep.Policies ?? []).map((p) => p.Type).filter((x) => x !== 'EncapOverhead');
    const v1Names: Record<string, string> = { NAT: 'PortMapping', ROUTE: 'SDNRoute', PA: 'ProviderAddress', OutBoundNAT: 'OutBoundNAT', ACL: 'ACL' };
    t.deepEqual(
      ((v1.endpoint!.Policies as { Type: string }[] | undefined) ?? []).map((p) => v1Names[p.Type]),
      v2Types,
    );
  });
}

test('v1 names the network by VirtualNetwork (the GUID HNS gave it) when given, else by VirtualNetworkName', async (t) => {
  const named = (await renderWindows(V1_CASES.find((c) => c.name === 'v1-transparent')!.argv)) as V1Render;
  t.like(named.endpoint, { VirtualNetworkName: 'lan' });
  t.false('VirtualNetwork' in named.endpoint!);
  const byId = (await renderWindows(V1_CASES.find((c) => c.name === 'v1-overlay')!.argv)) as V1Render;
  t.like(byId.endpoint, { VirtualNetwork: NETWORK_GUID });
  for (const r of byId.remoteEndpoints!) t.like(r, { VirtualNetwork: NETWORK_GUID, IsRemoteEndpoint: true });
});

/** What hnscheck says about a golden after `mutate`: each line "PATH: problem". */
async function brokenV1(name: string, type: string, pick: (out: V1Render) => unknown, mutate: (doc: Doc) => void): Promise<{ status: number | null; stdout: string }> {
  const out = (await renderWindows(V1_CASES.find((c) => c.name === name)!.argv)) as V1Render;
  const doc = structuredClone(pick(out)) as Doc;
  mutate(doc);
  return hnscheck(type, '-', JSON.stringify(doc));
}

const policies = (d: Doc) => d.Policies as Doc[];
const BROKEN: readonly [string, string, string, (o: V1Render) => unknown, (d: Doc) => void, RegExp][] = [
  [
    'a v2 key in a v1 policy (Exceptions for ExceptionList)',
    'v1-l2bridge',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      const p = policies(d).find((x) => x.Type === 'OutBoundNAT')!;
      p.Exceptions = p.ExceptionList;
      delete p.ExceptionList;
    },
    /^\$\.Policies\[\d\]\.Exceptions: unknown field "Exceptions" in OutboundNatPolicy/m,
  ],
  [
    'a v2 Settings object in a v1 policy',
    'v1-nat-ports-acls',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      policies(d)[0] = { Type: 'NAT', Settings: { Protocol: 6, InternalPort: 80, ExternalPort: 8080 } };
    },
    /^\$\.Policies\[0\]\.Settings: unknown field "Settings" in NatPolicy/m,
  ],
  [
    'a port number beyond uint16',
    'v1-nat-ports-acls',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      policies(d)[0]!.ExternalPort = 80800;
    },
    /^\$\.Policies\[0\]\.ExternalPort: 80800 is out of the range of NatPolicy\.ExternalPort \(uint16/m,
  ],
  [
    'a protocol number where v1 takes its name',
    'v1-nat-ports-acls',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      policies(d)[0]!.Protocol = 6;
    },
    /^\$\.Policies\[0\]\.Protocol: the JSON number 6 where NatPolicy\.Protocol \(string\) takes a JSON string/m,
  ],
  [
    'a VirtualNetwork that is not a GUID',
    'v1-nat-ports-acls',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      d.VirtualNetwork = 'web';
    },
    /^\$\.VirtualNetwork: "web" in HNSEndpoint\.VirtualNetwork: not a GUID/m,
  ],
  [
    'an address that is not one',
    'v1-transparent',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      d.IPAddress = '192.168.1.500';
    },
    /^\$\.IPAddress: "192\.168\.1\.500" is not an IP address/m,
  ],
  [
    'a PrefixLength beyond uint8',
    'v1-transparent',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      d.PrefixLength = 256;
    },
    /^\$\.PrefixLength: 256 is out of the range of HNSEndpoint\.PrefixLength \(uint8/m,
  ],
  [
    'a miscased field',
    'v1-transparent',
    'HNSNetwork',
    (o) => o.network,
    (d) => {
      d.NetAdapterName = d.NetworkAdapterName;
      delete d.NetworkAdapterName;
    },
    /^\$\.NetAdapterName: unknown field "NetAdapterName" in HNSNetwork/m,
  ],
  [
    'a subnet prefix that is not one',
    'v1-overlay',
    'HNSNetwork',
    (o) => o.network,
    (d) => {
      (d.Subnets as Doc[])[0]!.AddressPrefix = '10.0.1.0';
    },
    /^\$\.Subnets\[0\]\.AddressPrefix: "10\.0\.1\.0" in Subnet\.AddressPrefix: not an address prefix|^\$\.Subnets\[0\]\.AddressPrefix: "10\.0\.1\.0" in v1Subnet\.AddressPrefix: not an address prefix/m,
  ],
  [
    'a VSID given as text',
    'v1-overlay',
    'HNSNetwork',
    (o) => o.network,
    (d) => {
      ((d.Subnets as Doc[])[0]!.Policies as Doc[])[0]!.VSID = '4097';
    },
    /^\$\.Subnets\[0\]\.Policies\[0\]\.VSID: the JSON string "4097" where VsidPolicy\.VSID \(uint\) takes a JSON integer/m,
  ],
  [
    'a policy without its Type',
    'v1-overlay',
    'HNSEndpoint',
    (o) => o.remoteEndpoints![0],
    (d) => {
      delete policies(d)[0]!.Type;
    },
    /^\$\.Policies\[0\]: no Type, which says what this is/m,
  ],
  [
    'IsRemoteEndpoint as a string',
    'v1-overlay',
    'HNSEndpoint',
    (o) => o.remoteEndpoints![0],
    (d) => {
      d.IsRemoteEndpoint = 'true';
    },
    /^\$\.IsRemoteEndpoint: the JSON string "true" where HNSEndpoint\.IsRemoteEndpoint \(bool\)/m,
  ],
  [
    'an ACL direction outside the constants',
    'v1-nat-ports-acls',
    'HNSEndpoint',
    (o) => o.endpoint,
    (d) => {
      policies(d).find((x) => x.Type === 'ACL')!.Direction = 'Inbound';
    },
    /Direction: "Inbound" is not one of hcsshim's v1DirectionType values/m,
  ],
];

for (const [what, name, type, pick, mutate, expected] of BROKEN) {
  test(`hnscheck refuses a broken v1 document: ${what}`, async (t) => {
    const r = await brokenV1(name, type, pick, mutate);
    t.is(r.status, 1, r.stdout);
    t.regex(r.stdout, expected);
  });
}

const V1 = ['--os', 'windows', '--schema', 'v1'];
const REFUSED: readonly [string, readonly string[], RegExp][] = [
  [
    'a port published on one host address',
    [...V1, '-d', 'nat', '--subnet', '10.0.0.0/24', '--endpoint', '10.0.0.5', '--publish', '192.0.2.10:8443:443', 'n'],
    /HNS v1 NAT policies take no host address/,
  ],
  [
    'IPv6 port mappings (dual-stack l2bridge)',
    [...V1, '-d', 'l2bridge', '--subnet', '192.168.1.0/24', '--subnet', 'fd00:1::/64', '-o', 'parent=Ethernet', '--endpoint', '192.168.1.50', '--endpoint', 'fd00:1::50', '--publish', '80:80', 'n'],
    /HNS v1 NAT policies are IPv4 only/,
  ],
  [
    "another node's block (RemoteSubnetRoute)",
    [...V1, '-d', 'overlay', '--subnet', '10.244.0.0/16', '-o', 'vni=4096', '--node-subnet', '10.244.1.0/24', '--peer', '10.244.2.0/24,192.0.2.12', 'n'],
    /HNS v1 networks have no remote subnet routes.*--remote-endpoint/,
  ],
  ['a VXLAN port other than 4789', [...V1, '-d', 'overlay', '--subnet', '10.30.0.0/24', '-o', 'vni=5000', '-o', 'port=4790', 'n'], /HNS v1 networks have no VXLAN port setting/],
  ['a network id that is not a GUID', [...V1, '-d', 'nat', '--subnet', '10.0.0.0/24', '--network-id', 'web', 'n'], /--network-id "web" is not a GUID/],
  ['a network id without --schema v1', ['--os', 'windows', '-d', 'nat', '--subnet', '10.0.0.0/24', '--network-id', NETWORK_GUID, 'n'], /give --schema v1/],
  ['an unknown schema', ['--os', 'windows', '--schema', 'v3', '-d', 'nat', '--subnet', '10.0.0.0/24', 'n'], /--schema "v3": v2 \(HCN\) or v1/],
  ['--schema with --cni', [...V1, '--cni', '-d', 'overlay', '--subnet', '10.30.0.0/24', '-o', 'vni=5000', 'n'], /--schema does not apply/],
];

for (const [what, argv, message] of REFUSED) {
  test(`v1 refused with exit status 2: ${what}`, async (t) => {
    const err = await t.throwsAsync(renderWindows(argv));
    const { message: text, exitCode } = describeFailure(err);
    t.is(exitCode, 2, text);
    t.regex(text, message);
  });
}
