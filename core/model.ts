/**
 * The shared vocabulary every layer uses: driver names, ranges, routes, DNS, port mappings,
 * assigned addresses. Plain readonly data; no behaviour and no I/O. Networks and endpoints as
 * a driver sees them are in drivers/driver.ts; as berthd records them, in daemon/state/records.ts.
 */
import type { IpAddress, IpPrefix, IpWithPrefix } from './ip.js';

/** The six drivers. The names are the Windows container network types plus Linux's bridge. */
export type DriverName = 'bridge' | 'nat' | 'transparent' | 'overlay' | 'l2bridge' | 'l2tunnel';

/** One address range of a subnet that IPAM may hand out from. */
export interface IpRange {
  readonly subnet: IpPrefix;
  /** First allocatable address (inclusive). */
  readonly rangeStart: IpAddress;
  /** Last allocatable address (inclusive). */
  readonly rangeEnd: IpAddress;
  /** Gateway address: never handed out. */
  readonly gateway?: IpAddress;
}

export interface Route {
  readonly dst: IpPrefix;
  readonly gw?: IpAddress;
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}

export interface Dns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** A published port: host (external) address and port to a container port. */
export interface PortMapping {
  readonly protocol: Protocol;
  /** The host address the port is published on; absent means every host address. */
  readonly hostIp?: IpAddress;
  /** 0 asks the driver to pick a free (ephemeral) host port. */
  readonly hostPort: number;
  /**
   * With a non-zero hostPort: publishes the range hostPort..hostPortEnd onto
   * containerPort..containerPort + (hostPortEnd - hostPort). Absent: one port.
   */
  readonly hostPortEnd?: number;
  readonly containerPort: number;
}

export interface PodIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
}

/** An assigned address: the interface address and, when there is one, its gateway. */
export interface AssignedAddress {
  readonly address: IpWithPrefix;
  readonly gateway?: IpAddress;
}
