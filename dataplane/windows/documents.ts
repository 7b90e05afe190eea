/**
 * HCN documents from what a driver decided, in HCN's own terms: a network of one HCN type over
 * subnets (with their gateways and isolation ids) and network policies; an endpoint with its
 * addresses, default routes and endpoint policies. Pure. Keys are written in hcsshim's struct
 * order and zero values are left out, as hcsshim marshals them; the drivers' `windows.ts`
 * decide which type and which policies (drivers/driver-module.ts, `WindowsRendering`).
 */
import { InvalidConfigError, UnsupportedFieldError } from '../../core/errors.js';
import type { IpAddress, IpPrefix, IpWithPrefix } from '../../core/ip.js';
import type { AssignedAddress, Dns, IpRange } from '../../core/model.js';
import {
  HCN_NAT_FLAGS,
  HCN_PROTOCOL,
  HCN_SCHEMA_VERSION,
  type HcnDns,
  type HcnEndpointPolicy,
  type HcnNetworkPolicy,
  type HcnNetworkType,
  type HcnRoute,
  type HcnSubnet,
  type HostComputeEndpoint,
  type HostComputeNetwork,
} from './hcn-schema.js';

/** A subnet of a network: its prefix, the gateway its endpoints route through, its isolation id. */
export interface WindowsSubnet {
  readonly prefix: IpPrefix;
  readonly gateway?: IpAddress;
  /** VSID (overlay: the VNI) or VLAN (transparent, l2bridge) of the subnet's traffic. */
  readonly isolation?: { readonly kind: 'VSID' | 'VLAN'; readonly id: number };
}

export interface WindowsNetworkIntent {
  readonly name: string;
  readonly type: HcnNetworkType;
  /** `Static`: addresses of the subnets (HNS or berth's IPAM picks); `Dhcp`: the endpoints lease theirs. */
  readonly ipam: 'Static' | 'Dhcp';
  readonly subnets: readonly WindowsSubnet[];
  /** The host adapter an external vSwitch binds to (`NetAdapterName`). */
  readonly adapter?: string;
  /** Network policies after `NetAdapterName`. */
  readonly policies?: readonly HcnNetworkPolicy[];
  readonly flags?: number;
  readonly dns?: Dns;
}

export interface WindowsEndpointIntent {
  readonly name: string;
  /** The endpoint's addresses; none when HNS or DHCP gives them. */
  readonly addresses: readonly IpWithPrefix[];
  /** Per family, the default route's next hop. */
  readonly gateways: readonly IpAddress[];
  readonly mac?: string;
  readonly policies?: readonly HcnEndpointPolicy[];
  readonly flags?: number;
  readonly dns?: Dns;
}

const DEFAULT_ROUTE: Readonly<Record<4 | 6, string>> = { 4: '0.0.0.0/0', 6: '::/0' };

export function defaultRoute(gateway: IpAddress): HcnRoute {
  return { NextHop: gateway.toString(), DestinationPrefix: DEFAULT_ROUTE[gateway.family] };
}

function hcnDns(d: Dns | undefined): HcnDns | undefined {
  if (!d) return undefined;
  const out: HcnDns = {
    ...(d.domain ? { Domain: d.domain } : {}),
    ...(d.search?.length ? { Search: d.search } : {}),
    ...(d.nameservers?.length ? { ServerList: d.nameservers } : {}),
    ...(d.options?.length ? { Options: d.options } : {}),
  };
  return Object.keys(out).length ? out : undefined;
}

function hcnSubnet(s: WindowsSubnet): HcnSubnet {
  return {
    IpAddressPrefix: s.prefix.toString(),
    ...(s.isolation ? { Policies: [{ Type: s.isolation.kind, Settings: { IsolationId: s.isolation.id } }] } : {}),
    ...(s.gateway ? { Routes: [defaultRoute(s.gateway)] } : {}),
  };
}

/** The `HostComputeNetwork` of an intent. */
export function hostComputeNetwork(i: WindowsNetworkIntent): HostComputeNetwork {
  const policies: HcnNetworkPolicy[] = [...(i.adapter ? [{ Type: 'NetAdapterName' as const, Settings: { NetworkAdapterName: i.adapter } }] : []), ...(i.policies ?? [])];
  const dns = hcnDns(i.dns);
  const subnets = i.subnets.map(hcnSubnet);
  return {
    Name: i.name,
    Type: i.type,
    ...(policies.length ? { Policies: policies } : {}),
    ...(dns ? { Dns: dns } : {}),
    Ipams: [{ Type: i.ipam, ...(subnets.length ? { Subnets: subnets } : {}) }],
    ...(i.flags ? { Flags: i.flags } : {}),
    SchemaVersion: HCN_SCHEMA_VERSION,
  };
}

/** The `HostComputeEndpoint` of an intent. */
export function hostComputeEndpoint(i: WindowsEndpointIntent): HostComputeEndpoint {
  const dns = hcnDns(i.dns);
  const routes = i.gateways.map(defaultRoute);
  return {
    Name: i.name,
    ...(i.policies?.length ? { Policies: i.policies } : {}),
    ...(i.addresses.length ? { IpConfigurations: i.addresses.map((a) => ({ IpAddress: a.address.toString(), PrefixLength: a.length })) } : {}),
    ...(dns ? { Dns: dns } : {}),
    ...(routes.length ? { Routes: routes } : {}),
    ...(i.mac ? { MacAddress: windowsMac(i.mac) } : {}),
    ...(i.flags ? { Flags: i.flags } : {}),
    SchemaVersion: HCN_SCHEMA_VERSION,
  };
}

/** `aa:bb:cc:dd:ee:ff` as HNS writes MACs: `AA-BB-CC-DD-EE-FF`. */
export function windowsMac(mac: string): string {
  return mac.replace(/:/g, '-').toUpperCase();
}

/**
 * An endpoint's name as Microsoft's CNI plugins give it, `<container>_<network>` (and berth's
 * CNI face has one endpoint per container and network); Docker's Windows driver names it by
 * its endpoint id instead.
 */
export function endpointName(containerId: string, network: string): string {
  return `${containerId}_${network}`;
}

/** `OutBoundNAT`: SNAT to the host's address for everything but `exceptions`. */
export function outboundNat(exceptions: readonly IpPrefix[]): HcnEndpointPolicy {
  return { Type: 'OutBoundNAT', Settings: exceptions.length ? { Exceptions: exceptions.map(String) } : {} };
}

/** `SDNRoute` with `NeedEncap`: traffic to `prefix` is handed to the host's stack (not bridged to the wire). */
export function sdnRoute(prefix: IpPrefix): HcnEndpointPolicy {
  return { Type: 'SDNRoute', Settings: { DestinationPrefix: prefix.toString(), NeedEncap: true } };
}

/** `ProviderAddress` of an endpoint: the host's underlay address its encapsulated traffic leaves from. */
export function providerAddress(address: IpAddress): HcnEndpointPolicy {
  return { Type: 'ProviderAddress', Settings: { ProviderAddress: address.toString() } };
}

/** One published port, as `PortMapping` (IPv6 mappings carry NatFlags IPv6, as Microsoft's sdnbridge writes them). */
export interface WindowsPortMapping {
  readonly protocol: 'tcp' | 'udp';
  readonly externalPort: number;
  readonly internalPort: number;
  /** The host address it is bound to; absent: every address. */
  readonly vip?: IpAddress;
  readonly ipv6?: boolean;
}

export function portMapping(m: WindowsPortMapping): HcnEndpointPolicy {
  return {
    Type: 'PortMapping',
    Settings: {
      Protocol: HCN_PROTOCOL[m.protocol],
      InternalPort: m.internalPort,
      ExternalPort: m.externalPort,
      ...(m.vip && m.vip.value !== 0n ? { VIP: m.vip.toString() } : {}),
      ...(m.ipv6 ? { Flags: HCN_NAT_FLAGS.ipv6 } : {}),
    },
  };
}

/** An overlay's route to another node's pods: its block, through its provider address, in the VSID. */
export function remoteSubnetRoute(args: { readonly prefix: IpPrefix; readonly vsid: number; readonly providerAddress: IpAddress; readonly drMac?: string }): HcnNetworkPolicy {
  return {
    Type: 'RemoteSubnetRoute',
    Settings: {
      DestinationPrefix: args.prefix.toString(),
      IsolationId: args.vsid,
      ProviderAddress: args.providerAddress.toString(),
      ...(args.drMac ? { DistributedRouterMacAddress: windowsMac(args.drMac) } : {}),
    },
  };
}

/** `endpoint` with `extra` policies after its own (ACLs from the policy engine). */
export function withEndpointPolicies(endpoint: HostComputeEndpoint, extra: readonly HcnEndpointPolicy[]): HostComputeEndpoint {
  if (extra.length === 0) return endpoint;
  const { Name, Policies, ...rest } = endpoint;
  return { Name, Policies: [...(Policies ?? []), ...extra], ...rest };
}

/** A subnet's gateway: the one configured, else the prefix's first address + 1 (HNS's and Microsoft's plugins' default). */
export function gatewayOf(r: IpRange): IpAddress | undefined {
  return r.gateway ?? (r.subnet.size > 2n ? r.subnet.first.plus(1n) : undefined);
}

/**
 * The network's IPv4 subnets, refusing IPv6 ones for an HCN type that carries IPv4 only (NAT,
 * Overlay, Transparent with static addresses, L2Tunnel: only L2Bridge is dual-stack, from
 * Windows Server 2022).
 */
export function ipv4Subnets(hcnType: string, network: string, subnets: readonly IpRange[]): IpRange[] {
  const v6 = subnets.find((s) => s.subnet.family === 6);
  if (v6)
    throw new UnsupportedFieldError(`network ${network}: Windows ${hcnType} networks carry IPv4 only, so the IPv6 subnet ${v6.subnet} has no HCN meaning`, {
      field: 'subnet',
      value: v6.subnet.toString(),
    });
  if (subnets.length === 0) throw new InvalidConfigError(`network ${network} needs a subnet: an HCN ${hcnType} network is declared with its subnets`, { field: 'subnet' });
  return [...subnets];
}

/** The endpoint's addresses that lie in the network's subnets, refusing any other. */
export function endpointAddresses(network: string, subnets: readonly IpRange[], addresses: readonly AssignedAddress[]): IpWithPrefix[] {
  return addresses.map((a) => {
    if (!subnets.some((s) => s.subnet.contains(a.address.address))) {
      throw new InvalidConfigError(`endpoint address ${a.address.address} is not in a subnet of network ${network} (${subnets.map((s) => s.subnet.toString()).join(', ')})`, {
        field: 'endpoint',
        value: a.address.address.toString(),
      });
    }
    return a.address;
  });
}

/** The default-route next hops of an endpoint with these addresses: each one's subnet's gateway. */
export function endpointGateways(subnets: readonly IpRange[], addresses: readonly IpWithPrefix[]): IpAddress[] {
  const out: IpAddress[] = [];
  for (const family of [4, 6] as const) {
    const a = addresses.find((x) => x.address.family === family);
    const r = a && subnets.find((s) => s.subnet.contains(a.address));
    const gw = r && gatewayOf(r);
    if (gw) out.push(gw);
  }
  return out;
}

/** Refuses published ports on a driver whose Windows meaning has none. */
export function refusePortMappings(driver: string, count: number | undefined): void {
  if (count) throw new UnsupportedFieldError(`the ${driver} driver publishes no ports (on Windows as on Linux): drop the port mappings, or use nat`, { field: 'publish' });
}
