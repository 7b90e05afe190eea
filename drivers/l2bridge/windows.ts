/**
 * l2bridge on Windows, as Microsoft's sdnbridge plugin makes it: an HCN `L2Bridge` network on
 * the uplink (`NetAdapterName`), whose vSwitch rewrites every container frame to the host's MAC
 * (what berth's l2bridge does on Linux), with the host's subnets (IPv4, and IPv6 beside it:
 * L2Bridge is the one dual-stack HCN type, from Windows Server 2022) and their gateways; per
 * endpoint its addresses and default routes, one `PortMapping` per published port (and, on a
 * dual-stack endpoint, its IPv6 twin with NatFlags IPv6, as sdnbridge writes them), and, when
 * the node's address is known, an `SDNRoute` with NeedEncap to it, so that a container reaches
 * its own host through the host's stack rather than the wire (sdnbridge's example conf). With
 * `outbound_nat`, an `OutBoundNAT` policy excepting the network's prefixes: SNAT to the host's
 * address beyond them, what the Linux driver's masquerade does (and Docker's Windows l2bridge
 * with `enable_outboundnat` and `outboundnat_exceptions`); without it none, the containers
 * holding addresses of the host's own subnet. The MTU has no HCN setting: HNS takes the uplink's.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { IpPrefix } from '../../core/ip.js';
import {
  endpointAddresses,
  endpointGateways,
  endpointName,
  gatewayOf,
  hostComputeEndpoint,
  hostComputeNetwork,
  outboundNat,
  portMapping,
  sdnRoute,
  windowsCniConfig,
  type HcnEndpointPolicy,
  type WindowsHostFacts,
} from '../../dataplane/windows/index.js';
import type { EndpointSpec, NetworkSpec } from '../driver.js';
import type { WindowsRendering } from '../driver-module.js';
import type { L2BridgeOptions } from './l2bridge-options.js';

type L2BridgeNetwork = NetworkSpec<L2BridgeOptions>;

function subnetsOf(net: L2BridgeNetwork) {
  if (net.subnets.length === 0) throw new InvalidConfigError(`l2bridge network ${net.name} needs a subnet: the host's own prefix`, { field: 'subnet' });
  for (const family of [4, 6] as const) {
    const all = net.subnets.filter((s) => s.subnet.family === family);
    if (all.length > 1) throw new InvalidConfigError(`l2bridge network ${net.name} has ${all.length} IPv${family} subnets: HCN L2Bridge takes one per family`, { field: 'subnet' });
  }
  return net.subnets;
}

/** The policies of every endpoint of the network: outbound NAT beyond its prefixes, the route to the host. */
function commonPolicies(net: L2BridgeNetwork, host: WindowsHostFacts | undefined): HcnEndpointPolicy[] {
  const a = host?.hostAddress;
  return [...(net.options.outboundNat ? [outboundNat(subnetsOf(net).map((s) => s.subnet))] : []), ...(a ? [sdnRoute(IpPrefix.of(a, a.bits))] : [])];
}

function portPolicies(ep: EndpointSpec, dualStack: boolean): HcnEndpointPolicy[] {
  return (ep.portMappings ?? []).flatMap((m) => {
    if (m.protocol === 'sctp') throw new InvalidConfigError('HCN port mappings are TCP or UDP, not SCTP', { field: 'publish', value: 'sctp' });
    const out: HcnEndpointPolicy[] = [];
    const last = m.hostPortEnd ?? m.hostPort;
    for (let port = m.hostPort; port <= last; port++) {
      const internalPort = m.containerPort + (port - m.hostPort);
      if (port === 0) throw new InvalidConfigError('an l2bridge port mapping names its host port (HCN is given fixed ports)', { field: 'publish', value: '0' });
      out.push(portMapping({ protocol: m.protocol, externalPort: port, internalPort, ...(m.hostIp ? { vip: m.hostIp } : {}) }));
      if (dualStack && (!m.hostIp || m.hostIp.value === 0n)) out.push(portMapping({ protocol: m.protocol, externalPort: port, internalPort, ipv6: true }));
    }
    return out;
  });
}

export const l2bridgeWindows: WindowsRendering<L2BridgeOptions> = {
  network(net) {
    return hostComputeNetwork({
      name: net.name,
      type: 'L2Bridge',
      ipam: 'Static',
      adapter: net.options.master,
      subnets: subnetsOf(net).map((s) => {
        const gateway = gatewayOf(s);
        return { prefix: s.subnet, ...(gateway ? { gateway } : {}) };
      }),
    });
  },
  endpoint(net, ep, host) {
    const subnets = subnetsOf(net);
    const addresses = endpointAddresses(net.name, subnets, ep.addresses);
    const dualStack = addresses.some((a) => a.address.family === 6) && addresses.some((a) => a.address.family === 4);
    return hostComputeEndpoint({
      name: endpointName(ep.containerId, net.name),
      addresses,
      gateways: endpointGateways(subnets, addresses),
      policies: [...portPolicies(ep, dualStack), ...commonPolicies(net, host)],
      ...(ep.mac ? { mac: ep.mac } : {}),
    });
  },
  cniConfig(net, host) {
    const v4 = subnetsOf(net).find((s) => s.subnet.family === 4);
    if (!v4) throw new InvalidConfigError(`l2bridge network ${net.name}: sdnbridge's conf declares an IPv4 subnet`, { field: 'subnet' });
    const gateway = gatewayOf(v4);
    const dualStack = net.subnets.some((s) => s.subnet.family === 6);
    return windowsCniConfig({
      name: net.name,
      type: 'sdnbridge',
      subnet: v4.subnet,
      ...(gateway ? { gateway } : {}),
      master: net.options.master,
      endpointPolicies: commonPolicies(net, host),
      ...(dualStack ? { optionalFlags: { enableDualStack: true } } : {}),
    });
  },
};
