/**
 * What the overlay driver needs from the host besides the bridge driver's port: netlink of
 * the host namespace, sysctls, a lock held across awaits, the IPAM of node blocks, and the
 * forward passage.
 */
import type { ForwardPassage, Netlink, Sysctl } from '../../dataplane/linux/ports.js';
import type { IpamSync } from '../../ipam/allocator.js';

export interface HeldLock {
  release(): void;
}

export interface OverlayHost {
  hostNetlink(): Netlink;
  readonly sysctl: Sysctl;
  /** Exclusive across processes (berthd and plugin processes), crash-safe, held until released. */
  lock(name: string): Promise<HeldLock>;
  /** Pods' addresses from this node's block. */
  ipam(): IpamSync;
  /** berth's traffic past other owners' forward drops (Docker's, ufw's): the bridge driver's passage. */
  forwardPassage(): ForwardPassage;
}
