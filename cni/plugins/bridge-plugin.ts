/**
 * berth-bridge: CNI commands translated into calls on the bridge driver (driver-plugin.ts
 * holds the command flow shared with the other main plugins).
 */
import { createLinuxBridgeDriver, type BridgeOptions } from '../../drivers/bridge/index.js';
import type { PluginHandlers } from '../skel.js';
import { bridgeOptionsFromConf } from './bridge-config.js';
import { driverPerRunDir, driverPlugin } from './driver-plugin.js';

/** berth-bridge's command handlers. */
export const bridgePlugin: PluginHandlers = driverPlugin<BridgeOptions>({
  name: 'berth-bridge',
  about: 'berth-bridge: a Linux bridge per network and a veth pair per container (berth)',
  options: (req) => bridgeOptionsFromConf(req.name, req.conf),
  driver: driverPerRunDir((runDir) => createLinuxBridgeDriver({ lockDir: runDir, runDir })),
});
