/** The l2bridge driver as the catalog loads it (drivers/driver-module.ts). */
import type { DriverModule } from '../driver-module.js';
import { l2bridgeOptionsFromConf } from './cni-config.js';
import { L2BRIDGE_OPTION_KEYS, l2bridgeOptionsFromDocker } from './docker-options.js';
import { createLinuxL2BridgeDriver } from './index.js';
import type { L2BridgeOptions } from './l2bridge-options.js';
import { l2bridgeWindows } from './windows.js';

export const driverModule: DriverModule<L2BridgeOptions> = {
  create: (env) => createLinuxL2BridgeDriver({ runDir: env.runDir, ...(env.intercept ? { intercept: env.intercept } : {}) }),
  cniOptions: l2bridgeOptionsFromConf,
  docker: { optionKeys: L2BRIDGE_OPTION_KEYS, parse: l2bridgeOptionsFromDocker },
  windows: l2bridgeWindows,
};
