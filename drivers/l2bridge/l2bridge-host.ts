/**
 * What the l2bridge driver needs from the host, as one narrow port. The Linux implementation
 * (index.ts) wires dataplane/linux, the embedded store's locks and the endpoint records; tests
 * wrap it (DriverEnv.intercept) to inject failures the kernel cannot be made to produce.
 */
import type { IpAddress } from '../../core/ip.js';
import type { ForwardPassage, Netlink, Nftables } from '../../dataplane/linux/ports.js';
import type { SandboxHost } from '../endpoint/sandbox-host.js';
import type { L2BridgeRecords } from './endpoint-records.js';

export interface L2BridgeHost extends SandboxHost {
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
  /** A gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) of `ip` at the link's MAC, on the link. */
  announce(link: { readonly index: number; readonly name: string; readonly mac: string }, ip: IpAddress): void;
  readonly records: L2BridgeRecords;
}
