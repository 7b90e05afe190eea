/**
 * The part of the HCN v2 schema (hcsshim's `hcn` structs, JSON keys verbatim) that a NAT
 * network and its endpoints use. Absent keys are the zero values hcsshim omits.
 */

/** `SchemaVersion`, required on every HCN object; 2.0 is Windows Server 2019 / 1809. */
export interface HcnSchemaVersion {
  readonly Major: 2;
  readonly Minor: number;
}

export const HCN_SCHEMA_VERSION: HcnSchemaVersion = { Major: 2, Minor: 0 };

/** `Route` (a subnet's or an endpoint's). */
export interface HcnRoute {
  readonly NextHop: string;
  readonly DestinationPrefix: string;
  readonly Metric?: number;
}

/** `Subnet` of an `Ipam`. */
export interface HcnSubnet {
  readonly IpAddressPrefix: string;
  readonly Routes?: readonly HcnRoute[];
}

/** `Ipam`: `Static` means HNS assigns endpoint addresses from the subnets. */
export interface HcnIpam {
  readonly Type: 'Static';
  readonly Subnets: readonly HcnSubnet[];
}

/** `HostComputeNetwork`, what `HcnCreateNetwork` takes. */
export interface HostComputeNetwork {
  readonly Name: string;
  readonly Type: 'NAT';
  readonly Ipams: readonly HcnIpam[];
  readonly SchemaVersion: HcnSchemaVersion;
}

/** IANA protocol numbers, as `PortMappingPolicySetting.Protocol` (uint32) takes them. */
export const HCN_PROTOCOL = { tcp: 6, udp: 17 } as const;

/**
 * `PortMappingPolicySetting`: one external port to one internal port of the endpoint. No
 * internal address (the endpoint's own) and no port range. `Flags` (NatFlags) stays 0 and
 * so absent: `LocalRoutedVip` (1) and `IPv6` (2) do not apply to WinNAT's IPv4 mappings.
 */
export interface PortMappingPolicySetting {
  readonly Protocol: (typeof HCN_PROTOCOL)[keyof typeof HCN_PROTOCOL];
  readonly InternalPort: number;
  readonly ExternalPort: number;
  /** The host address the mapping is bound to; absent: every host address. */
  readonly VIP?: string;
}

export interface PortMappingEndpointPolicy {
  readonly Type: 'PortMapping';
  readonly Settings: PortMappingPolicySetting;
}

/** `IpConfig` of an endpoint. */
export interface HcnIpConfig {
  readonly IpAddress: string;
  readonly PrefixLength: number;
}

/**
 * `HostComputeEndpoint`, what `HcnCreateEndpoint` takes. The network is the handle that call
 * is given, so `HostComputeNetwork` (a GUID HNS picks) is not in the document.
 */
export interface HostComputeEndpoint {
  readonly Name: string;
  readonly IpConfigurations: readonly HcnIpConfig[];
  readonly Routes: readonly HcnRoute[];
  readonly Policies?: readonly PortMappingEndpointPolicy[];
  readonly SchemaVersion: HcnSchemaVersion;
}
