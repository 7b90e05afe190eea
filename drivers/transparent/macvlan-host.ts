/**
 * What the macvlan drivers need from the host, as one narrow port: netlink of the host,
 * sandboxes by path, locks, and the endpoint records (the containers' interfaces live in their
 * sandboxes, so only the records say which endpoints a network has, for GC and the host shim).
 */
import type { Netlink } from '../../dataplane/linux/ports.js';
import type { SandboxHost } from '../endpoint/sandbox-host.js';
import type { MacvlanRecords } from './endpoint-records.js';

export interface MacvlanHost extends SandboxHost {
  hostNetlink(): Netlink;
  /** An fd of the namespace at `path`, for creating a link directly in it. */
  openNetnsFd(path: string): number;
  closeFd(fd: number): void;
  /** Exclusive, crash-safe lock. */
  withLock<T>(name: string, fn: () => T): T;
  readonly records: MacvlanRecords;
}
