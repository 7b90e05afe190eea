/**
 * The drivers this berthd serves on Linux: every catalog entry (drivers/catalog.ts), its
 * driver made once for the host, with policy bookkeeping (drivers/policy-records.ts) around it.
 * Locks live directly under the run directory, as the CNI plugins keep them, so that a Docker
 * network and a CNI network of one host share them (the forward passage's, a bridge's).
 */
import { CATALOG } from '../../drivers/catalog.js';
import type { Cluster } from '../../drivers/cluster.js';
import type { DhcpClient } from '../../drivers/dhcp.js';
import { withPolicyRecords } from '../../drivers/policy-records.js';
import { DriverRegistry } from './binding.js';

export async function linuxDriverRegistry(opts: { readonly runDir: string; readonly cluster?: Cluster; readonly dhcp?: DhcpClient }): Promise<DriverRegistry> {
  const registry = new DriverRegistry();
  for (const entry of CATALOG) {
    const module = await entry.load();
    registry.register({
      driver: entry.name,
      pluginName: entry.plugin,
      impl: withPolicyRecords(module.create({ runDir: opts.runDir, ...(opts.cluster ? { cluster: opts.cluster } : {}), ...(opts.dhcp ? { dhcp: opts.dhcp } : {}) }), opts.runDir),
      optionKeys: module.docker.optionKeys,
      parseOptions: (raw, ctx) => module.docker.parse(raw, ctx),
      givesAddresses: (options) => module.givesAddresses?.(options) ?? false,
    });
  }
  return registry;
}
