/**
 * What the bridge driver needs from the host, as one narrow port. The Linux
 * implementation (index.ts) wires dataplane/linux and the embedded store's locks; tests may
 * wrap it to inject failures the kernel cannot be made to produce.
 */
import type { ForwardPassage, Netlink, Nftables, Sysctl } from '../../dataplane/linux/ports.js';

export interface BridgeHost {
  /** Netlink of the namespace the driver manages (the host's). */
  hostNetlink(): Netlink;
  /** Netlink bound to the sandbox namespace at `path`; NetnsNotFoundError when it is gone. */
  sandboxNetlink(path: string): Netlink;
  /** An fd of the namespace at `path`, for creating a link directly in it. */
  openNetnsFd(path: string): number;
  closeFd(fd: number): void;
  netnsExists(path: string): boolean;
  /** Runs short synchronous work (sysctl writes) inside the namespace at `path`. */
  inNetns<T>(path: string, fn: () => T): T;
  sysctl: Sysctl;
  nftables(): Nftables;
  /** berth's traffic past other owners' forward drops (Docker, ufw, iptables). */
  forwardPassage(): ForwardPassage;
  /** Exclusive, crash-safe lock (released by the kernel if the process dies). */
  withLock<T>(name: string, fn: () => T): T;
}
