/**
 * WinNAT semantics on Linux: NAT instances (an internal IPv4 prefix masqueraded behind the
 * host's addresses), static port mappings with ephemeral allocation and conflict refusal,
 * Windows' "no loopback" rule by default and a `loopback` option that lifts it. Rendered
 * into one nftables table; see README.md in this folder.
 *
 * @example
 * ```ts
 * const nat = new WinNat({ state, nftables: () => openNftables(), sysctl });
 * const spec = { name: 'n1', internalPrefix: IpPrefix.parse('10.1.0.0/24'), internalInterface: 'bn-n1', loopback: false };
 * const [m] = nat.setStaticMappings(spec, { containerId: 'c1', endpoint: 'eth0' }, [
 *   { protocol: 'tcp', externalPort: 0, internalAddress: IpAddress.parse('10.1.0.2'), internalPort: 80 },
 * ]);
 * // m.externalPort: a free port of 49152-65535
 * ```
 */
export { WinNat, type NatStatePort, type WinNatDeps } from './winnat.js';
export {
  DEFAULT_EPHEMERAL_PORTS,
  NAT_PROTOCOLS,
  formatMapping,
  type MappingOwner,
  type MappingRequest,
  type NatInstanceSpec,
  type NatProtocol,
  type NatState,
  type PortRange,
  type StaticMapping,
} from './model.js';
export { describeState, type NatDescription, type NatInstanceView, type NatStaticMappingView } from './describe.js';
export { decodeState, encodeState, type NatStateDocument } from './state-document.js';
export { TABLE as NAT_TABLE } from './render-nftables.js';
