/**
 * The l2tunnel driver as the catalog loads it: the macvlan driver (drivers/transparent) in VEPA
 * mode, so that every frame, even between two containers of one host, goes to the upstream
 * switch and back (802.1Qbg reflective relay) and the fabric can apply policy. Addresses are
 * static, in the host's own subnet, as for l2bridge.
 *
 * CNI `{"type": "berth-l2tunnel", "master": "eth0", "ipam": {...}}`; Docker `docker network
 * create -d berth-l2tunnel --subnet <host prefix> --gateway <router> -o parent=eth0 n`.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import type { DriverModule } from '../driver-module.js';
import { DHCP_IPAM, macvlanOptionsFromConf } from '../transparent/cni-config.js';
import { macvlanOptionsFromDocker } from '../transparent/docker-options.js';
import { createLinuxMacvlanDriver } from '../transparent/index.js';
import type { MacvlanOptions } from '../transparent/macvlan-options.js';
import { l2tunnelWindows } from '../transparent/windows.js';
import { L2TUNNEL_CAPABILITIES } from './capabilities.js';

const OPTION_KEYS = ['parent', 'mtu', 'com.docker.network.driver.mtu'];

export const driverModule: DriverModule<MacvlanOptions> = {
  create: (env) => createLinuxMacvlanDriver({ name: 'l2tunnel', capabilities: L2TUNNEL_CAPABILITIES, runDir: env.runDir, ...(env.intercept ? { intercept: env.intercept } : {}) }),
  cniOptions: (_name, conf) => {
    if ((conf.ipam as { type?: unknown } | undefined)?.type === DHCP_IPAM) {
      throw new UnsupportedFieldError("berth-l2tunnel addresses are static, in the host's subnet: use an IPAM such as berth-ipam, not berth-dhcp", { field: 'ipam.type', value: DHCP_IPAM });
    }
    if (conf.hostShim !== undefined) throw new UnsupportedFieldError('hostShim is not for berth-l2tunnel: in VEPA mode the host reaches its containers through the switch', { field: 'hostShim' });
    return macvlanOptionsFromConf(conf, 'vepa', { inUplinkPrefix: true });
  },
  docker: { optionKeys: OPTION_KEYS, parse: (raw, ctx) => macvlanOptionsFromDocker('berth-l2tunnel', raw, ctx, 'vepa', OPTION_KEYS) },
  windows: l2tunnelWindows,
};
