/**
 * berth's CNI plugins by executable name: what berthd serves on its CNI socket. One per
 * catalog entry (drivers/catalog.ts), each loading its driver on its first request, and the
 * IPAM plugin.
 */
import { CATALOG, IPAM_PLUGIN } from '../../drivers/catalog.js';
import type { PluginHandlers } from '../skel.js';
import { driverPlugin } from './driver-plugin.js';
import { ipamPlugin } from './ipam-plugin.js';

export const PLUGINS: Readonly<Record<string, PluginHandlers>> = {
  ...Object.fromEntries(CATALOG.map((entry) => [entry.plugin, driverPlugin(entry, () => entry.load())])),
  [IPAM_PLUGIN]: ipamPlugin,
};
