/**
 * The HNS v1 form of berth's HCN documents: what Docker's Windows drivers send HNS through
 * hcsshim's `HNSNetwork` and `HNSEndpoint` (schema v1, Windows Server 2016 and later), for the
 * same network and endpoint the drivers' `windows.ts` decided as HCN v2 documents. v1 and v2
 * are two schemas of HNS's one object model, so the v1 documents are translated from the v2 ones
 * field by field: the drivers decide once, and what v1 cannot say is refused by name rather than
 * dropped, with one exception (HostRoute, below).
 *
 * Keys in hcsshim's struct order, zero values left out (hcsshim's `omitempty`); v1 policies carry
 * their Type beside their fields (no Settings object). test/tools/hnscheck holds every document
 * to hcsshim's v1 structs.
 *
 * Translations (v2 → v1):
 * - network `Type` → the lower-case type name Docker's driver sends (`nat`, `l2bridge`, ...);
 *   `NetAdapterName` → `NetworkAdapterName`; a subnet's default route → its `GatewayAddress`; a
 *   subnet's `VSID` → a `VSID` subnet policy (Docker's overlay), its `VLAN` → a network `VLAN`
 *   policy (Docker's `vlanid`); a `Dhcp` Ipam → no subnets.
 * - `HostRoute` has no v1 policy: a v1 overlay network goes without it, and its host does not
 *   reach the pods by their addresses (as with Docker's overlay on Windows).
 *   `RemoteSubnetRoute` (another node's block) and `VxlanPort` have none either and are
 *   refused: on v1 other nodes' pods are remote endpoints (`IsRemoteEndpoint` with a `PA`).
 * - endpoint `IpConfigurations` → `IPAddress`/`PrefixLength` and `IPv6Address`/
 *   `IPv6PrefixLength`; default routes → `GatewayAddress`/`GatewayAddressV6`; `PortMapping` →
 *   `NAT` (protocol by name; v1 takes no host address and no IPv6 mapping: refused);
 *   `OutBoundNAT` → `OutBoundNAT` with `ExceptionList`; `SDNRoute` → `ROUTE`;
 *   `ProviderAddress` → `PA`; `ACL` → `ACL` (same fields); `EncapOverhead` → `EncapOverhead`;
 *   Flags RemoteEndpoint → `IsRemoteEndpoint`, EnableDhcp → an endpoint without an address (v1
 *   has no flag: an endpoint of a network without subnets leases its address).
 * - the endpoint names its network by `VirtualNetwork`, the GUID HNS gave the network when it
 *   created it, when known; else by `VirtualNetworkName`.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import { HCN_ENDPOINT_FLAGS, HCN_NAT_FLAGS, HCN_PROTOCOL, type HcnAclSetting, type HcnDns, type HcnEndpointPolicy, type HostComputeEndpoint, type HostComputeNetwork } from './hcn-schema.js';

/** hcsshim's v1 `NatPolicy`: a published port. */
export interface HnsV1NatPolicy {
  readonly Type: 'NAT';
  readonly Protocol: 'tcp' | 'udp';
  readonly InternalPort: number;
  readonly ExternalPort: number;
  readonly ExternalPortReserved?: boolean;
}

/** hcsshim's v1 `OutboundNatPolicy` (the embedded Policy's Type, flat). */
export interface HnsV1OutboundNatPolicy {
  readonly Type: 'OutBoundNAT';
  readonly VIP?: string;
  readonly ExceptionList?: readonly string[];
  readonly Destinations?: readonly string[];
}

/** hcsshim's v1 `RoutePolicy`: `NeedEncap` hands the traffic to the host's stack. */
export interface HnsV1RoutePolicy {
  readonly Type: 'ROUTE';
  readonly DestinationPrefix?: string;
  readonly NextHop?: string;
  readonly NeedEncap?: boolean;
}

/** hcsshim's v1 `ACLPolicy`: the v2 `AclPolicySetting` fields beside the Type. */
export type HnsV1AclPolicy = { readonly Type: 'ACL' } & HcnAclSetting & { readonly Id?: string };

export type HnsV1Policy =
  | HnsV1NatPolicy
  | HnsV1OutboundNatPolicy
  | HnsV1RoutePolicy
  | HnsV1AclPolicy
  | { readonly Type: 'PA'; readonly PA: string }
  | { readonly Type: 'VLAN'; readonly VLAN: number }
  | { readonly Type: 'VSID'; readonly VSID: number };

/** hcsshim's v1 `Subnet`. */
export interface HnsV1Subnet {
  readonly AddressPrefix: string;
  readonly GatewayAddress?: string;
  readonly Policies?: readonly HnsV1Policy[];
}

/** hcsshim's `HNSNetwork`, what `POST /networks/` takes. */
export interface HnsV1Network {
  readonly Name: string;
  readonly Type: string;
  readonly NetworkAdapterName?: string;
  readonly Policies?: readonly HnsV1Policy[];
  readonly Subnets?: readonly HnsV1Subnet[];
  readonly DNSSuffix?: string;
  readonly DNSServerList?: string;
}

/** hcsshim's `HNSEndpoint`, what `POST /endpoints/` takes. */
export interface HnsV1Endpoint {
  readonly Name: string;
  readonly VirtualNetwork?: string;
  readonly VirtualNetworkName?: string;
  readonly Policies?: readonly HnsV1Policy[];
  readonly MacAddress?: string;
  readonly IPAddress?: string;
  readonly IPv6Address?: string;
  readonly DNSSuffix?: string;
  readonly DNSServerList?: string;
  readonly GatewayAddress?: string;
  readonly GatewayAddressV6?: string;
  readonly PrefixLength?: number;
  readonly IPv6PrefixLength?: number;
  readonly IsRemoteEndpoint?: boolean;
  readonly EncapOverhead?: number;
}

/** The network an endpoint belongs to: HNS's GUID for it once created, and its name. */
export interface HnsV1NetworkRef {
  readonly name: string;
  readonly id?: string;
}

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isGuid(text: string): boolean {
  return GUID_RE.test(text);
}

function refusal(what: string, field: string, value?: string): UnsupportedFieldError {
  return new UnsupportedFieldError(`HNS v1 ${what}`, { field, ...(value !== undefined ? { value } : {}) });
}

const DEFAULT_PREFIXES = new Set(['0.0.0.0/0', '::/0']);

function gatewayOfRoutes(routes: readonly { NextHop: string; DestinationPrefix: string }[] | undefined, where: string): { v4?: string; v6?: string } {
  const out: { v4?: string; v6?: string } = {};
  for (const r of routes ?? []) {
    if (!DEFAULT_PREFIXES.has(r.DestinationPrefix)) throw refusal(`carries a default gateway only, not the route to ${r.DestinationPrefix} of ${where}`, 'route', r.DestinationPrefix);
    if (r.DestinationPrefix === '::/0') out.v6 = r.NextHop;
    else out.v4 = r.NextHop;
  }
  return out;
}

function dnsFields(dns: HcnDns | undefined, where: string): { DNSSuffix?: string; DNSServerList?: string } {
  if (!dns) return {};
  if (dns.Search?.length || dns.Options?.length) throw refusal(`has no DNS search list or options (${where} names them)`, 'dns');
  return { ...(dns.Domain ? { DNSSuffix: dns.Domain } : {}), ...(dns.ServerList?.length ? { DNSServerList: dns.ServerList.join(',') } : {}) };
}

/** The `HNSNetwork` of a `HostComputeNetwork`. */
export function hnsV1Network(n: HostComputeNetwork): HnsV1Network {
  let adapter: string | undefined;
  for (const p of n.Policies ?? []) {
    switch (p.Type) {
      case 'NetAdapterName':
        adapter = p.Settings.NetworkAdapterName;
        break;
      case 'HostRoute':
        break; // no v1 policy (see the module's comment)
      case 'RemoteSubnetRoute':
        throw refusal(
          `networks have no remote subnet routes (network ${n.Name}: ${p.Settings.DestinationPrefix} via ${p.Settings.ProviderAddress}): another node's pods are remote endpoints in v1 (--remote-endpoint)`,
          'peer',
          p.Settings.DestinationPrefix,
        );
      case 'VxlanPort':
        throw refusal(`networks have no VXLAN port setting (network ${n.Name} asks for port ${p.Settings.Port}): HNS v1 uses 4789`, 'port', String(p.Settings.Port));
      default:
        throw refusal(`networks have no ${p.Type} policy (network ${n.Name})`, 'policy', p.Type);
    }
  }
  if (n.Flags) throw refusal(`networks have no flags (network ${n.Name} has Flags ${n.Flags})`, 'flags', String(n.Flags));
  const networkPolicies: HnsV1Policy[] = [];
  const subnets: HnsV1Subnet[] = [];
  for (const ipam of n.Ipams ?? []) {
    for (const s of ipam.Subnets ?? []) {
      const gw = gatewayOfRoutes(s.Routes, `subnet ${s.IpAddressPrefix}`);
      const policies: HnsV1Policy[] = [];
      for (const p of s.Policies ?? []) {
        if (p.Type === 'VSID') policies.push({ Type: 'VSID', VSID: p.Settings.IsolationId });
        else if (!networkPolicies.some((q) => q.Type === 'VLAN')) networkPolicies.push({ Type: 'VLAN', VLAN: p.Settings.IsolationId });
      }
      const gateway = gw.v4 ?? gw.v6;
      subnets.push({ AddressPrefix: s.IpAddressPrefix, ...(gateway ? { GatewayAddress: gateway } : {}), ...(policies.length ? { Policies: policies } : {}) });
    }
  }
  return {
    Name: n.Name,
    Type: n.Type.toLowerCase(),
    ...(adapter ? { NetworkAdapterName: adapter } : {}),
    ...(networkPolicies.length ? { Policies: networkPolicies } : {}),
    ...(subnets.length ? { Subnets: subnets } : {}),
    ...dnsFields(n.Dns, `network ${n.Name}`),
  };
}

const PROTOCOL_NAMES: Readonly<Record<number, 'tcp' | 'udp'>> = { [HCN_PROTOCOL.tcp]: 'tcp', [HCN_PROTOCOL.udp]: 'udp' };

function aclV1(s: HcnAclSetting & { readonly Id?: string }): HnsV1AclPolicy {
  // hcsshim's ACLPolicy field order (Action and Direction are always written: no omitempty).
  return {
    Type: 'ACL',
    ...(s.Id ? { Id: s.Id } : {}),
    ...(s.Protocols ? { Protocols: s.Protocols } : {}),
    Action: s.Action,
    Direction: s.Direction,
    ...(s.LocalAddresses ? { LocalAddresses: s.LocalAddresses } : {}),
    ...(s.RemoteAddresses ? { RemoteAddresses: s.RemoteAddresses } : {}),
    ...(s.LocalPorts ? { LocalPorts: s.LocalPorts } : {}),
    ...(s.RemotePorts ? { RemotePorts: s.RemotePorts } : {}),
    ...(s.RuleType ? { RuleType: s.RuleType } : {}),
    ...(s.Priority ? { Priority: s.Priority } : {}),
  };
}

/** A v2 endpoint policy as its v1 policy, or the endpoint's EncapOverhead field. */
function endpointPolicyV1(p: HcnEndpointPolicy, endpoint: string): HnsV1Policy | { encapOverhead: number } {
  switch (p.Type) {
    case 'PortMapping': {
      const s = p.Settings;
      const protocol = PROTOCOL_NAMES[s.Protocol];
      if (!protocol) throw refusal(`NAT policies are TCP or UDP (endpoint ${endpoint} maps protocol ${s.Protocol})`, 'publish', String(s.Protocol));
      if (s.VIP) throw refusal(`NAT policies take no host address (endpoint ${endpoint} publishes port ${s.ExternalPort} on ${s.VIP}), as Docker's Windows driver says`, 'publish', s.VIP);
      if (s.Flags && s.Flags & HCN_NAT_FLAGS.ipv6) throw refusal(`NAT policies are IPv4 only (endpoint ${endpoint} maps port ${s.ExternalPort} for IPv6)`, 'publish', String(s.ExternalPort));
      if (s.Flags) throw refusal(`NAT policies have no flags (endpoint ${endpoint}, port ${s.ExternalPort}, flags ${s.Flags})`, 'publish', String(s.Flags));
      return { Type: 'NAT', Protocol: protocol, InternalPort: s.InternalPort, ExternalPort: s.ExternalPort };
    }
    case 'OutBoundNAT': {
      const s = p.Settings;
      return {
        Type: 'OutBoundNAT',
        ...(s.VirtualIP ? { VIP: s.VirtualIP } : {}),
        ...(s.Exceptions?.length ? { ExceptionList: s.Exceptions } : {}),
        ...(s.Destinations?.length ? { Destinations: s.Destinations } : {}),
      };
    }
    case 'SDNRoute': {
      const s = p.Settings;
      return { Type: 'ROUTE', DestinationPrefix: s.DestinationPrefix, ...(s.NextHop ? { NextHop: s.NextHop } : {}), ...(s.NeedEncap ? { NeedEncap: true } : {}) };
    }
    case 'ProviderAddress':
      return { Type: 'PA', PA: p.Settings.ProviderAddress };
    case 'ACL':
      return aclV1(p.Settings);
    case 'EncapOverhead':
      return { encapOverhead: p.Settings.Overhead };
  }
}

/** The `HNSEndpoint` of a `HostComputeEndpoint` on `network`. */
export function hnsV1Endpoint(e: HostComputeEndpoint, network: HnsV1NetworkRef): HnsV1Endpoint {
  const policies: HnsV1Policy[] = [];
  let encapOverhead: number | undefined;
  for (const p of e.Policies ?? []) {
    const v1 = endpointPolicyV1(p, e.Name);
    if ('encapOverhead' in v1) encapOverhead = v1.encapOverhead;
    else policies.push(v1);
  }
  const v4 = e.IpConfigurations?.filter((c) => !c.IpAddress.includes(':')) ?? [];
  const v6 = e.IpConfigurations?.filter((c) => c.IpAddress.includes(':')) ?? [];
  if (v4.length > 1 || v6.length > 1) throw refusal(`endpoints have one address per family (endpoint ${e.Name} has ${e.IpConfigurations!.length})`, 'endpoint');
  const flags = e.Flags ?? 0;
  const known = HCN_ENDPOINT_FLAGS.remoteEndpoint | HCN_ENDPOINT_FLAGS.enableDhcp;
  if (flags & ~known) throw refusal(`endpoints have no flag ${flags & ~known} (endpoint ${e.Name})`, 'flags', String(flags));
  if (flags & HCN_ENDPOINT_FLAGS.enableDhcp && e.IpConfigurations?.length) throw refusal(`says DHCP by an endpoint without an address (endpoint ${e.Name} has both)`, 'dhcp');
  const gw = gatewayOfRoutes(e.Routes, `endpoint ${e.Name}`);
  if (network.id !== undefined && !isGuid(network.id)) throw refusal(`names a network by its GUID: ${JSON.stringify(network.id)} is not one`, 'network-id', network.id);
  return {
    Name: e.Name,
    ...(network.id !== undefined ? { VirtualNetwork: network.id } : { VirtualNetworkName: network.name }),
    ...(policies.length ? { Policies: policies } : {}),
    ...(e.MacAddress ? { MacAddress: e.MacAddress } : {}),
    ...(v4[0] ? { IPAddress: v4[0].IpAddress } : {}),
    ...(v6[0] ? { IPv6Address: v6[0].IpAddress } : {}),
    ...dnsFields(e.Dns, `endpoint ${e.Name}`),
    ...(gw.v4 ? { GatewayAddress: gw.v4 } : {}),
    ...(gw.v6 ? { GatewayAddressV6: gw.v6 } : {}),
    ...(v4[0]?.PrefixLength !== undefined ? { PrefixLength: v4[0].PrefixLength } : {}),
    ...(v6[0]?.PrefixLength !== undefined ? { IPv6PrefixLength: v6[0].PrefixLength } : {}),
    ...(flags & HCN_ENDPOINT_FLAGS.remoteEndpoint ? { IsRemoteEndpoint: true } : {}),
    ...(encapOverhead ? { EncapOverhead: encapOverhead } : {}),
  };
}
