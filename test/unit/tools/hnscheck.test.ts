/**
 * hnscheck itself (test/tools/hnscheck): it accepts what hcsshim's structs describe and refuses,
 * at every nesting level, an unknown or miscased field, a wrong JSON type, an integer out of its
 * Go type's range, a value outside hcsshim's constants, settings that do not fit their policy
 * Type, and a malformed ACL list. The checks of berth's HNS documents rely on each of these.
 */
import test, { type ExecutionContext } from 'ava';
import { hnscheck } from '../../support/hnscheck.js';

const endpoint = () => ({
  Name: 'c1_n1',
  IpConfigurations: [{ IpAddress: '10.1.0.2', PrefixLength: 24 }],
  Routes: [{ NextHop: '10.1.0.1', DestinationPrefix: '0.0.0.0/0' }],
  Policies: [{ Type: 'PortMapping', Settings: { Protocol: 6, InternalPort: 80, ExternalPort: 8080, VIP: '192.0.2.10' } } as Policy],
  SchemaVersion: { Major: 2, Minor: 0 } as Record<string, unknown>,
});

interface Policy {
  Type: string;
  Settings: Record<string, unknown>;
}

const aclRequest = (): { ResourceType: string; RequestType: string; Settings: { Policies: Policy[]; [key: string]: unknown } } => ({
  ResourceType: 'Policy',
  RequestType: 'Update',
  Settings: {
    Policies: [
      {
        Type: 'ACL',
        Settings: { Action: 'Allow', Direction: 'In', Protocols: '6', LocalPorts: '80,8000-8080', RemoteAddresses: '10.0.0.0/8,192.0.2.1,2001:db8::1', RuleType: 'Switch', Priority: 1000 },
      },
    ],
  },
});

function check(type: string, doc: unknown) {
  return hnscheck(type, '-', JSON.stringify(doc));
}

test('accepts well-formed HCN and HNS v1 documents', (t) => {
  for (const [type, doc] of [
    ['HostComputeEndpoint', endpoint()],
    ['ModifyEndpointSettingRequest', aclRequest()],
    ['[]ModifyEndpointSettingRequest', [aclRequest(), aclRequest()]],
    ['map[string]ModifyEndpointSettingRequest', { 'x/a': aclRequest() }],
    [
      'HostComputeNetwork',
      {
        Name: 'n',
        Type: 'NAT',
        Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: '10.1.0.0/24', Policies: [{ Type: 'VLAN', Settings: { IsolationId: 5 } }] }] }],
        Policies: [{ Type: 'NetAdapterName', Settings: { NetworkAdapterName: 'Ethernet' } }],
        SchemaVersion: { Major: 2, Minor: 0 },
      },
    ],
    [
      'HNSEndpoint',
      {
        Name: 'e',
        IPAddress: '10.0.0.5',
        Policies: [
          { Type: 'NAT', Protocol: 'tcp', InternalPort: 80, ExternalPort: 8080 },
          { Type: 'OutBoundNAT', ExceptionList: ['10.0.0.0/8'] },
          { Type: 'ACL', Action: 'Block', Direction: 'Out', Protocols: '17' },
        ],
      },
    ],
  ] as const) {
    const r = check(type, doc);
    t.is(r.status, 0, `${type}: ${r.stdout}${r.stderr}`);
    t.is(r.stdout.trim(), 'ok');
  }
});

function refuses(t: ExecutionContext, type: string, doc: unknown, path: string, why: RegExp) {
  const r = check(type, doc);
  t.is(r.status, 1, `${type} should be refused: ${r.stdout}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${path}: `));
  t.truthy(line, `no problem reported at ${path}: ${r.stdout}`);
  if (line) t.regex(line, why);
}

test('refuses unknown and miscased fields at every level', (t) => {
  refuses(t, 'HostComputeEndpoint', { ...endpoint(), Bogus: 1 }, '$.Bogus', /unknown field "Bogus" in HostComputeEndpoint/);
  const miscased = endpoint() as Record<string, unknown>;
  miscased.name = miscased.Name;
  delete miscased.Name;
  refuses(t, 'HostComputeEndpoint', miscased, '$.name', /hcsshim's field is "Name"/);
  const version = endpoint();
  version.SchemaVersion.Patch = 1;
  refuses(t, 'HostComputeEndpoint', version, '$.SchemaVersion.Patch', /unknown field/);
  const settings = endpoint();
  settings.Policies[0]!.Settings.Flag = 1;
  refuses(t, 'HostComputeEndpoint', settings, '$.Policies[0].Settings.Flag', /unknown field "Flag" in PortMappingPolicySetting/);
  const request = aclRequest();
  request.Settings.Extra = [];
  refuses(t, 'ModifyEndpointSettingRequest', request, '$.Settings.Extra', /unknown field "Extra" in PolicyEndpointRequest/);
  const acl = aclRequest();
  acl.Settings.Policies[0]!.Settings.Protocol = 6;
  refuses(t, '[]ModifyEndpointSettingRequest', [aclRequest(), acl], '$[1].Settings.Policies[0].Settings.Protocol', /unknown field "Protocol" in AclPolicySetting/);
  refuses(t, 'HNSEndpoint', { Policies: [{ Type: 'ACL', Action: 'Allow', Direction: 'In', Extra: 1 }] }, '$.Policies[0].Extra', /unknown field "Extra" in ACLPolicy/);
  refuses(
    t,
    'HostComputeNetwork',
    { Ipams: [{ Subnets: [{ Policies: [{ Type: 'VLAN', Settings: { Vlan: 5 } }] }] }] },
    '$.Ipams[0].Subnets[0].Policies[0].Settings.Vlan',
    /unknown field "Vlan" in VlanPolicySetting/,
  );
});

test('refuses wrong JSON types, out-of-range integers and null', (t) => {
  const protocol = endpoint();
  protocol.Policies[0]!.Settings.Protocol = 'TCP';
  refuses(t, 'HostComputeEndpoint', protocol, '$.Policies[0].Settings.Protocol', /"TCP" where PortMappingPolicySetting.Protocol \(uint32\) takes a JSON integer/);
  const port = endpoint();
  port.Policies[0]!.Settings.ExternalPort = 65536;
  refuses(t, 'HostComputeEndpoint', port, '$.Policies[0].Settings.ExternalPort', /out of the range .*uint16: 0 to 65535/);
  const fraction = endpoint();
  fraction.Policies[0]!.Settings.InternalPort = 80.5;
  refuses(t, 'HostComputeEndpoint', fraction, '$.Policies[0].Settings.InternalPort', /not an integer/);
  refuses(t, 'HostComputeEndpoint', { ...endpoint(), IpConfigurations: [{ IpAddress: '10.1.0.2', PrefixLength: '24' }] }, '$.IpConfigurations[0].PrefixLength', /uint8/);
  refuses(t, 'HostComputeEndpoint', { ...endpoint(), Routes: null }, '$.Routes', /null/);
  refuses(t, 'HostComputeEndpoint', { ...endpoint(), Policies: {} }, '$.Policies', /takes a JSON array/);
  refuses(t, 'HostComputeNetwork', { Type: 0 }, '$.Type', /NetworkType\) takes a JSON string/);
  refuses(t, 'HostComputeNetwork', { Policies: [{ Type: 'AutomaticDNS', Settings: { Enable: 'true' } }] }, '$.Policies[0].Settings.Enable', /bool/);
  refuses(t, 'HostComputeEndpoint', [endpoint()], '$', /HostComputeEndpoint takes a JSON object/);
});

test("refuses values outside hcsshim's constants and settings without their Type", (t) => {
  const action = aclRequest();
  action.Settings.Policies[0]!.Settings.Action = 'Deny';
  refuses(t, 'ModifyEndpointSettingRequest', action, '$.Settings.Policies[0].Settings.Action', /"Deny" is not one of hcsshim's ActionType values/);
  refuses(t, 'ModifyEndpointSettingRequest', { ...aclRequest(), RequestType: 'Replace' }, '$.RequestType', /RequestType/);
  const kind = endpoint();
  kind.Policies[0]!.Type = 'Portmapping';
  refuses(t, 'HostComputeEndpoint', kind, '$.Policies[0].Type', /EndpointPolicyType/);
  refuses(t, 'HostComputeEndpoint', { ...endpoint(), Policies: [{ Settings: { Protocol: 6 } }] }, '$.Policies[0].Settings', /without Type/);
  refuses(t, 'HNSNetwork', { Policies: [{ Type: 'NATX' }] }, '$.Policies[0].Type', /policy types/);
  // The Settings of one Type do not pass as another's.
  refuses(
    t,
    'HostComputeEndpoint',
    { ...endpoint(), Policies: [{ Type: 'ACL', Settings: { Protocol: 6, InternalPort: 80 } }] },
    '$.Policies[0].Settings.InternalPort',
    /unknown field "InternalPort" in AclPolicySetting/,
  );
});

test('refuses malformed ACL protocols, ports and addresses, and repeated keys', (t) => {
  for (const [key, value, why] of [
    ['Protocols', 'TCP', /"TCP" is not an IP protocol number/],
    ['Protocols', '257', /not an IP protocol number/],
    ['LocalPorts', '80-', /port range/],
    ['RemotePorts', '90-80', /port range/],
    ['LocalPorts', '80,,81', /empty item/],
    ['RemoteAddresses', '10.0.0.300', /not an IP address/],
    ['RemoteAddresses', '10.0.0.0/33', /not an address prefix/],
  ] as const) {
    const doc = aclRequest();
    doc.Settings.Policies[0]!.Settings[key] = value;
    refuses(t, 'ModifyEndpointSettingRequest', doc, `$.Settings.Policies[0].Settings.${key}`, why);
  }
  const r = hnscheck('HostComputeNetwork', '-', '{"Name":"a","Name":"b"}');
  t.is(r.status, 1);
  t.regex(r.stdout, /^\$\.Name: "Name" appears twice/m);
  const trailing = hnscheck('HostComputeNetwork', '-', '{"Name":"a"} {}');
  t.is(trailing.status, 1);
});

test('an unknown type name is a usage error', (t) => {
  const r = hnscheck('HostComputeNetworks', '-', '{}');
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown type "HostComputeNetworks"/);
});
