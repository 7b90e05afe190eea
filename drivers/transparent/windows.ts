/**
 * The macvlan drivers on Windows. transparent: an HCN `Transparent` network, an external
 * vSwitch bound to the uplink (`NetAdapterName`), the containers peers on the physical network
 * with their own MACs; static addresses of the subnets with the LAN's router as gateway, or,
 * with `dhcp`, an `Ipam` of type `Dhcp` and endpoints without addresses that lease theirs
 * (EndpointFlags EnableDhcp). l2tunnel: the same over an `L2Tunnel` network, whose frames all
 * go to the physical host's switch and back, as VEPA sends them to the upstream switch; HNS
 * offers it on Microsoft's cloud stack only, and with static addresses only.
 *
 * IPv4 only (Windows gives transparent endpoints IPv6 only by autoconfiguration). The MTU and
 * the host shim have no HCN setting and need none: HNS takes the MTU from the adapter, and the
 * host's vNIC on the external vSwitch reaches the containers without a shim.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import {
  HCN_ENDPOINT_FLAGS,
  endpointAddresses,
  endpointGateways,
  endpointName,
  gatewayOf,
  hostComputeEndpoint,
  hostComputeNetwork,
  ipv4Subnets,
  refusePortMappings,
  type HostComputeEndpoint,
} from '../../dataplane/windows/index.js';
import type { EndpointSpec, NetworkSpec } from '../driver.js';
import type { WindowsRendering } from '../driver-module.js';
import type { MacvlanOptions } from './macvlan-options.js';

function macvlanWindows(driver: 'transparent' | 'l2tunnel'): WindowsRendering<MacvlanOptions> {
  const type = driver === 'transparent' ? ('Transparent' as const) : ('L2Tunnel' as const);
  const dhcpOf = (net: NetworkSpec<MacvlanOptions>) => {
    if (net.options.dhcp && driver === 'l2tunnel') throw new UnsupportedFieldError(`l2tunnel network ${net.name}: L2Tunnel endpoints have static addresses only`, { field: 'dhcp' });
    return net.options.dhcp;
  };
  return {
    network(net) {
      if (dhcpOf(net)) return hostComputeNetwork({ name: net.name, type, ipam: 'Dhcp', subnets: [], adapter: net.options.master });
      const subnets = ipv4Subnets(type, net.name, net.subnets);
      return hostComputeNetwork({
        name: net.name,
        type,
        ipam: 'Static',
        adapter: net.options.master,
        subnets: subnets.map((s) => {
          const gateway = gatewayOf(s);
          return { prefix: s.subnet, ...(gateway ? { gateway } : {}) };
        }),
      });
    },
    endpoint(net, ep: EndpointSpec): HostComputeEndpoint {
      refusePortMappings(driver, ep.portMappings?.length);
      const mac = ep.mac ?? net.options.mac;
      const name = endpointName(ep.containerId, net.name);
      if (dhcpOf(net)) return hostComputeEndpoint({ name, addresses: [], gateways: [], flags: HCN_ENDPOINT_FLAGS.enableDhcp, ...(mac ? { mac } : {}) });
      const subnets = ipv4Subnets(type, net.name, net.subnets);
      const addresses = endpointAddresses(net.name, subnets, ep.addresses);
      return hostComputeEndpoint({ name, addresses, gateways: endpointGateways(subnets, addresses), ...(mac ? { mac } : {}) });
    },
  };
}

export const transparentWindows = macvlanWindows('transparent');
export const l2tunnelWindows = macvlanWindows('l2tunnel');
