/**
 * berth's CNI plugins by executable name: what berthd serves on its CNI socket and what
 * `berth install` puts in a CNI bin directory. The plugin executables (cni/bin/) import their
 * own plugin only, so a fallback process never loads the others.
 */
import type { PluginHandlers } from '../skel.js';
import { bridgePlugin } from './bridge-plugin.js';
import { ipamPlugin } from './ipam-plugin.js';
import { natPlugin } from './nat-plugin.js';

export const PLUGINS: Readonly<Record<string, PluginHandlers>> = {
  'berth-bridge': bridgePlugin,
  'berth-ipam': ipamPlugin,
  'berth-nat': natPlugin,
};

export const PLUGIN_NAMES = Object.keys(PLUGINS);
