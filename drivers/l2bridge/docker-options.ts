/**
 * berth-l2bridge's Docker options: `docker network create -d berth-l2bridge --ipam-driver berth
 * --subnet <the host's prefix> --gateway <the LAN's router> -o parent=eth0 [-o outbound_nat=true]
 * [-o mtu=N] n`.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { parseBoolOption, parseIntOption, rejectUnknownOptions } from '../../core/option-values.js';
import type { OptionContext } from '../driver-module.js';
import { makeL2BridgeOptions, type L2BridgeOptions } from './l2bridge-options.js';

const MTU_KEY = 'com.docker.network.driver.mtu';
export const L2BRIDGE_OPTION_KEYS = ['parent', 'outbound_nat', 'mtu', MTU_KEY];

export function l2bridgeOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): L2BridgeOptions {
  rejectUnknownOptions('berth-l2bridge', raw, L2BRIDGE_OPTION_KEYS);
  if (raw.parent === undefined)
    throw new InvalidConfigError(`berth-l2bridge network ${ctx.networkName} needs -o parent=<uplink>: the interface whose subnet the containers share`, { field: 'parent' });
  if (ctx.internal) {
    throw new InvalidConfigError(`berth-l2bridge network ${ctx.networkName} cannot be --internal: its containers are hosts of the uplink's LAN`, { field: 'internal' });
  }
  if (!ctx.hasGateway) {
    throw new InvalidConfigError(`berth-l2bridge network ${ctx.networkName} needs --subnet (the host's prefix) and --gateway (the LAN's router): its addresses are static`, { field: 'subnet' });
  }
  const mtuText = raw.mtu ?? raw[MTU_KEY];
  return makeL2BridgeOptions(
    {
      master: raw.parent,
      ...(mtuText !== undefined ? { mtu: parseIntOption(raw.mtu !== undefined ? 'mtu' : MTU_KEY, mtuText, { min: 68, max: 65535 }) } : {}),
      ...(raw.outbound_nat !== undefined ? { outboundNat: parseBoolOption('outbound_nat', raw.outbound_nat) } : {}),
    },
    (k) => (k === 'master' ? 'parent' : k === 'outboundNat' ? 'outbound_nat' : k),
  );
}
