/**
 * berth-bridge's configuration: the reference bridge plugin's keys where the meaning is
 * the same, translated into the bridge driver's options.
 */
import { UnsupportedFieldError } from '../../core/errors.js';
import { makeBridgeOptions, type BridgeOptions } from './bridge-options.js';
import { optBool, optInt, optString, type Conf } from '../../core/conf-fields.js';

/** CNI key → driver option, for error messages that name the user's key. */
const KEY_OF: Partial<Record<keyof BridgeOptions, string>> = {
  macSpoofCheck: 'macspoofchk',
  enableDad: 'enabledad',
  isolateFromOtherNetworks: 'isolateNetworks',
};

export function bridgeOptionsFromConf(name: string, conf: Conf): BridgeOptions {
  return makeBridgeOptions(name, bridgeOptionsInput(conf), bridgeKeyOf);
}

/** The CNI key that sets a bridge driver option, for messages. */
export function bridgeKeyOf(k: keyof BridgeOptions): string {
  return KEY_OF[k] ?? k;
}

/** The bridge driver options a configuration sets (type-checked, not yet defaulted). */
export function bridgeOptionsInput(conf: Conf): Partial<BridgeOptions> {
  const vlan = optInt(conf, 'vlan', { min: 0, max: 4094 });
  if (vlan) throw new UnsupportedFieldError(`vlan ${vlan} is not supported: berth bridges do no VLAN filtering`, { field: 'vlan', value: String(vlan) });
  if (conf.vlanTrunk !== undefined) throw new UnsupportedFieldError('vlanTrunk is not supported: berth bridges do no VLAN filtering', { field: 'vlanTrunk', value: JSON.stringify(conf.vlanTrunk) });
  const backend = optString(conf, 'ipMasqBackend');
  if (backend !== undefined && backend !== 'nftables') {
    throw new UnsupportedFieldError(`ipMasqBackend "${backend}" is not supported: berth masquerades with nftables only`, { field: 'ipMasqBackend', value: backend });
  }
  const o: { -readonly [K in keyof BridgeOptions]?: BridgeOptions[K] } = {};
  const set = <K extends keyof BridgeOptions>(k: K, v: BridgeOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('bridge', optString(conf, 'bridge'));
  set('isGateway', optBool(conf, 'isGateway'));
  set('isDefaultGateway', optBool(conf, 'isDefaultGateway'));
  set('forceAddress', optBool(conf, 'forceAddress'));
  set('ipMasq', optBool(conf, 'ipMasq'));
  set('mtu', optInt(conf, 'mtu', { min: 68, max: 65535 }));
  set('hairpinMode', optBool(conf, 'hairpinMode'));
  set('promiscMode', optBool(conf, 'promiscMode'));
  set('macSpoofCheck', optBool(conf, 'macspoofchk'));
  set('enableDad', optBool(conf, 'enabledad'));
  set('portIsolation', optBool(conf, 'portIsolation'));
  set('isolateFromOtherNetworks', optBool(conf, 'isolateNetworks'));
  set('disableContainerInterface', optBool(conf, 'disableContainerInterface'));
  return o;
}
