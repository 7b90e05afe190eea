/**
 * What a Windows host knows besides a network's own options, and what its documents need: the
 * node's underlay address, and for an overlay this node's block and the other nodes (from the
 * cluster store: their leases). berthd would read them from the host and etcd; `berth render`
 * takes them as flags.
 */
import type { IpAddress, IpPrefix } from '../../core/ip.js';

/** Another node of an overlay network. */
export interface WindowsOverlayPeer {
  /** The node's block of the cluster subnet. */
  readonly subnet: IpPrefix;
  /** Its underlay address (HNS's provider address). */
  readonly providerAddress: IpAddress;
  /** Its distributed-router MAC (flannel's VtepMAC on Windows), when known. */
  readonly drMac?: string;
}

/** An endpoint on another node of a network whose one subnet spans the nodes (Docker's overlay). */
export interface WindowsRemoteEndpoint {
  readonly address: IpAddress;
  /** The other node's underlay address (HNS's provider address). */
  readonly providerAddress: IpAddress;
  /** The endpoint's MAC, when known. */
  readonly mac?: string;
}

export interface WindowsHostFacts {
  /** The node's own address: an overlay's provider address, the host an l2bridge pod reaches through the host's stack. */
  readonly hostAddress?: IpAddress;
  /** Overlay with a block per node: this node's block (else the network's subnet is the node's). */
  readonly nodeSubnet?: IpPrefix;
  /** Overlay: the other nodes, each a route to its block. */
  readonly peers?: readonly WindowsOverlayPeer[];
  /** Overlay with one subnet across the nodes: the other nodes' endpoints. */
  readonly remoteEndpoints?: readonly WindowsRemoteEndpoint[];
}
