/** The nat driver as the catalog loads it (drivers/driver-module.ts). */
import type { DriverModule } from '../driver-module.js';
import { natOptionsFromConf } from './cni-config.js';
import { NAT_OPTION_KEYS, natOptionsFromDocker } from './docker-options.js';
import { createLinuxNatDriver } from './index.js';
import type { NatOptions } from './nat-options.js';
import { natWindows } from './windows.js';

export const driverModule: DriverModule<NatOptions> = {
  create: (env) => createLinuxNatDriver({ runDir: env.runDir, ...(env.intercept ? { intercept: env.intercept } : {}) }),
  cniOptions: natOptionsFromConf,
  docker: { optionKeys: NAT_OPTION_KEYS, parse: natOptionsFromDocker },
  windows: natWindows,
};
