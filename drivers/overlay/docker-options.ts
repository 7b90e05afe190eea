/**
 * The overlay driver's Docker options (`docker network create -d berth-overlay --ipam-driver
 * berth --subnet 10.30.0.0/24 -o vni=4300 NAME`, on every host's engine). The subnet is the
 * network's own (one subnet across hosts), so it is not an option.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { parseBoolOption, parseIntOption, rejectUnknownOptions } from '../../core/option-values.js';
import type { OptionContext } from '../driver-module.js';
import { makeOverlayOptions, type OverlayOptions } from './overlay-options.js';

const MTU_KEY = 'com.docker.network.driver.mtu';
export const OVERLAY_OPTION_KEYS = ['vni', 'port', 'mode', 'mtu', MTU_KEY, 'ipmasq'];

export function overlayOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): OverlayOptions {
  rejectUnknownOptions('berth-overlay', raw, OVERLAY_OPTION_KEYS);
  if (raw.vni === undefined) {
    throw new InvalidConfigError(`berth-overlay network ${ctx.networkName} needs -o vni=N (1 to 16777215): the same on every host's engine, it binds them into one cluster network`, { field: 'vni' });
  }
  const mtuText = raw.mtu ?? raw[MTU_KEY];
  const ipMasq = raw.ipmasq !== undefined ? parseBoolOption('ipmasq', raw.ipmasq) : false;
  if (ctx.internal && ipMasq) throw new InvalidConfigError('An --internal berth-overlay network cannot masquerade (-o ipmasq=true)', { field: 'ipmasq', value: raw.ipmasq ?? '' });
  return makeOverlayOptions(
    ctx.networkName,
    {
      addressing: 'shared',
      vni: parseIntOption('vni', raw.vni, { min: 1, max: 0xffffff }),
      ...(raw.port !== undefined ? { port: parseIntOption('port', raw.port, { min: 1, max: 65535 }) } : {}),
      ...(mtuText !== undefined ? { mtu: parseIntOption(raw.mtu !== undefined ? 'mtu' : MTU_KEY, mtuText, { min: 576, max: 65535 }) } : {}),
      ...(raw.mode !== undefined ? { mode: raw.mode } : {}),
      ipMasq,
    },
    (k) => (k === 'ipMasq' ? 'ipmasq' : k),
  );
}
