/**
 * berth-nat: CNI commands translated into calls on the nat driver: a bridge network behind
 * a WinNAT instance, with the `portMappings` capability.
 */
import { createLinuxNatDriver, type NatOptions } from '../../drivers/nat/index.js';
import { parsePortMappings } from '../port-mappings.js';
import type { PluginHandlers } from '../skel.js';
import { driverPerRunDir, driverPlugin } from './driver-plugin.js';
import { natOptionsFromConf } from './nat-config.js';

/** berth-nat's command handlers. */
export const natPlugin: PluginHandlers = driverPlugin<NatOptions>({
  name: 'berth-nat',
  about: 'berth-nat: a bridge network masqueraded behind the host, with published ports, as Windows NAT (berth)',
  options: (req) => natOptionsFromConf(req.name, req.conf),
  driver: driverPerRunDir((runDir) => createLinuxNatDriver({ runDir })),
  portMappings: (req) => parsePortMappings(req.runtimeConfig, { protocols: ['tcp', 'udp'], families: [4] }),
});
