/**
 * WinNAT's Windows views: golden files per case (test/fixtures/winnat/hns/<case>/: one
 * `network-<nat>.json` HostComputeNetwork per instance, one `endpoint-<name>.json`
 * HostComputeEndpoint per endpoint holding mappings, and `netnat.ps1`), every JSON file
 * checked by hnscheck as its HCN type; the NetNat commands and notes by value.
 * BERTH_UPDATE_GOLDEN=1 rewrites the golden files.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { expectGoldenDir } from '../../support/golden.js';
import { join } from 'node:path';
import { IpAddress } from '../../../core/ip.js';
import { describeState } from '../../../winnat/describe.js';
import { putInstance, setOwnerMappings } from '../../../winnat/mapping-table.js';
import { DEFAULT_EPHEMERAL_PORTS, EMPTY_STATE, type MappingOwner, type MappingRequest, type NatState } from '../../../winnat/model.js';
import { decodeState, encodeState } from '../../../winnat/state-document.js';
import { psQuote, renderWindowsNat, renderWindowsNatDescription, type WindowsNatRendering } from '../../../winnat/windows/index.js';
import { hnscheck } from '../../support/hnscheck.js';
import { ROOT } from '../../support/netns.js';
import { instance, tcp } from './helpers.js';

const GOLDEN = join(ROOT, 'test', 'fixtures', 'winnat', 'hns');

const C1 = '3f1c2a9e8b7d4c6f5a0e1d2c3b4a5968';
const C2 = '7e6d5c4b3a29180f7e6d5c4b3a291807';
const C3 = 'b1e2d3c4a5f60718293a4b5c6d7e8f90';
const udp = (externalPort: number, internal: string, internalPort: number, extra: Partial<MappingRequest> = {}): MappingRequest => ({
  ...tcp(externalPort, internal, internalPort, extra),
  protocol: 'udp',
});

function publish(s: NatState, nat: string, owner: MappingOwner, requests: MappingRequest[]): NatState {
  return setOwnerMappings(s, { nat, owner, requests, ephemeral: DEFAULT_EPHEMERAL_PORTS }).state;
}

const n1 = putInstance(EMPTY_STATE, instance('n1', '10.1.0.0/24', 'bn-n1'));

/** The cases, each a state built by WinNAT's own transitions (so ephemeral ports are its picks). */
const CASES: Readonly<Record<string, NatState>> = {
  'one-instance-no-mappings': n1,
  'tcp-and-udp': publish(publish(n1, 'n1', { containerId: C1, endpoint: 'eth0' }, [tcp(8080, '10.1.0.2', 80), udp(5353, '10.1.0.2', 53)]), 'n1', { containerId: C2, endpoint: 'eth0' }, [
    tcp(0, '10.1.0.3', 443),
    udp(8080, '10.1.0.3', 8080),
  ]),
  'host-ip': publish(n1, 'n1', { containerId: C1, endpoint: 'eth0' }, [tcp(8443, '10.1.0.2', 443, { externalAddress: IpAddress.parse('192.0.2.10') }), tcp(8080, '10.1.0.2', 80)]),
  'port-range': publish(n1, 'n1', { containerId: C1, endpoint: 'eth0' }, [tcp(8000, '10.1.0.2', 9000, { externalPortEnd: 8003 }), udp(7000, '10.1.0.2', 7000, { externalPortEnd: 7001 })]),
  'two-instances': publish(
    publish(putInstance(n1, instance('web', '172.31.5.0/24', 'bn-web', true)), 'web', { containerId: C3, endpoint: 'eth0' }, [tcp(80, '172.31.5.10', 8080)]),
    'n1',
    { containerId: C1, endpoint: 'eth0' },
    [tcp(8080, '10.1.0.2', 80)],
  ),
};

/** File name → content for one case. */
function filesOf(w: WindowsNatRendering): Map<string, string> {
  const files = new Map<string, string>();
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  for (const n of w.hcn) {
    files.set(`network-${n.nat}.json`, json(n.network));
    for (const e of n.endpoints) files.set(`endpoint-${e.document.Name}.json`, json(e.document));
  }
  files.set('netnat.ps1', w.netNat.map((c) => `${c}\n`).join(''));
  return files;
}

const TYPE_OF_FILE: readonly [RegExp, string][] = [
  [/^network-.*\.json$/, 'HostComputeNetwork'],
  [/^endpoint-.*\.json$/, 'HostComputeEndpoint'],
];

for (const [name, state] of Object.entries(CASES)) {
  test(`Windows rendering: ${name}: golden files`, (t) => {
    const dir = join(GOLDEN, name);
    const files = filesOf(renderWindowsNat(state));
    expectGoldenDir(t, dir, files);
  });
}

for (const name of Object.keys(CASES)) {
  test(`hnscheck accepts the golden files of ${name} as their HCN types`, (t) => {
    const dir = join(GOLDEN, name);
    const checked: string[] = [];
    for (const f of readdirSync(dir).sort()) {
      const type = TYPE_OF_FILE.find(([re]) => re.test(f))?.[1];
      if (type === undefined) continue;
      const r = hnscheck(type, join(dir, f));
      t.is(r.status, 0, `${f} as ${type}: ${r.stdout}${r.stderr}`);
      t.is(r.stdout.trim(), 'ok', `${f} as ${type}`);
      checked.push(type);
    }
    t.true(checked.includes('HostComputeNetwork'), 'a network document was checked');
  });
}

test('hnscheck refuses a document with a wrong field, so the checks above can fail', (t) => {
  const dir = join(GOLDEN, 'tcp-and-udp');
  const f = readdirSync(dir).find((x) => x.startsWith('endpoint-'))!;
  const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { Policies: { Settings: Record<string, unknown> }[] };
  doc.Policies[0]!.Settings.Protocol = 'TCP';
  const r = hnscheck('HostComputeEndpoint', '-', JSON.stringify(doc));
  t.is(r.status, 1);
  t.regex(r.stdout, /Protocol/);
});

test('HCN: a NAT network per instance, the prefix with a default route via its first address + 1', (t) => {
  const [n] = renderWindowsNat(CASES['one-instance-no-mappings']!).hcn;
  t.deepEqual(n!.network, {
    Name: 'n1',
    Type: 'NAT',
    Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: '10.1.0.0/24', Routes: [{ NextHop: '10.1.0.1', DestinationPrefix: '0.0.0.0/0' }] }] }],
    SchemaVersion: { Major: 2, Minor: 0 },
  });
  t.deepEqual(n!.endpoints, [], 'no mapping, no endpoint in the state');
  const given = renderWindowsNat(CASES['one-instance-no-mappings']!, { gateways: { n1: '10.1.0.254' } }).hcn[0]!;
  t.is(given.network.Ipams[0]!.Subnets[0]!.Routes![0]!.NextHop, '10.1.0.254');
});

test('HCN: an endpoint per container, PortMapping with numeric protocols, VIP only for a host address', (t) => {
  const [n] = renderWindowsNat(CASES['tcp-and-udp']!).hcn;
  t.deepEqual(
    n!.endpoints.map((e) => [e.containerId, e.endpoint, e.document.Name, e.document.IpConfigurations]),
    [
      [C1, 'eth0', `${C1}_n1`, [{ IpAddress: '10.1.0.2', PrefixLength: 24 }]],
      [C2, 'eth0', `${C2}_n1`, [{ IpAddress: '10.1.0.3', PrefixLength: 24 }]],
    ],
  );
  t.deepEqual(n!.endpoints[0]!.document.Policies, [
    { Type: 'PortMapping', Settings: { Protocol: 6, InternalPort: 80, ExternalPort: 8080 } },
    { Type: 'PortMapping', Settings: { Protocol: 17, InternalPort: 53, ExternalPort: 5353 } },
  ]);
  t.deepEqual(
    n!.endpoints[1]!.document.Policies,
    [
      { Type: 'PortMapping', Settings: { Protocol: 6, InternalPort: 443, ExternalPort: DEFAULT_EPHEMERAL_PORTS.start } },
      { Type: 'PortMapping', Settings: { Protocol: 17, InternalPort: 8080, ExternalPort: 8080 } },
    ],
    'the ephemeral port as WinNAT picked it',
  );
  const host = renderWindowsNat(CASES['host-ip']!).hcn[0]!.endpoints[0]!.document.Policies;
  t.deepEqual(host, [
    { Type: 'PortMapping', Settings: { Protocol: 6, InternalPort: 80, ExternalPort: 8080 } },
    { Type: 'PortMapping', Settings: { Protocol: 6, InternalPort: 443, ExternalPort: 8443, VIP: '192.0.2.10' } },
  ]);
  for (const p of [...host!, ...n!.endpoints.flatMap((e) => e.document.Policies!)]) t.false('Flags' in p.Settings, 'NatFlags stay None');
});

test('HCN: a port range is one PortMapping per port, paired 1:1', (t) => {
  const policies = renderWindowsNat(CASES['port-range']!).hcn[0]!.endpoints[0]!.document.Policies!;
  t.deepEqual(
    policies.map((p) => [p.Settings.Protocol, p.Settings.ExternalPort, p.Settings.InternalPort]),
    [
      [6, 8000, 9000],
      [6, 8001, 9001],
      [6, 8002, 9002],
      [6, 8003, 9003],
      [17, 7000, 7000],
      [17, 7001, 7001],
    ],
  );
});

test('HCN: two endpoints of one container on one network are told apart by name', (t) => {
  const s = publish(publish(n1, 'n1', { containerId: C1, endpoint: 'eth0' }, [tcp(8080, '10.1.0.2', 80)]), 'n1', { containerId: C1, endpoint: 'eth1' }, [tcp(8081, '10.1.0.9', 80)]);
  t.deepEqual(
    renderWindowsNat(s).hcn[0]!.endpoints.map((e) => e.document.Name),
    [`${C1}_eth0_n1`, `${C1}_eth1_n1`],
  );
});

test('NetNat: New-NetNat per instance, then one Add-NetNatStaticMapping per port, values quoted', (t) => {
  t.deepEqual(renderWindowsNat(CASES['tcp-and-udp']!).netNat, [
    "New-NetNat -Name 'n1' -InternalIPInterfaceAddressPrefix '10.1.0.0/24'",
    "Add-NetNatStaticMapping -NatName 'n1' -Protocol TCP -ExternalIPAddress '0.0.0.0' -ExternalPort 8080 -InternalIPAddress '10.1.0.2' -InternalPort 80",
    `Add-NetNatStaticMapping -NatName 'n1' -Protocol TCP -ExternalIPAddress '0.0.0.0' -ExternalPort ${DEFAULT_EPHEMERAL_PORTS.start} -InternalIPAddress '10.1.0.3' -InternalPort 443`,
    "Add-NetNatStaticMapping -NatName 'n1' -Protocol UDP -ExternalIPAddress '0.0.0.0' -ExternalPort 5353 -InternalIPAddress '10.1.0.2' -InternalPort 53",
    "Add-NetNatStaticMapping -NatName 'n1' -Protocol UDP -ExternalIPAddress '0.0.0.0' -ExternalPort 8080 -InternalIPAddress '10.1.0.3' -InternalPort 8080",
  ]);
  t.deepEqual(renderWindowsNat(CASES['host-ip']!).netNat.slice(1), [
    "Add-NetNatStaticMapping -NatName 'n1' -Protocol TCP -ExternalIPAddress '0.0.0.0' -ExternalPort 8080 -InternalIPAddress '10.1.0.2' -InternalPort 80",
    "Add-NetNatStaticMapping -NatName 'n1' -Protocol TCP -ExternalIPAddress '192.0.2.10' -ExternalPort 8443 -InternalIPAddress '10.1.0.2' -InternalPort 443",
  ]);
  const range = renderWindowsNat(CASES['port-range']!).netNat;
  t.is(range.length, 1 + 4 + 2);
  t.is(range[4], "Add-NetNatStaticMapping -NatName 'n1' -Protocol TCP -ExternalIPAddress '0.0.0.0' -ExternalPort 8003 -InternalIPAddress '10.1.0.2' -InternalPort 9003");
  t.deepEqual(renderWindowsNat(CASES['two-instances']!).netNat.slice(0, 2), [
    "New-NetNat -Name 'n1' -InternalIPInterfaceAddressPrefix '10.1.0.0/24'",
    "New-NetNat -Name 'web' -InternalIPInterfaceAddressPrefix '172.31.5.0/24'",
  ]);
});

test('psQuote: a verbatim string; every quote PowerShell ends a string at is doubled; $ and ` stay literal', (t) => {
  t.is(psQuote('n1'), "'n1'");
  t.is(psQuote("it's"), "'it''s'");
  t.is(psQuote('a\u2019b'), "'a\u2019\u2019b'");
  t.is(psQuote('$env:X `n "q"'), '\'$env:X `n "q"\'');
  t.is(psQuote(''), "''");
});

test('notes: loopback, instances side by side and port ranges are said; a plain state has none', (t) => {
  t.deepEqual(renderWindowsNat(CASES['tcp-and-udp']!).notes, []);
  const two = renderWindowsNat(CASES['two-instances']!).notes;
  t.is(two.length, 2);
  t.regex(two[0]!, /"web" has loopback on/);
  t.regex(two[1]!, /2 NAT instances side by side/);
  const range = renderWindowsNat(CASES['port-range']!).notes;
  t.deepEqual(
    range.map((n) => /the range is (\d+) mappings/.exec(n)?.[1]),
    ['4', '2'],
  );
});

test('the state, its stored document and its description render alike', (t) => {
  for (const state of Object.values(CASES)) {
    const direct = renderWindowsNat(state);
    t.deepEqual(renderWindowsNat(decodeState(JSON.parse(JSON.stringify(encodeState(state))))), direct);
    t.deepEqual(renderWindowsNatDescription(describeState(state)), direct);
  }
});
