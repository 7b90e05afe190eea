/**
 * berth-l2bridge's configuration: `{"type": "berth-l2bridge", "master": "eth0", "ipam": {...}}`
 * with ranges inside the uplink's prefix, optional `mtu` and `outboundNat`.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import { optBool, optInt, optString, type Conf } from '../../core/conf-fields.js';
import { makeL2BridgeOptions, type L2BridgeOptions } from './l2bridge-options.js';

export function l2bridgeOptionsFromConf(_name: string, conf: Conf): L2BridgeOptions {
  // Every frame leaves with the host's MAC: a DHCP server would answer the host, not the container.
  if ((conf.ipam as { type?: unknown } | undefined)?.type === 'berth-dhcp') {
    throw new UnsupportedFieldError("berth-l2bridge addresses are static, in the host's subnet (its frames carry the host's MAC, which DHCP cannot serve): use an IPAM such as berth-ipam", {
      field: 'ipam.type',
      value: 'berth-dhcp',
    });
  }
  const master = optString(conf, 'master');
  const mtu = optInt(conf, 'mtu', { min: 68, max: 65535 });
  const outboundNat = optBool(conf, 'outboundNat');
  return makeL2BridgeOptions({ ...(master !== undefined ? { master } : {}), ...(mtu !== undefined ? { mtu } : {}), ...(outboundNat !== undefined ? { outboundNat } : {}) });
}
