/**
 * berth-overlay's configuration (flannel's keys where the meaning is the same):
 * `{"type": "berth-overlay", "subnet": "10.244.0.0/16", "subnetLen": 24, "vni": 4242,
 * "ipMasq": true}`, optional `mtu`, `port` and `mode`. No `ipam`: each node gives its pods
 * addresses from the block it leases.
 */
import { InvalidConfigError, UnsupportedFieldError } from '../../core/errors.js';
import { IpParseError, IpPrefix } from '../../core/ip.js';
import { optBool, optInt, optString, type Conf } from '../../core/conf-fields.js';
import { makeOverlayOptions, type OverlayOptions } from './overlay-options.js';

export function overlayOptionsFromConf(name: string, conf: Conf): OverlayOptions {
  if (conf.ipam !== undefined) {
    throw new UnsupportedFieldError('berth-overlay gives pods addresses from the block this node leases of "subnet": remove the ipam section', { field: 'ipam', value: JSON.stringify(conf.ipam) });
  }
  const text = optString(conf, 'subnet');
  let subnet: IpPrefix | undefined;
  if (text !== undefined) {
    try {
      subnet = IpPrefix.parse(text);
    } catch (err) {
      if (!(err instanceof IpParseError)) throw err;
      throw new InvalidConfigError(`subnet ${JSON.stringify(text)} is not a CIDR: ${err.message}`, { field: 'subnet', value: text });
    }
  }
  const subnetLen = optInt(conf, 'subnetLen', { min: 1, max: 32 });
  const vni = optInt(conf, 'vni', { min: 1, max: 0xffffff });
  const port = optInt(conf, 'port', { min: 1, max: 65535 });
  const mtu = optInt(conf, 'mtu', { min: 576, max: 65535 });
  const ipMasq = optBool(conf, 'ipMasq');
  const mode = optString(conf, 'mode');
  return makeOverlayOptions(name, {
    addressing: 'node-block',
    ...(subnet ? { subnet } : {}),
    ...(subnetLen !== undefined ? { subnetLen } : {}),
    ...(vni !== undefined ? { vni } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    ...(ipMasq !== undefined ? { ipMasq } : {}),
    ...(mode !== undefined ? { mode } : {}),
  });
}
