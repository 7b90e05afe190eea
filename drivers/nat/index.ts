/**
 * The nat driver's public surface, and its wiring to the Linux dataplane, the embedded
 * store's locks and WinNAT's state on the embedded file store.
 */
import { join } from 'node:path';
import { openNftables, sysctl } from '../../dataplane/linux/index.js';
import { WinNat, decodeState, describeState, type NatDescription } from '../../winnat/index.js';
import { BridgeDriver, linuxBridgeHost } from '../bridge/index.js';
import type { HostIntercept } from '../driver-module.js';
import { NatDriver } from './nat-driver.js';
import { fileNatState } from './nat-state-store.js';

export { NatDriver, instanceOf, type NatDriverDeps } from './nat-driver.js';
export { makeNatOptions, type NatOptions, type NatOptionsInput } from './nat-options.js';
export { fileNatState, NAT_STATE_KEY } from './nat-state-store.js';
export type { NatDescription } from '../../winnat/index.js';

/** Where berth keeps run-time state (locks, WinNAT's state) unless told otherwise. */
export const DEFAULT_RUN_DIR = '/run/berth';

/** WinNAT's state directory under a run directory. */
export function natStateDir(runDir: string = DEFAULT_RUN_DIR): string {
  return join(runDir, 'nat');
}

/** The Linux nat driver: locks under `runDir`, WinNAT's state in `natStateDir(runDir)`; `intercept` wraps its host ports. */
export function createLinuxNatDriver(opts: { readonly runDir: string; readonly intercept?: HostIntercept }): NatDriver {
  const wrap: HostIntercept = opts.intercept ?? ((_port, impl) => impl);
  const linuxHost = linuxBridgeHost({ lockDir: opts.runDir });
  const host = wrap('bridge-host', linuxHost);
  const winnat = new WinNat(wrap('winnat', { state: fileNatState(natStateDir(opts.runDir)), nftables: () => openNftables(), sysctl }));
  return new NatDriver({ bridge: new BridgeDriver(host), winnat, linkExists: (name) => linuxHost.hostNetlink().getLink(name) !== undefined });
}

/**
 * Get-NetNat and Get-NetNatStaticMapping of this host (what `berth nat ls` prints), read
 * from WinNAT's state without a lock or a kernel call.
 */
export function describeNat(opts: { readonly runDir?: string } = {}): NatDescription {
  return describeState(decodeState(fileNatState(natStateDir(opts.runDir)).read()));
}
