/**
 * What the bridge driver needs from the host, as one narrow port. The Linux
 * implementation (index.ts) wires dataplane/linux and the embedded store's locks; tests may
 * wrap it to inject failures the kernel cannot be made to produce.
 */
import type { ForwardPassage, Netlink, Nftables } from '../../dataplane/linux/ports.js';
import type { SandboxHost } from '../endpoint/sandbox-host.js';

export interface BridgeHost extends SandboxHost {
  /** Netlink of the namespace the driver manages (the host's). */
  hostNetlink(): Netlink;
  /** An fd of the namespace at `path`, for creating a link directly in it. */
  openNetnsFd(path: string): number;
  closeFd(fd: number): void;
  nftables(): Nftables;
  /** berth's traffic past other owners' forward drops (Docker, ufw, iptables). */
  forwardPassage(): ForwardPassage;
  /** Exclusive, crash-safe lock (released by the kernel if the process dies). */
  withLock<T>(name: string, fn: () => T): T;
}
