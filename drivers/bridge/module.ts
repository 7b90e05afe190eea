/** The bridge driver as the catalog loads it (drivers/driver-module.ts). */
import type { DriverModule } from '../driver-module.js';
import type { BridgeOptions } from './bridge-options.js';
import { bridgeOptionsFromConf } from './cni-config.js';
import { BRIDGE_OPTION_KEYS, bridgeOptionsFromDocker } from './docker-options.js';
import { createLinuxBridgeDriver } from './index.js';
import { bridgeWindows } from './windows.js';

export const driverModule: DriverModule<BridgeOptions> = {
  create: (env) => createLinuxBridgeDriver({ lockDir: env.runDir, ...(env.intercept ? { intercept: env.intercept } : {}) }),
  cniOptions: bridgeOptionsFromConf,
  docker: { optionKeys: BRIDGE_OPTION_KEYS, parse: bridgeOptionsFromDocker },
  windows: bridgeWindows,
};
