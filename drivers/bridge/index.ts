/**
 * The bridge driver's public surface, and its wiring to the Linux dataplane and the
 * embedded store's locks.
 */
import { join } from 'node:path';
import { NftForwardPassage, closeFd, inNetns, netnsExists, openNetlink, openNetnsFd, openNftables, sysctl } from '../../dataplane/linux/index.js';
import type { ForwardPassage, Netlink } from '../../dataplane/linux/ports.js';
import { lockFileSync } from '../../store/file/file-lock.js';
import { BridgeDriver } from './bridge-driver.js';
import type { BridgeHost } from './bridge-host.js';
import { fileWorkloadRegistry } from '../workload-registry.js';

export { BridgeDriver, hostVethName, peerVethName, type EndpointHealth } from './bridge-driver.js';
export type { BridgeHost } from './bridge-host.js';
export { defaultBridgeName, makeBridgeOptions, type BridgeOptions } from './bridge-options.js';
export type { NetworkSpec, EndpointSpec, EndpointRef, EndpointInfo } from '../driver.js';

/** The Linux host: netlink of this process's namespace, sandboxes by path, locks under `lockDir`. */
export function linuxBridgeHost(opts: { lockDir: string }): BridgeHost {
  let host: Netlink | undefined;
  let passage: ForwardPassage | undefined;
  const withLock = <T>(name: string, fn: () => T): T => {
    const lock = lockFileSync(join(opts.lockDir, `${name}.lock`));
    try {
      return fn();
    } finally {
      lock.release();
    }
  };
  return {
    hostNetlink: () => (host ??= openNetlink()),
    sandboxNetlink: (path) => openNetlink(path),
    openNetnsFd,
    closeFd,
    netnsExists,
    inNetns,
    sysctl,
    nftables: () => openNftables(),
    forwardPassage: () => (passage ??= new NftForwardPassage({ nftables: () => openNftables(), withLock })),
    withLock,
  };
}

/** `runDir`: where pods with a Kubernetes identity are recorded for the policy engine. */
export function createLinuxBridgeDriver(opts: { lockDir: string; runDir?: string }): BridgeDriver {
  const host = linuxBridgeHost(opts);
  return new BridgeDriver(host, opts.runDir ? fileWorkloadRegistry({ runDir: opts.runDir, nftables: host.nftables }) : undefined);
}
