/** The transparent driver as the catalog loads it (drivers/driver-module.ts). */
import type { DriverModule } from '../driver-module.js';
import { TRANSPARENT_CAPABILITIES } from './capabilities.js';
import { transparentOptionsFromConf } from './cni-config.js';
import { TRANSPARENT_OPTION_KEYS, transparentOptionsFromDocker } from './docker-options.js';
import { createLinuxMacvlanDriver } from './index.js';
import type { MacvlanOptions } from './macvlan-options.js';
import { transparentWindows } from './windows.js';

export const driverModule: DriverModule<MacvlanOptions> = {
  create: (env) =>
    createLinuxMacvlanDriver({
      name: 'transparent',
      capabilities: TRANSPARENT_CAPABILITIES,
      runDir: env.runDir,
      ...(env.intercept ? { intercept: env.intercept } : {}),
      ...(env.dhcp ? { dhcp: env.dhcp } : {}),
    }),
  cniOptions: transparentOptionsFromConf,
  givesAddresses: (o) => o.dhcp,
  docker: { optionKeys: TRANSPARENT_OPTION_KEYS, parse: transparentOptionsFromDocker },
  windows: transparentWindows,
};
