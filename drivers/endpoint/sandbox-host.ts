/** What the shared sandbox steps need from the host (a slice of each driver's host port). */
import type { Netlink, Sysctl } from '../../dataplane/linux/ports.js';

export interface SandboxHost {
  /** Netlink inside the sandbox at `path`; the caller closes it. */
  sandboxNetlink(path: string): Netlink;
  netnsExists(path: string): boolean;
  /** Runs `fn` on a thread in the namespace at `path` (sysctls resolve there). */
  inNetns<T>(path: string, fn: () => T): T;
  readonly sysctl: Sysctl;
}
