/**
 * The bridge driver's Docker options (plugin `berth-bridge`, and `berth network create`). Options use Docker's
 * own bridge keys where the meaning is the same (`com.docker.network.bridge.name`, ...), and
 * berth's CNI keys otherwise, so `-o` reads the same as for `docker network create -d bridge`
 * or a berth-bridge conflist. Defaults follow Docker's bridge: gateway on the bridge,
 * masquerade on (off for `--internal`), containers on one network reach each other, networks
 * are isolated from each other.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { parseBoolOption, parseIntOption, rejectUnknownOptions } from '../../core/option-values.js';
import type { OptionContext } from '../driver-module.js';
import { makeBridgeOptions, type BridgeOptions } from './bridge-options.js';

/** Each accepted key and the bridge option it sets. */
const KEYS = {
  'com.docker.network.bridge.name': 'bridge',
  bridge: 'bridge',
  'com.docker.network.driver.mtu': 'mtu',
  mtu: 'mtu',
  'com.docker.network.bridge.enable_ip_masquerade': 'ipMasq',
  ipMasq: 'ipMasq',
  'com.docker.network.bridge.enable_icc': 'icc',
  hairpinMode: 'hairpinMode',
  macspoofchk: 'macSpoofCheck',
  isolateNetworks: 'isolateFromOtherNetworks',
  // Docker 28's name: nat (default) lets only published ports in from outside, routed lets
  // routed traffic reach the containers too.
  'com.docker.network.bridge.gateway_mode_ipv4': 'inbound',
} as const;

/** The accepted `-o` keys. */
export const BRIDGE_OPTION_KEYS = Object.keys(KEYS);
const KNOWN = BRIDGE_OPTION_KEYS;

/** What a set of bridge keys said: the options, the user's key for each, and Docker's icc. */
export interface BridgeKeyValues {
  readonly options: { -readonly [K in keyof BridgeOptions]?: BridgeOptions[K] };
  readonly fieldOf: Map<keyof BridgeOptions, string>;
  readonly icc: boolean;
}

/**
 * Reads the bridge keys of `raw` (others are the caller's); shared with the nat binding,
 * whose options are the bridge's plus its own.
 */
export function readBridgeKeys(raw: Readonly<Record<string, string>>): BridgeKeyValues {
  const options: BridgeKeyValues['options'] = {};
  const fieldOf = new Map<keyof BridgeOptions, string>();
  let icc = true;
  for (const [key, value] of Object.entries(raw)) {
    const target = KEYS[key as keyof typeof KEYS];
    if (target === undefined) continue;
    switch (target) {
      case 'bridge':
        options.bridge = value;
        break;
      case 'mtu':
        options.mtu = parseIntOption(key, value, { min: 68, max: 65535 });
        break;
      case 'icc':
        icc = parseBoolOption(key, value);
        break;
      case 'inbound':
        options.inbound = parseGatewayMode(key, value);
        break;
      default:
        options[target] = parseBoolOption(key, value);
    }
    fieldOf.set(target === 'icc' ? 'portIsolation' : target, key);
  }
  return { options, fieldOf, icc };
}

function parseGatewayMode(key: string, value: string): BridgeOptions['inbound'] {
  if (value === 'nat') return 'published';
  if (value === 'routed') return 'any';
  throw new InvalidConfigError(`Option ${key}=${value} is not supported: use nat (only published ports are reachable from outside) or routed`, { field: key, value });
}

/** Translates `-o` options into bridge options. */
export function bridgeOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): BridgeOptions {
  rejectUnknownOptions('berth-bridge', raw, KNOWN);
  const { options: o, fieldOf, icc } = readBridgeKeys(raw);
  if (ctx.internal && o.ipMasq === true) {
    throw new InvalidConfigError(`Option ${fieldOf.get('ipMasq')}=true contradicts --internal: an internal network has no outside access to masquerade`, {
      field: fieldOf.get('ipMasq') ?? 'ipMasq',
      value: 'true',
    });
  }
  return makeBridgeOptions(
    ctx.networkName,
    {
      ...o,
      isGateway: ctx.hasGateway,
      // Docker installs the sandbox's routes itself (from Join's Gateway).
      isDefaultGateway: false,
      ipMasq: o.ipMasq ?? (ctx.hasGateway && !ctx.internal),
      inbound: o.inbound ?? 'published',
      // Docker's enable_icc=false: containers reach the gateway only, not each other.
      portIsolation: !icc,
    },
    (k) => fieldOf.get(k) ?? k,
  );
}
