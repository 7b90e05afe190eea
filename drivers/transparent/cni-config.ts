/**
 * berth-transparent's configuration (the reference macvlan plugin's keys where the meaning is
 * the same): `{"type": "berth-transparent", "master": "eth0", "ipam": {...}}`, optional `mtu`,
 * `mac`, `hostShim`; `"ipam": {"type": "berth-dhcp"}` leases addresses from the network's DHCP
 * server through berthd.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import { optBool, optInt, optString, type Conf } from '../../core/conf-fields.js';
import { makeMacvlanOptions, type MacvlanDriverMode, type MacvlanOptions } from './macvlan-options.js';

/** The IPAM type that means "the network's DHCP server, through berthd". */
export const DHCP_IPAM = 'berth-dhcp';

export function transparentOptionsFromConf(_name: string, conf: Conf): MacvlanOptions {
  return macvlanOptionsFromConf(conf, 'bridge');
}

/** Both macvlan drivers' keys; `mode` is the driver's, not the configuration's. */
export function macvlanOptionsFromConf(conf: Conf, mode: MacvlanDriverMode, extra: Partial<MacvlanOptions> = {}): MacvlanOptions {
  const confMode = optString(conf, 'mode');
  if (confMode !== undefined && confMode !== mode) {
    throw new UnsupportedFieldError(`mode "${confMode}" is not this plugin's: it uses macvlan ${mode} mode`, { field: 'mode', value: confMode });
  }
  const master = optString(conf, 'master');
  const mtu = optInt(conf, 'mtu', { min: 68, max: 65535 });
  const hostShim = optBool(conf, 'hostShim');
  const mac = optString(conf, 'mac')?.toLowerCase();
  const ipamType = (conf.ipam as { type?: unknown } | undefined)?.type;
  return makeMacvlanOptions({
    mode,
    ...(master !== undefined ? { master } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(hostShim !== undefined ? { hostShim } : {}),
    ...(mac !== undefined ? { mac } : {}),
    dhcp: ipamType === DHCP_IPAM,
    ...extra,
  });
}
