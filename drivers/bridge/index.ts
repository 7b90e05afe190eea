/**
 * The bridge driver's public surface, and its wiring to the Linux dataplane and the
 * embedded store's locks.
 */
import { join } from 'node:path';
import { NftForwardPassage, closeFd, inNetns, netnsExists, openNetlink, openNetnsFd, openNftables, sysctl } from '../../dataplane/linux/index.js';
import type { ForwardPassage, Netlink } from '../../dataplane/linux/ports.js';
import { lockFileSync } from '../../store/file/file-lock.js';
import type { HostIntercept } from '../driver-module.js';
import { BridgeDriver } from './bridge-driver.js';
import type { BridgeHost } from './bridge-host.js';

export { BridgeDriver, hostVethName, peerVethName } from './bridge-driver.js';
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

/** The Linux bridge driver, its locks under `lockDir`; `intercept` wraps its host port. */
export function createLinuxBridgeDriver(opts: { lockDir: string; intercept?: HostIntercept }): BridgeDriver {
  const host = linuxBridgeHost(opts);
  return new BridgeDriver(opts.intercept ? opts.intercept('bridge-host', host) : host);
}
