/**
 * The l2bridge driver's public surface, and its wiring to the Linux dataplane, the embedded
 * store's locks and the endpoint records under the run directory.
 */
import { join } from 'node:path';
import { announceAddress } from '../../dataplane/linux/announce.js';
import { NftForwardPassage, closeFd, inNetns, netnsExists, openNetlink, openNetnsFd, openNftables, sysctl } from '../../dataplane/linux/index.js';
import type { ForwardPassage, Netlink } from '../../dataplane/linux/ports.js';
import { lockFileSync } from '../../store/file/file-lock.js';
import type { HostIntercept } from '../driver-module.js';
import { l2bridgeRecords } from './endpoint-records.js';
import { L2BridgeDriver } from './l2bridge-driver.js';
import type { L2BridgeHost } from './l2bridge-host.js';

export { L2BridgeDriver, GATEWAY4, GATEWAY6, hostVethName } from './l2bridge-driver.js';
export type { L2BridgeHost } from './l2bridge-host.js';
export type { L2BridgeOptions } from './l2bridge-options.js';

/** The Linux host: netlink of this process's namespace, sandboxes by path, locks and records under `runDir`. */
export function linuxL2BridgeHost(runDir: string): L2BridgeHost {
  let nl: Netlink | undefined;
  let passage: ForwardPassage | undefined;
  const withLock = <T>(name: string, fn: () => T): T => {
    const lock = lockFileSync(join(runDir, `${name}.lock`));
    try {
      return fn();
    } finally {
      lock.release();
    }
  };
  return {
    hostNetlink: () => (nl ??= openNetlink()),
    sandboxNetlink: (path) => openNetlink(path),
    openNetnsFd,
    closeFd,
    netnsExists,
    inNetns,
    sysctl,
    nftables: () => openNftables(),
    forwardPassage: () => (passage ??= new NftForwardPassage({ nftables: () => openNftables(), withLock })),
    withLock,
    announce: announceAddress,
    records: l2bridgeRecords(runDir),
  };
}

/** The Linux l2bridge driver, its locks and records under `runDir`; `intercept` wraps its host port. */
export function createLinuxL2BridgeDriver(opts: { readonly runDir: string; readonly intercept?: HostIntercept }): L2BridgeDriver {
  const host = linuxL2BridgeHost(opts.runDir);
  return new L2BridgeDriver(opts.intercept ? opts.intercept('l2bridge-host', host) : host);
}
