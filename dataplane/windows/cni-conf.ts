/**
 * A network as a configuration of Microsoft's Windows CNI plugins (microsoft/windows-container-
 * networking: `sdnoverlay` for HCN Overlay, `sdnbridge` for L2Bridge), in the shape of that
 * project's example confs: the subnet and its gateway under `ipam` (no `ipam.type`: HNS
 * assigns the address), and the policies every endpoint gets as `AdditionalArgs` entries named
 * `EndpointPolicy`. Those plugins create a missing network without its VSID and adapter, so the
 * network is created first from berth's HostComputeNetwork (as flannel does before it runs them).
 */
import type { IpAddress, IpPrefix } from '../../core/ip.js';
import type { HcnEndpointPolicy } from './hcn-schema.js';

export type WindowsCniType = 'sdnoverlay' | 'sdnbridge';

export interface WindowsCniIntent {
  readonly name: string;
  readonly type: WindowsCniType;
  readonly subnet: IpPrefix;
  readonly gateway?: IpAddress;
  /** The host adapter; the plugins do not read it, the examples carry it for the reader. */
  readonly master?: string;
  /** Policies of every endpoint (per-endpoint ones, port mappings and ACLs, come from the runtime and policy). */
  readonly endpointPolicies: readonly HcnEndpointPolicy[];
  /** optionalFlags (enableDualStack, ...), when any is set. */
  readonly optionalFlags?: Readonly<Record<string, boolean>>;
}

/** The CNI version written: the newest Microsoft's plugins accept (0.2.0, 0.3.0, 0.4.0, 1.0.0). */
export const WINDOWS_CNI_VERSION = '1.0.0';

export function windowsCniConfig(i: WindowsCniIntent): object {
  return {
    cniVersion: WINDOWS_CNI_VERSION,
    name: i.name,
    type: i.type,
    ...(i.master ? { master: i.master } : {}),
    capabilities: { portMappings: true, dnsCapabilities: true },
    ...(i.optionalFlags && Object.keys(i.optionalFlags).length ? { optionalFlags: i.optionalFlags } : {}),
    ipam: { subnet: i.subnet.toString(), ...(i.gateway ? { routes: [{ GW: i.gateway.toString() }] } : {}) },
    AdditionalArgs: i.endpointPolicies.map((p) => ({ Name: 'EndpointPolicy', Value: p })),
  };
}
