/**
 * WinNAT's vocabulary: NAT instances (New-NetNat) and static mappings
 * (Add-NetNatStaticMapping), as plain readonly values. No I/O.
 */
import type { IpAddress, IpPrefix } from '../core/ip.js';

/** WinNAT maps TCP and UDP only. */
export type NatProtocol = 'tcp' | 'udp';

/** The protocols WinNAT maps. */
export const NAT_PROTOCOLS: readonly NatProtocol[] = ['tcp', 'udp'];

/** One NAT instance: an internal IPv4 prefix masqueraded behind the host's own addresses. */
export interface NatInstanceSpec {
  /** Unique on the host; the nat network's name. */
  readonly name: string;
  /** InternalIPInterfaceAddressPrefix. IPv4 only, as on Windows; no two instances overlap. */
  readonly internalPrefix: IpPrefix;
  /** The host interface facing the internal prefix (the network's bridge): WinNAT's internal vNIC. */
  readonly internalInterface: string;
  /**
   * Let the host itself (its own addresses and 127.0.0.1) and the internal network (hairpin)
   * use published ports. Windows cannot; false keeps Windows' rule that the host reaches a
   * container only by the container's address.
   */
  readonly loopback: boolean;
}

/** Who holds a mapping: one endpoint of one container. */
export interface MappingOwner {
  readonly containerId: string;
  /** The endpoint within the container: its interface name (CNI) or endpoint id (Docker). */
  readonly endpoint: string;
}

/** What a caller asks to publish. */
export interface MappingRequest {
  readonly protocol: NatProtocol;
  /** ExternalIPAddress; absent means every address of the host (0.0.0.0). */
  readonly externalAddress?: IpAddress;
  /** ExternalPort; 0 asks for a free port from the ephemeral range. */
  readonly externalPort: number;
  /** With a non-zero externalPort: the last port of a range mapped 1:1 from internalPort on. */
  readonly externalPortEnd?: number;
  readonly internalAddress: IpAddress;
  readonly internalPort: number;
}

/** A mapping in effect. */
export interface StaticMapping {
  /** NatName: the instance it belongs to. */
  readonly nat: string;
  readonly owner: MappingOwner;
  readonly protocol: NatProtocol;
  readonly externalAddress?: IpAddress;
  readonly externalPort: number;
  /** Equal to externalPort for a single port. */
  readonly externalPortEnd: number;
  readonly internalAddress: IpAddress;
  readonly internalPort: number;
  /** The external port was picked from the ephemeral range (the request said 0). */
  readonly ephemeral: boolean;
}

/** Inclusive port range for ephemeral allocation. */
export interface PortRange {
  readonly start: number;
  readonly end: number;
}

/** Windows' (and IANA's) dynamic port range, which Windows takes ephemeral ports from. */
export const DEFAULT_EPHEMERAL_PORTS: PortRange = { start: 49152, end: 65535 };

/** Everything WinNAT holds on one host. */
export interface NatState {
  readonly instances: readonly NatInstanceSpec[];
  readonly mappings: readonly StaticMapping[];
  /** Per protocol, the last ephemeral port handed out: allocation rotates from there. */
  readonly cursors: Readonly<Record<NatProtocol, number>>;
}

/** No instance, no mapping. */
export const EMPTY_STATE: NatState = { instances: [], mappings: [], cursors: { tcp: 0, udp: 0 } };

/** "tcp 0.0.0.0:8080 -> 10.1.0.2:80" (ranges as 8000-8010 -> 10.1.0.2:80-90). */
export function formatMapping(m: Omit<StaticMapping, 'nat' | 'owner' | 'ephemeral'>): string {
  const ext = m.externalPortEnd !== m.externalPort ? `${m.externalPort}-${m.externalPortEnd}` : String(m.externalPort);
  const endInternal = m.internalPort + (m.externalPortEnd - m.externalPort);
  const int = endInternal !== m.internalPort ? `${m.internalPort}-${endInternal}` : String(m.internalPort);
  return `${m.protocol} ${m.externalAddress ?? '0.0.0.0'}:${ext} -> ${m.internalAddress}:${int}`;
}

/** Whether two owners are the same endpoint of the same container. */
export function sameOwner(a: MappingOwner, b: MappingOwner): boolean {
  return a.containerId === b.containerId && a.endpoint === b.endpoint;
}
