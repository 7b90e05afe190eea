/**
 * berth's CNI plugins by executable name: what berthd serves on its CNI socket. One per
 * catalog entry (drivers/catalog.ts), each loading its driver on its first request, and the
 * IPAM plugin.
 */
import { CATALOG, IPAM_PLUGIN } from '../../drivers/catalog.js';
import type { PluginHandlers } from '../skel.js';
import { driverPlugin, type ServedEnv } from './driver-plugin.js';
import { ipamPlugin } from './ipam-plugin.js';

/** The plugins, their drivers made with `served` added to their environment (berthd's cluster). */
export function pluginsFor(served: ServedEnv = {}): Readonly<Record<string, PluginHandlers>> {
  return {
    ...Object.fromEntries(CATALOG.map((entry) => [entry.plugin, driverPlugin(entry, () => entry.load(), served)])),
    [IPAM_PLUGIN]: ipamPlugin,
  };
}

export const PLUGINS = pluginsFor();
