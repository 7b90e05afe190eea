/**
 * The nat driver as berthd serves it: Docker plugin `berth-nat`. Options are the bridge
 * binding's keys (Docker's own bridge keys, or berth's CNI keys) minus masquerade, which the
 * NAT instance always does, plus `loopback` (published ports answer on the host's own
 * addresses and from the network's containers; off by default, as on Windows).
 */
import { InvalidConfigError } from '../../core/errors.js';
import type { BridgeOptions } from '../../drivers/bridge/index.js';
import { makeNatOptions, type NatDriver, type NatOptions, type NatOptionsInput } from '../../drivers/nat/index.js';
import type { DriverBinding, OptionContext } from './binding.js';
import { parseBoolOption, parseIntOption, rejectUnknownOptions } from './option-values.js';

/** Each accepted key and the option it sets. */
const KEYS = {
  'com.docker.network.bridge.name': 'bridge',
  bridge: 'bridge',
  'com.docker.network.driver.mtu': 'mtu',
  mtu: 'mtu',
  'com.docker.network.bridge.enable_icc': 'icc',
  hairpinMode: 'hairpinMode',
  macspoofchk: 'macSpoofCheck',
  isolateNetworks: 'isolateFromOtherNetworks',
  loopback: 'loopback',
} as const;

const KNOWN = Object.keys(KEYS);

/** Translates `-o` options into nat options. */
export function natOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): NatOptions {
  rejectUnknownOptions('berth-nat', raw, KNOWN);
  if (ctx.internal) {
    throw new InvalidConfigError('A berth-nat network cannot be --internal: its NAT instance gives outside access; use berth-bridge for an internal network', { field: 'internal', value: 'true' });
  }
  if (!ctx.hasGateway) {
    throw new InvalidConfigError('A berth-nat network needs a gateway: the bridge holds it as the NAT instance\'s internal address', { field: 'gateway' });
  }
  const o: { -readonly [K in keyof NatOptionsInput]?: NatOptionsInput[K] } = {};
  const fieldOf = new Map<keyof BridgeOptions, string>();
  let icc = true;
  for (const [key, value] of Object.entries(raw)) {
    const target = KEYS[key as keyof typeof KEYS];
    switch (target) {
      case 'bridge':
        o.bridge = value;
        break;
      case 'mtu':
        o.mtu = parseIntOption(key, value, { min: 68, max: 65535 });
        break;
      case 'icc':
        icc = parseBoolOption(key, value);
        break;
      case 'loopback':
        o.loopback = parseBoolOption(key, value);
        break;
      default:
        o[target] = parseBoolOption(key, value);
    }
    if (target !== 'loopback') fieldOf.set(target === 'icc' ? 'portIsolation' : target, key);
  }
  return makeNatOptions(
    ctx.networkName,
    {
      ...o,
      // Docker installs the sandbox's routes itself (from Join's Gateway).
      isDefaultGateway: false,
      portIsolation: !icc,
    },
    (k) => fieldOf.get(k) ?? k,
  );
}

export function natBinding(impl: NatDriver): DriverBinding<NatOptions> {
  return {
    driver: 'nat',
    pluginName: 'berth-nat',
    impl,
    optionKeys: KNOWN,
    parseOptions: natOptionsFromDocker,
    restoreEndpoint: (net, ep) => impl.restoreEndpoint(net, ep),
  };
}
