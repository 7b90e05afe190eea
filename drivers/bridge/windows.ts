/**
 * A bridge network on Windows, its closest meaning there: HCN has no routed internal switch
 * (`Internal` is a Hyper-V switch type, not an HCN network type), so
 *
 * - with the gateway on the bridge (`isGateway`): a `NAT` network. Its host vNIC holds the
 *   gateway as berth's bridge does, and the host reaches the containers by their addresses;
 *   WinNAT translates outbound traffic whether or not `ipMasq` asks for it (Windows has no NAT
 *   network without the NAT), and nothing outside the host reaches a container unpublished;
 * - without a gateway: a `Private` network, a vSwitch with no host vNIC: containers reach each
 *   other and nothing else, which is what a bridge without an address gives them.
 *
 * IPv4 only (neither type is dual-stack in HNS). No published ports: the bridge driver has none.
 */
import { endpointAddresses, endpointName, endpointGateways, gatewayOf, hostComputeEndpoint, hostComputeNetwork, ipv4Subnets, refusePortMappings } from '../../dataplane/windows/index.js';
import type { NetworkSpec } from '../driver.js';
import type { WindowsRendering } from '../driver-module.js';
import type { BridgeOptions } from './bridge-options.js';

const typeOf = (net: NetworkSpec<BridgeOptions>) => (net.options.isGateway ? ('NAT' as const) : ('Private' as const));

export const bridgeWindows: WindowsRendering<BridgeOptions> = {
  network(net) {
    const type = typeOf(net);
    const subnets = ipv4Subnets(type, net.name, net.subnets);
    return hostComputeNetwork({
      name: net.name,
      type,
      ipam: 'Static',
      subnets: subnets.map((s) => {
        const gateway = type === 'NAT' ? gatewayOf(s) : undefined;
        return { prefix: s.subnet, ...(gateway ? { gateway } : {}) };
      }),
    });
  },
  endpoint(net, ep) {
    refusePortMappings('bridge', ep.portMappings?.length);
    const subnets = ipv4Subnets(typeOf(net), net.name, net.subnets);
    const addresses = endpointAddresses(net.name, subnets, ep.addresses);
    // A default route via the gateway where the sandbox gets one on Linux: the driver's own
    // (isDefaultGateway), or Docker's from Join's gateway (a network that does not follow its endpoints).
    const routed = net.options.isDefaultGateway || (net.options.isGateway && !net.followsEndpoints);
    const gateways = routed ? endpointGateways(subnets, addresses) : [];
    return hostComputeEndpoint({ name: endpointName(ep.containerId, net.name), addresses, gateways, ...(ep.mac ? { mac: ep.mac } : {}) });
  },
};
