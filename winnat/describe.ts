/**
 * The NAT state as Get-NetNat and Get-NetNatStaticMapping show it (what `berth nat ls`
 * prints). Pure.
 */
import type { NatState } from './model.js';

/** One NAT instance, Get-NetNat's fields that apply, plus berth's own. */
export interface NatInstanceView {
  readonly name: string;
  readonly internalIPInterfaceAddressPrefix: string;
  /** The host interface facing the prefix (the network's bridge). */
  readonly internalInterface: string;
  /** berth's addition: the host and the internal network may use published ports. */
  readonly loopback: boolean;
  readonly staticMappings: number;
}

/** One static mapping, Get-NetNatStaticMapping's fields, plus who holds it. */
export interface NatStaticMappingView {
  /** Position in the table, from 1; stable only while the table does not change. */
  readonly staticMappingId: number;
  readonly natName: string;
  readonly protocol: 'TCP' | 'UDP';
  /** `0.0.0.0` for every host address. */
  readonly externalIPAddress: string;
  readonly externalPort: number;
  /** Last port of a range; equal to externalPort for one port. */
  readonly externalPortEnd: number;
  readonly internalIPAddress: string;
  readonly internalPort: number;
  readonly containerId: string;
  readonly endpoint: string;
  /** The external port was picked by berth (the request asked for port 0). */
  readonly ephemeral: boolean;
}

export interface NatDescription {
  readonly nats: readonly NatInstanceView[];
  readonly staticMappings: readonly NatStaticMappingView[];
}

/** Instances by name; mappings by instance, protocol and external port. */
export function describeState(state: NatState): NatDescription {
  const mappings = [...state.mappings].sort((a, b) => (a.nat !== b.nat ? (a.nat < b.nat ? -1 : 1) : a.protocol !== b.protocol ? (a.protocol < b.protocol ? -1 : 1) : a.externalPort - b.externalPort));
  return {
    nats: [...state.instances]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((i) => ({
        name: i.name,
        internalIPInterfaceAddressPrefix: i.internalPrefix.toString(),
        internalInterface: i.internalInterface,
        loopback: i.loopback,
        staticMappings: state.mappings.filter((m) => m.nat === i.name).length,
      })),
    staticMappings: mappings.map((m, n) => ({
      staticMappingId: n + 1,
      natName: m.nat,
      protocol: m.protocol === 'tcp' ? 'TCP' : 'UDP',
      externalIPAddress: m.externalAddress?.toString() ?? '0.0.0.0',
      externalPort: m.externalPort,
      externalPortEnd: m.externalPortEnd,
      internalIPAddress: m.internalAddress.toString(),
      internalPort: m.internalPort,
      containerId: m.owner.containerId,
      endpoint: m.owner.endpoint,
      ephemeral: m.ephemeral,
    })),
  };
}
