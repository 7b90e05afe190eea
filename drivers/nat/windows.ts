/**
 * A nat network on Windows: an HCN `NAT` network over its one IPv4 subnet, WinNAT's own
 * ground, and per endpoint its address, the default route via the gateway (the host's vNIC),
 * and one `PortMapping` policy per published port, exactly as berth's WinNAT holds the
 * mappings (winnat/windows renders both: the same state that berth programs into nftables).
 *
 * No `OutBoundNAT` endpoint policy: that is VFP's SNAT for L2Bridge and Overlay endpoints; on
 * a NAT network WinNAT translates every endpoint already, and neither Docker's Windows nat
 * driver nor Microsoft's nat CNI plugin adds one. `loopback` has no HCN setting and is refused.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import { endpointAddresses, endpointName, gatewayOf, hostComputeEndpoint, ipv4Subnets, type HcnEndpointPolicy, type HostComputeNetwork } from '../../dataplane/windows/index.js';
import { describeState } from '../../winnat/describe.js';
import { putInstance, setOwnerMappings } from '../../winnat/mapping-table.js';
import { DEFAULT_EPHEMERAL_PORTS, EMPTY_STATE, type NatInstanceSpec } from '../../winnat/model.js';
import { portMappingPolicies, renderHcnNetworks } from '../../winnat/windows/index.js';
import type { NetworkSpec } from '../driver.js';
import type { WindowsRendering } from '../driver-module.js';
import { instanceOf, mappingRequests } from './nat-driver.js';
import type { NatOptions } from './nat-options.js';

function instance(net: NetworkSpec<NatOptions>): NatInstanceSpec {
  ipv4Subnets('NAT', net.name, net.subnets);
  if (net.options.loopback) {
    throw new UnsupportedFieldError(
      `nat network ${net.name}: loopback has no HCN setting (Windows 10 1809 / Server 2019 and later let the host reach published ports through localhost regardless, and containers never through the host's address)`,
      { field: 'loopback', value: 'true' },
    );
  }
  return instanceOf(net);
}

export const natWindows: WindowsRendering<NatOptions> = {
  network(net): HostComputeNetwork {
    const spec = instance(net);
    const gateway = gatewayOf(net.subnets[0]!);
    const [rendered] = renderHcnNetworks(describeState(putInstance(EMPTY_STATE, spec)), gateway ? { gateways: { [net.name]: gateway.toString() } } : {});
    return rendered!.network;
  },
  endpoint(net, ep) {
    const spec = instance(net);
    const owner = { containerId: ep.containerId, endpoint: ep.ifname };
    const { state } = setOwnerMappings(putInstance(EMPTY_STATE, spec), { nat: net.name, owner, requests: mappingRequests(spec, ep), ephemeral: DEFAULT_EPHEMERAL_PORTS });
    const policies: HcnEndpointPolicy[] = describeState(state).staticMappings.flatMap(portMappingPolicies);
    const addresses = endpointAddresses(net.name, net.subnets, ep.addresses);
    const gateway = gatewayOf(net.subnets[0]!);
    return hostComputeEndpoint({ name: endpointName(ep.containerId, net.name), addresses, gateways: gateway ? [gateway] : [], policies, ...(ep.mac ? { mac: ep.mac } : {}) });
  },
};
