/**
 * The overlay driver's public surface, and its wiring to the Linux dataplane, the bridge
 * driver, the embedded store's locks and the node-block IPAM under the run directory.
 */
import { join } from 'node:path';
import { openNetlink, sysctl } from '../../dataplane/linux/index.js';
import type { ForwardPassage, Netlink } from '../../dataplane/linux/ports.js';
import { IpamSync } from '../../ipam/allocator.js';
import { FileStore } from '../../store/file/file-store.js';
import { lockFile } from '../../store/file/file-lock.js';
import { BridgeDriver, linuxBridgeHost } from '../bridge/index.js';
import type { Cluster } from '../cluster.js';
import type { HostIntercept } from '../driver-module.js';
import { MembershipCache } from './membership-cache.js';
import { OverlayDriver, overlayPaths } from './overlay-driver.js';
import type { OverlayHost } from './overlay-host.js';

export { OverlayDriver } from './overlay-driver.js';
export { MembershipCache } from './membership-cache.js';
export type { OverlayOptions } from './overlay-options.js';

export function linuxOverlayHost(runDir: string, forwardPassage: () => ForwardPassage): OverlayHost {
  let nl: Netlink | undefined;
  let ipam: IpamSync | undefined;
  return {
    hostNetlink: () => (nl ??= openNetlink()),
    sysctl,
    lock: (name) => lockFile(join(runDir, `${name}.lock`)),
    ipam: () => (ipam ??= new IpamSync(new FileStore({ dataDir: overlayPaths.ipamDir(runDir) }))),
    forwardPassage,
  };
}

export function createLinuxOverlayDriver(opts: { readonly runDir: string; readonly intercept?: HostIntercept; readonly cluster?: Cluster }): OverlayDriver {
  const wrap: HostIntercept = opts.intercept ?? ((_port, impl) => impl);
  const bridgeHost = linuxBridgeHost({ lockDir: opts.runDir });
  const bridge = new BridgeDriver(wrap('bridge-host', bridgeHost));
  return new OverlayDriver({
    bridge,
    // One passage for the bridge and the VXLAN device, under the same lock.
    host: wrap(
      'overlay-host',
      linuxOverlayHost(opts.runDir, () => bridgeHost.forwardPassage()),
    ),
    cache: new MembershipCache(opts.runDir),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
  });
}
