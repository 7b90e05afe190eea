/** The overlay driver as the catalog loads it (drivers/driver-module.ts). */
import type { DriverModule } from '../driver-module.js';
import { overlayOptionsFromConf } from './cni-config.js';
import { OVERLAY_OPTION_KEYS, overlayOptionsFromDocker } from './docker-options.js';
import { createLinuxOverlayDriver } from './index.js';
import type { OverlayOptions } from './overlay-options.js';
import { overlayWindows } from './windows.js';

export const driverModule: DriverModule<OverlayOptions> = {
  create: (env) => createLinuxOverlayDriver({ runDir: env.runDir, ...(env.intercept ? { intercept: env.intercept } : {}), ...(env.cluster ? { cluster: env.cluster } : {}) }),
  cniOptions: overlayOptionsFromConf,
  docker: { optionKeys: OVERLAY_OPTION_KEYS, parse: overlayOptionsFromDocker },
  windows: overlayWindows,
};
