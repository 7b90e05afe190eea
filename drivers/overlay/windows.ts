/**
 * An overlay network on Windows: an HCN `Overlay` network (VXLAN in VFP) whose subnet is this
 * node's block of the cluster subnet (CNI, flannel's model) or the network's one subnet (Docker),
 * with the VNI as the subnet's `VSID` and its gateway (the block's first address + 1, as flannel
 * and berth's Linux overlay use it); a `VxlanPort` policy when the port is not 4789; `HostRoute`,
 * so the host reaches its own pods as it does on Linux through the bridge; and one
 * `RemoteSubnetRoute` per other node: its block, through its provider address, in the VSID
 * (flannel's remote-subnet model, HNS 9.2 and later).
 *
 * An endpoint (Microsoft's sdnoverlay and flannel's conf): its address and default route, a
 * `ProviderAddress` policy with the node's address when it is known, and with `ipMasq` an
 * `OutBoundNAT` policy excepting the cluster subnet (SNAT to the host's address for anything
 * else, berth's masquerade). Refused: a VNI below 4096 (Windows reserves them), and with peers a
 * VNI above 65535 (hcsshim's RemoteSubnetRoute carries a 16-bit isolation id).
 *
 * A network whose one subnet spans the nodes (Docker's overlay, berth's shared subnet) has no
 * blocks to route: the other nodes' endpoints are HCN remote endpoints instead (Flags
 * RemoteEndpoint, a `ProviderAddress` policy with their node's address), as Docker's Windows
 * overlay and kube-proxy's overlay mode create them. Which ones comes from the overlay's peer
 * plan (peer-plan.ts), as on Linux, where each is a /32 route via its node's address.
 */
import { InvalidConfigError, UnsupportedFieldError } from '../../core/errors.js';
import { IpAddress, type IpPrefix } from '../../core/ip.js';
import {
  HCN_ENDPOINT_FLAGS,
  endpointAddresses,
  endpointGateways,
  endpointName,
  gatewayOf,
  hostComputeEndpoint,
  hostComputeNetwork,
  ipv4Subnets,
  outboundNat,
  providerAddress,
  refusePortMappings,
  remoteSubnetRoute,
  windowsCniConfig,
  type HcnEndpointPolicy,
  type HcnNetworkPolicy,
  type HostComputeEndpoint,
  type WindowsHostFacts,
  type WindowsRemoteEndpoint,
} from '../../dataplane/windows/index.js';
import type { IpRange } from '../../core/model.js';
import type { NetworkSpec } from '../driver.js';
import type { WindowsRendering } from '../driver-module.js';
import { DEFAULT_VXLAN_PORT, type OverlayOptions } from './overlay-options.js';
import { planPeers, type PeerLease, type PeerPlan } from './peer-plan.js';
import { vtepMacFor } from './vtep.js';

/** Windows' first VSID available to tenants. */
export const WINDOWS_MIN_VSID = 4096;
const REMOTE_SUBNET_MAX_ID = 0xffff;

type OverlayNetwork = NetworkSpec<OverlayOptions>;

/** The cluster subnet: the options' (CNI) or the network's one subnet (Docker). */
function clusterSubnet(net: OverlayNetwork): IpPrefix {
  const [first] = ipv4Subnets('Overlay', net.name, net.subnets.length ? net.subnets : net.options.subnet ? [rangeOf(net.options.subnet)] : []);
  return net.options.subnet ?? first!.subnet;
}

function rangeOf(prefix: IpPrefix): IpRange {
  return { subnet: prefix, rangeStart: prefix.first, rangeEnd: prefix.last };
}

/** The node's subnet on Windows: its block, within the cluster subnet. */
function nodeRange(net: OverlayNetwork, host: WindowsHostFacts | undefined): IpRange {
  const cluster = clusterSubnet(net);
  const block = host?.nodeSubnet;
  if (!block) {
    const r = net.subnets.find((s) => s.subnet.family === 4);
    return r ?? rangeOf(cluster);
  }
  if (!cluster.contains(block.first) || block.length < cluster.length) {
    throw new InvalidConfigError(`overlay network ${net.name}: the node's subnet ${block} is not a block of the cluster subnet ${cluster}`, { field: 'node-subnet', value: block.toString() });
  }
  return { ...rangeOf(block), gateway: block.first.plus(1n) };
}

function checkVni(net: OverlayNetwork, host: WindowsHostFacts | undefined): void {
  const { vni } = net.options;
  if (vni < WINDOWS_MIN_VSID)
    throw new UnsupportedFieldError(`overlay network ${net.name}: VNI ${vni} is below ${WINDOWS_MIN_VSID}, which Windows hosts cannot use as a VSID`, { field: 'vni', value: String(vni) });
  if (host?.peers?.length && vni > REMOTE_SUBNET_MAX_ID) {
    throw new UnsupportedFieldError(`overlay network ${net.name}: VNI ${vni} does not fit a RemoteSubnetRoute's 16-bit isolation id (at most ${REMOTE_SUBNET_MAX_ID})`, {
      field: 'vni',
      value: String(vni),
    });
  }
}

function endpointPolicies(net: OverlayNetwork, host: WindowsHostFacts | undefined): HcnEndpointPolicy[] {
  return [...(net.options.ipMasq ? [outboundNat([clusterSubnet(net)])] : []), ...(host?.hostAddress ? [providerAddress(host.hostAddress)] : [])];
}

/**
 * The remote endpoints the peer plan of a shared-subnet network holds: each route to one
 * address via a node's underlay address is an endpoint of that node. Routes to blocks are
 * not endpoints (they are RemoteSubnetRoutes) and are refused.
 */
export function remoteEndpointsOfPlan(plan: PeerPlan): { readonly address: IpAddress; readonly providerAddress: IpAddress }[] {
  return plan.peers.flatMap((p) =>
    p.routes.map((r) => {
      const [address, length] = r.destination.split('/');
      const a = IpAddress.parse(address!);
      if (Number(length) !== a.bits) throw new InvalidConfigError(`peer ${p.node}: its route to ${r.destination} is a block, not one endpoint`, { field: 'peer', value: r.destination });
      return { address: a, providerAddress: IpAddress.parse(r.gateway) };
    }),
  );
}

/**
 * The MAC of a remote endpoint whose MAC is not known: locally administered, 02-11 and the
 * IPv4 address's octets, as Windows' kube-proxy makes the MACs of its remote endpoints. VFP
 * uses it as the inner destination MAC of frames it encapsulates to the provider address.
 */
export function remoteEndpointMac(address: IpAddress): string {
  const octets = address
    .toString()
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['02', '11', ...octets].join(':');
}

/** The announced remote endpoints that the peer plan keeps; an announcement it would drop is refused with the plan's reason. */
function plannedRemoteEndpoints(net: OverlayNetwork, host: WindowsHostFacts): WindowsRemoteEndpoint[] {
  const announced = host.remoteEndpoints ?? [];
  const cluster = clusterSubnet(net);
  const node = (e: WindowsRemoteEndpoint) => `node ${e.providerAddress}`;
  for (const e of announced) {
    if (!cluster.contains(e.address)) {
      throw new InvalidConfigError(`overlay network ${net.name}: remote endpoint ${e.address} is not in the network's subnet ${cluster}`, { field: 'remote-endpoint', value: e.address.toString() });
    }
    if (host.hostAddress && e.providerAddress.equals(host.hostAddress)) {
      throw new InvalidConfigError(`overlay network ${net.name}: remote endpoint ${e.address} has this node's address ${e.providerAddress}: it is a local endpoint`, {
        field: 'remote-endpoint',
        value: e.address.toString(),
      });
    }
  }
  const leases: PeerLease[] = [...new Map(announced.map((e) => [node(e), e])).values()].map((e) => ({
    node: node(e),
    subnet: cluster.toString(),
    vtep: e.providerAddress.toString(),
    vtepMac: vtepMacFor(node(e), net.options.vni),
  }));
  const endpoints = new Map<string, string[]>();
  for (const e of announced) endpoints.set(node(e), [...(endpoints.get(node(e)) ?? []), e.address.toString()]);
  const plan = planPeers('this node', leases, { endpoints });
  const [skipped] = plan.skipped;
  if (skipped) throw new InvalidConfigError(`overlay network ${net.name}: remote endpoints of ${skipped.node.replace(/^node /, '')}: ${skipped.reason}`, { field: 'remote-endpoint' });
  return remoteEndpointsOfPlan(plan).map((r) => {
    const mac = announced.find((e) => e.address.equals(r.address) && e.providerAddress.equals(r.providerAddress))?.mac;
    return { ...r, ...(mac ? { mac } : {}) };
  });
}

export const overlayWindows: WindowsRendering<OverlayOptions> = {
  network(net, host) {
    checkVni(net, host);
    const node = nodeRange(net, host);
    const gateway = gatewayOf(node);
    const policies: HcnNetworkPolicy[] = [
      ...(net.options.port !== DEFAULT_VXLAN_PORT ? [{ Type: 'VxlanPort' as const, Settings: { Port: net.options.port } }] : []),
      { Type: 'HostRoute', Settings: {} },
      ...(host?.peers ?? []).map((p) => remoteSubnetRoute({ prefix: p.subnet, vsid: net.options.vni, providerAddress: p.providerAddress, ...(p.drMac ? { drMac: p.drMac } : {}) })),
    ];
    return hostComputeNetwork({
      name: net.name,
      type: 'Overlay',
      ipam: 'Static',
      subnets: [{ prefix: node.subnet, ...(gateway ? { gateway } : {}), isolation: { kind: 'VSID', id: net.options.vni } }],
      policies,
    });
  },
  endpoint(net, ep, host) {
    checkVni(net, host);
    refusePortMappings('overlay', ep.portMappings?.length);
    const node = nodeRange(net, host);
    // On the node's subnet: the pod's prefix is its node's block (HNS routes the rest of the cluster).
    const addresses = endpointAddresses(net.name, [node], ep.addresses).map((a) => ({ address: a.address, length: node.subnet.length }));
    return hostComputeEndpoint({
      name: endpointName(ep.containerId, net.name),
      addresses,
      gateways: endpointGateways([node], addresses),
      policies: endpointPolicies(net, host),
      ...(ep.mac ? { mac: ep.mac } : {}),
    });
  },
  remoteEndpoints(net, host): HostComputeEndpoint[] {
    if (!host?.remoteEndpoints?.length) return [];
    checkVni(net, host);
    if (host.nodeSubnet || host.peers?.length) {
      throw new InvalidConfigError(
        `overlay network ${net.name}: remote endpoints are for a subnet that spans the nodes; with a block per node (node subnet, peers) other nodes' pods are reached by RemoteSubnetRoutes`,
        { field: 'remote-endpoint' },
      );
    }
    const cluster = clusterSubnet(net);
    return plannedRemoteEndpoints(net, host).map((r) =>
      hostComputeEndpoint({
        name: endpointName(`remote-${r.address}`, net.name),
        addresses: [{ address: r.address, length: cluster.length }],
        gateways: [],
        policies: [providerAddress(r.providerAddress)],
        mac: r.mac ?? remoteEndpointMac(r.address),
        flags: HCN_ENDPOINT_FLAGS.remoteEndpoint,
      }),
    );
  },
  cniConfig(net, host) {
    checkVni(net, host);
    const node = nodeRange(net, host);
    return windowsCniConfig({
      name: net.name,
      type: 'sdnoverlay',
      subnet: node.subnet,
      ...(gatewayOf(node) ? { gateway: gatewayOf(node)! } : {}),
      endpointPolicies: endpointPolicies(net, host),
    });
  },
};
