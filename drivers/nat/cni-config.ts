/**
 * berth-nat's configuration: berth-bridge's keys for the network's bridge, plus `loopback`,
 * translated into the nat driver's options.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { makeNatOptions, type NatOptions } from './nat-options.js';
import { optBool, type Conf } from '../../core/conf-fields.js';
import { bridgeKeyOf, bridgeOptionsInput } from '../bridge/cni-config.js';

/** The nat driver's options from a berth-nat configuration; errors name the configuration's keys. */
export function natOptionsFromConf(name: string, conf: Conf): NatOptions {
  const input = bridgeOptionsInput(conf);
  // A nat network's bridge is WinNAT's internal interface: it always holds the gateway, and
  // the NAT instance, not the bridge, masquerades. Saying otherwise is a mistake to report.
  if (input.isGateway === false) throw new InvalidConfigError('isGateway cannot be false for berth-nat: the bridge always holds the gateway of a nat network', { field: 'isGateway', value: 'false' });
  if (input.ipMasq === false) throw new InvalidConfigError('ipMasq cannot be false for berth-nat: a nat network always masquerades its subnet', { field: 'ipMasq', value: 'false' });
  const loopback = optBool(conf, 'loopback');
  return makeNatOptions(name, { ...input, ...(loopback !== undefined ? { loopback } : {}) }, bridgeKeyOf);
}
