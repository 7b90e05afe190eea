/**
 * WinNAT's state as HCN documents: per NAT instance a `HostComputeNetwork` of type `NAT`,
 * and per endpoint that holds mappings a `HostComputeEndpoint` whose `PortMapping` policies
 * are its static mappings. Pure.
 *
 * - The network's subnet is the instance's internal prefix, with a default route via the
 *   gateway (the host's vNIC; berth's and HNS's default: the prefix's first address + 1).
 *   A NAT network needs no network policy: `Type: "NAT"` is what makes HNS put a WinNAT
 *   instance over the prefix and translate it outbound.
 * - No `OutBoundNAT` endpoint policy: that is VFP's SNAT for L2Bridge and Overlay endpoints;
 *   on a NAT network WinNAT already translates every endpoint (as Docker's and Microsoft's
 *   nat plugins leave it), and a second SNAT layer would change what the host sees.
 * - A mapping's external address becomes `VIP`; 0.0.0.0 (every address) leaves it out.
 * - A port range becomes one `PortMapping` per port, external and internal ports paired 1:1:
 *   HCN maps single ports only.
 * - An ephemeral mapping carries the port berth picked (from 49152-65535, Windows' own
 *   dynamic range); HCN is given it as a fixed port.
 */
import { IpPrefix } from '../../core/ip.js';
import type { NatDescription, NatInstanceView, NatStaticMappingView } from '../describe.js';
import { HCN_PROTOCOL, HCN_SCHEMA_VERSION, type HcnRoute, type HostComputeEndpoint, type HostComputeNetwork, type PortMappingEndpointPolicy } from './hcn-schema.js';

export interface HcnRenderOptions {
  /**
   * The gateway of an instance's network, by NAT name, when it is not the prefix's first
   * address + 1 (WinNAT's state does not record the network's gateway).
   */
  readonly gateways?: Readonly<Record<string, string>>;
}

/** One endpoint's document, and whose it is. */
export interface HcnNatEndpoint {
  readonly containerId: string;
  /** The endpoint within the container (interface name or Docker endpoint id). */
  readonly endpoint: string;
  readonly document: HostComputeEndpoint;
}

/** One NAT instance as HCN sees it. */
export interface HcnNatNetwork {
  readonly nat: string;
  readonly network: HostComputeNetwork;
  /** Endpoints that hold mappings, by container and endpoint; an endpoint without any is not in WinNAT's state. */
  readonly endpoints: readonly HcnNatEndpoint[];
}

const DEFAULT_ROUTE = '0.0.0.0/0';

/** Every instance of `d` (in its order, by name) with its endpoints. */
export function renderHcnNetworks(d: NatDescription, options: HcnRenderOptions = {}): HcnNatNetwork[] {
  return d.nats.map((nat) => {
    const prefix = IpPrefix.parse(nat.internalIPInterfaceAddressPrefix);
    const gateway = gatewayOf(nat, prefix, options);
    const routes: HcnRoute[] = gateway === undefined ? [] : [{ NextHop: gateway, DestinationPrefix: DEFAULT_ROUTE }];
    const network: HostComputeNetwork = {
      Name: nat.name,
      Type: 'NAT',
      Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: prefix.toString(), ...(routes.length > 0 ? { Routes: routes } : {}) }] }],
      SchemaVersion: HCN_SCHEMA_VERSION,
    };
    return { nat: nat.name, network, endpoints: endpointsOf(nat.name, prefix.length, routes, d.staticMappings) };
  });
}

function gatewayOf(nat: NatInstanceView, prefix: IpPrefix, options: HcnRenderOptions): string | undefined {
  const given = options.gateways?.[nat.name];
  if (given !== undefined) return given;
  // A /31 or /32 has no room for a gateway besides the endpoints.
  return prefix.size > 2n ? prefix.first.plus(1n).toString() : undefined;
}

function endpointsOf(nat: string, prefixLength: number, routes: readonly HcnRoute[], all: readonly NatStaticMappingView[]): HcnNatEndpoint[] {
  const byOwner = new Map<string, NatStaticMappingView[]>();
  for (const m of all) {
    if (m.natName !== nat) continue;
    const key = `${m.containerId} ${m.endpoint}`;
    const list = byOwner.get(key);
    if (list) list.push(m);
    else byOwner.set(key, [m]);
  }
  const owners = [...byOwner.values()].sort((a, b) => compareOwner(a[0]!, b[0]!));
  const endpointsOfContainer = new Map<string, number>();
  for (const [first] of owners) endpointsOfContainer.set(first!.containerId, (endpointsOfContainer.get(first!.containerId) ?? 0) + 1);
  return owners.map((mappings) => {
    const { containerId, endpoint } = mappings[0]!;
    // Microsoft's nat plugin names an endpoint <container>_<network>; a container with two
    // endpoints on one network needs the endpoint too.
    const name = endpointsOfContainer.get(containerId)! > 1 ? `${containerId}_${endpoint}_${nat}` : `${containerId}_${nat}`;
    const addresses = [...new Set(mappings.map((m) => m.internalIPAddress))];
    return {
      containerId,
      endpoint,
      document: {
        Name: name,
        IpConfigurations: addresses.map((a) => ({ IpAddress: a, PrefixLength: prefixLength })),
        Routes: routes,
        Policies: mappings.flatMap(portMappingPolicies),
        SchemaVersion: HCN_SCHEMA_VERSION,
      },
    };
  });
}

function compareOwner(a: NatStaticMappingView, b: NatStaticMappingView): number {
  if (a.containerId !== b.containerId) return a.containerId < b.containerId ? -1 : 1;
  return a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0;
}

/** One policy per external port. */
export function portMappingPolicies(m: NatStaticMappingView): PortMappingEndpointPolicy[] {
  const vip = m.externalIPAddress !== '0.0.0.0' ? { VIP: m.externalIPAddress } : {};
  const out: PortMappingEndpointPolicy[] = [];
  for (let port = m.externalPort; port <= m.externalPortEnd; port++) {
    out.push({
      Type: 'PortMapping',
      Settings: { Protocol: HCN_PROTOCOL[m.protocol === 'TCP' ? 'tcp' : 'udp'], InternalPort: m.internalPort + (port - m.externalPort), ExternalPort: port, ...vip },
    });
  }
  return out;
}
