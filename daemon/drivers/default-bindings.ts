/**
 * The drivers this berthd serves, wired to the Linux dataplane. Adding a driver to berthd is
 * one `registry.register(...)` line here (its binding translates options; the registry gives
 * it a Docker plugin socket and the API).
 *
 * The nat driver (`berth-nat`) keeps WinNAT's state under `<runDir>/nat`; its
 * Program/RevokeExternalConnectivity are reached through the Driver interface's optional
 * methods, and `berth nat ls` through the gRPC service (proto/berth/v1/nat.proto).
 */
import { createLinuxBridgeDriver } from '../../drivers/bridge/index.js';
import { createLinuxNatDriver } from '../../drivers/nat/index.js';
import { DriverRegistry } from './binding.js';
import { bridgeBinding } from './bridge-binding.js';
import { natBinding } from './nat-binding.js';

/** Every driver berthd serves on Linux; locks live under `runDir`. */
export function linuxDriverRegistry(opts: { readonly runDir: string }): DriverRegistry {
  const registry = new DriverRegistry();
  // Locks directly under the run directory, as the CNI plugins and the nat driver keep them, so
  // that a Docker network and a CNI network of one host share the forward passage's lock.
  registry.register(bridgeBinding(createLinuxBridgeDriver({ lockDir: opts.runDir })));
  registry.register(natBinding(createLinuxNatDriver({ runDir: opts.runDir })));
  return registry;
}
