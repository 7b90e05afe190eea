/**
 * The macvlan drivers' wiring to the Linux dataplane, the embedded store's locks and the
 * endpoint records under the run directory.
 */
import { join } from 'node:path';
import { closeFd, inNetns, netnsExists, openNetlink, openNetnsFd, sysctl } from '../../dataplane/linux/index.js';
import type { Netlink } from '../../dataplane/linux/ports.js';
import { lockFileSync } from '../../store/file/file-lock.js';
import type { DriverName } from '../../core/model.js';
import type { DhcpClient } from '../dhcp.js';
import type { DriverCapabilities } from '../driver.js';
import type { HostIntercept } from '../driver-module.js';
import { macvlanRecords } from './endpoint-records.js';
import type { MacvlanHost } from './macvlan-host.js';
import { MacvlanDriver } from './macvlan-driver.js';

export { MacvlanDriver, shimName } from './macvlan-driver.js';
export type { MacvlanOptions } from './macvlan-options.js';

export function linuxMacvlanHost(runDir: string): MacvlanHost {
  let nl: Netlink | undefined;
  return {
    hostNetlink: () => (nl ??= openNetlink()),
    sandboxNetlink: (path) => openNetlink(path),
    openNetnsFd,
    closeFd,
    netnsExists,
    inNetns,
    sysctl,
    withLock: (name, fn) => {
      const lock = lockFileSync(join(runDir, `${name}.lock`));
      try {
        return fn();
      } finally {
        lock.release();
      }
    },
    records: macvlanRecords(runDir),
  };
}

export function createLinuxMacvlanDriver(opts: {
  readonly name: DriverName;
  readonly capabilities: DriverCapabilities;
  readonly runDir: string;
  readonly intercept?: HostIntercept;
  readonly dhcp?: DhcpClient;
}): MacvlanDriver {
  const host = linuxMacvlanHost(opts.runDir);
  return new MacvlanDriver({
    name: opts.name,
    capabilities: opts.capabilities,
    host: opts.intercept ? opts.intercept('macvlan-host', host) : host,
    ...(opts.dhcp ? { dhcp: opts.dhcp } : {}),
  });
}
