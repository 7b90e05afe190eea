/**
 * The shared vocabulary: networks and endpoints as every layer sees them.
 * Plain readonly data; no behaviour and no I/O.
 */
import type { IpAddress, IpPrefix, IpWithPrefix } from './ip.js';

/** The six drivers. The names are the Windows container network types plus Linux's bridge. */
export type DriverName = 'bridge' | 'nat' | 'transparent' | 'overlay' | 'l2bridge' | 'l2tunnel';

export type Scope = 'local' | 'cluster';

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

export interface Network {
  readonly id: string;
  readonly name: string;
  readonly driver: DriverName;
  readonly scope: Scope;
  /** Subnets with their ranges; one entry per address family in use. */
  readonly subnets: readonly IpRange[];
  readonly mtu?: number;
  /** Driver options, already validated by the driver's option parser. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly created: string;
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

export interface Endpoint {
  readonly id: string;
  readonly network: string;
  readonly containerId: string;
  /** Interface name inside the sandbox (`eth0`). */
  readonly ifname: string;
  /** Network namespace path of the sandbox. */
  readonly sandbox: string;
  readonly mac?: string;
  readonly addresses: readonly AssignedAddress[];
  readonly routes: readonly Route[];
  readonly portMappings: readonly PortMapping[];
  readonly pod?: PodIdentity;
}
