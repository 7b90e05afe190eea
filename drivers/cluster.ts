/**
 * What drivers whose networks span hosts (overlay) ask of the cluster. berthd implements it
 * on etcd (daemon/cluster/); a plugin process has none and the driver then works from what
 * berthd last recorded on this host (drivers/overlay/membership-cache.ts).
 */
import type { IpAddress, IpPrefix } from '../core/ip.js';
import type { OverlayMode } from './overlay/overlay-options.js';

/** This node joining one overlay network. */
export interface OverlayJoin {
  readonly network: string;
  readonly vni: number;
  /** The cluster subnet. */
  readonly subnet: IpPrefix;
  /** Each node's block: the subnet's own length when the network has one subnet across hosts. */
  readonly subnetLen: number;
  readonly shared: boolean;
  readonly mode: OverlayMode;
  /** The VXLAN device this node uses for the network, and its MAC (what peers put in their FDB). */
  readonly device: string;
  readonly vtepMac: string;
}

/** What the cluster gave this node for one network. */
export interface OverlayMembership {
  readonly node: string;
  /** The node's block of the subnet (the whole subnet when shared). */
  readonly block: IpPrefix;
  /** This node's underlay address: the VXLAN local address, what peers send to. */
  readonly vtep: IpAddress;
}

/** A container of a shared-subnet network, announced so that the other nodes route to it. */
export interface AnnouncedEndpoint {
  readonly network: string;
  readonly endpoint: string;
  readonly address: IpAddress;
}

export interface Cluster {
  /** This node's name in the cluster. */
  readonly node: string;
  /** This node's underlay address. */
  readonly advertiseAddress: IpAddress;
  /**
   * Joins the network on this node: its block is leased (kept across restarts), its VTEP
   * published. Idempotent. TryAgainError when the store cannot be reached and this node
   * holds no block yet.
   */
  joinOverlay(join: OverlayJoin): Promise<OverlayMembership>;
  /** The network's VXLAN device is up: program the other nodes on it now, and keep doing so. */
  overlayReady(network: string): Promise<void>;
  /** This node has no endpoint left on the network: its peers drop it; its block stays leased for the grace period. */
  leaveOverlay(network: string): Promise<void>;
  /** Shared-subnet networks: the endpoint's address is reached through this node. */
  announceEndpoint(ep: AnnouncedEndpoint): Promise<void>;
  withdrawEndpoint(network: string, endpoint: string): Promise<void>;
}
