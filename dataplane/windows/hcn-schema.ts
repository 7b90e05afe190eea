/**
 * The HCN v2 schema as berth's Windows dataplane writes it: hcsshim's `hcn` structs (JSON keys
 * verbatim), the parts a network and an endpoint of berth's drivers use. Absent keys are the
 * zero values hcsshim leaves out (`omitempty`). test/tools/hnscheck holds every document to
 * hcsshim's structs.
 */

/** `SchemaVersion`, required on every HCN object; 2.0 is Windows Server 2019 / 1809. */
export interface HcnSchemaVersion {
  readonly Major: 2;
  readonly Minor: number;
}

export const HCN_SCHEMA_VERSION: HcnSchemaVersion = Object.freeze({ Major: 2, Minor: 0 });

/** hcsshim's `NetworkType` constants. */
export type HcnNetworkType = 'NAT' | 'Transparent' | 'L2Bridge' | 'L2Tunnel' | 'ICS' | 'Private' | 'Overlay';

/** `NetworkFlags`: 8 = EnableNonPersistent (the network goes with a reboot, as flannel asks). */
export const HCN_NETWORK_FLAGS = Object.freeze({ none: 0, enableNonPersistent: 8 });

/**
 * `EndpointFlags`: hcsshim names RemoteEndpoint (1); Microsoft's SDN scripts (`hns.psm1`) name
 * the rest of HNS's enum, of which berth uses EnableDhcp (32): the endpoint leases its address.
 */
export const HCN_ENDPOINT_FLAGS = Object.freeze({ none: 0, remoteEndpoint: 1, enableDhcp: 32 });

/** `Route` (a subnet's or an endpoint's). */
export interface HcnRoute {
  readonly NextHop: string;
  readonly DestinationPrefix: string;
  readonly Metric?: number;
}

/** `SubnetPolicy` (a subnet's `Policies` entry): the isolation id of the subnet's traffic. */
export interface HcnSubnetPolicy {
  readonly Type: 'VSID' | 'VLAN';
  readonly Settings: { readonly IsolationId: number };
}

export interface HcnSubnet {
  readonly IpAddressPrefix: string;
  readonly Policies?: readonly HcnSubnetPolicy[];
  readonly Routes?: readonly HcnRoute[];
}

/** `Ipam`: `Static`, HNS assigns (or is told) addresses of the subnets; `Dhcp`, the endpoints lease them. */
export interface HcnIpam {
  readonly Type: 'Static' | 'Dhcp';
  readonly Subnets?: readonly HcnSubnet[];
}

export interface HcnDns {
  readonly Domain?: string;
  readonly Search?: readonly string[];
  readonly ServerList?: readonly string[];
  readonly Options?: readonly string[];
}

/** `NetworkPolicy` entries of a network, by Type with its settings struct. */
export type HcnNetworkPolicy =
  | { readonly Type: 'NetAdapterName'; readonly Settings: { readonly NetworkAdapterName: string } }
  | { readonly Type: 'ProviderAddress'; readonly Settings: { readonly ProviderAddress: string } }
  | {
      readonly Type: 'RemoteSubnetRoute';
      readonly Settings: { readonly DestinationPrefix: string; readonly IsolationId: number; readonly ProviderAddress: string; readonly DistributedRouterMacAddress?: string };
    }
  | { readonly Type: 'HostRoute'; readonly Settings: Record<string, never> }
  | { readonly Type: 'VxlanPort'; readonly Settings: { readonly Port: number } }
  | { readonly Type: 'DrMacAddress'; readonly Settings: { readonly Address: string } };

/** `HostComputeNetwork`, what `HcnCreateNetwork` takes. */
export interface HostComputeNetwork {
  readonly Name: string;
  readonly Type: HcnNetworkType;
  readonly Policies?: readonly HcnNetworkPolicy[];
  readonly Dns?: HcnDns;
  readonly Ipams?: readonly HcnIpam[];
  readonly Flags?: number;
  readonly SchemaVersion: HcnSchemaVersion;
}

/** IANA protocol numbers, as `PortMappingPolicySetting.Protocol` (uint32) takes them. */
export const HCN_PROTOCOL = Object.freeze({ tcp: 6, udp: 17 });

/** `NatFlags` of a port mapping: 2 = the mapping is for IPv6 (dual-stack L2Bridge). */
export const HCN_NAT_FLAGS = Object.freeze({ none: 0, localRoutedVip: 1, ipv6: 2 });

export interface HcnPortMappingSetting {
  readonly Protocol: number;
  readonly InternalPort: number;
  readonly ExternalPort: number;
  readonly VIP?: string;
  readonly Flags?: number;
}

/** `AclPolicySetting` (the policy engine's HNS renderer writes these: policy/hns). */
export interface HcnAclSetting {
  readonly Protocols?: string;
  readonly Action: 'Allow' | 'Block';
  readonly Direction: 'In' | 'Out';
  readonly LocalAddresses?: string;
  readonly RemoteAddresses?: string;
  readonly LocalPorts?: string;
  readonly RemotePorts?: string;
  readonly RuleType?: 'Host' | 'Switch';
  readonly Priority?: number;
}

/** `EndpointPolicy` entries of an endpoint, by Type with its settings struct. */
export type HcnEndpointPolicy =
  | { readonly Type: 'PortMapping'; readonly Settings: HcnPortMappingSetting }
  | { readonly Type: 'OutBoundNAT'; readonly Settings: { readonly VirtualIP?: string; readonly Exceptions?: readonly string[]; readonly Destinations?: readonly string[] } }
  | { readonly Type: 'SDNRoute'; readonly Settings: { readonly DestinationPrefix: string; readonly NextHop?: string; readonly NeedEncap?: boolean } }
  | { readonly Type: 'ProviderAddress'; readonly Settings: { readonly ProviderAddress: string } }
  | { readonly Type: 'EncapOverhead'; readonly Settings: { readonly Overhead: number } }
  | { readonly Type: 'ACL'; readonly Settings: HcnAclSetting };

export interface HcnIpConfig {
  readonly IpAddress: string;
  readonly PrefixLength?: number;
}

/**
 * `HostComputeEndpoint`, what `HcnCreateEndpoint` takes. The network is the handle that call
 * is given, so `HostComputeNetwork` (a GUID HNS picks) is not in the document.
 */
export interface HostComputeEndpoint {
  readonly Name: string;
  readonly Policies?: readonly HcnEndpointPolicy[];
  readonly IpConfigurations?: readonly HcnIpConfig[];
  readonly Dns?: HcnDns;
  readonly Routes?: readonly HcnRoute[];
  readonly MacAddress?: string;
  readonly Flags?: number;
  readonly SchemaVersion: HcnSchemaVersion;
}
