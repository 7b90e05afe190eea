/**
 * The nat driver as berthd serves it: Docker plugin `berth-nat`. Options are the bridge
 * binding's keys (Docker's own bridge keys, or berth's CNI keys) minus masquerade, which the
 * NAT instance always does, plus `loopback` (published ports answer on the host's own
 * addresses and from the network's containers; off by default, as on Windows).
 */
import { InvalidConfigError } from '../../core/errors.js';
import { makeNatOptions, type NatDriver, type NatOptions, type NatOptionsInput } from '../../drivers/nat/index.js';
import type { DriverBinding, OptionContext } from './binding.js';
import { BRIDGE_OPTION_KEYS, readBridgeKeys } from './bridge-binding.js';
import { parseBoolOption, rejectUnknownOptions } from './option-values.js';

/** The bridge binding's keys without masquerade (the NAT instance always does it), plus `loopback`. */
const MASQUERADE_KEYS = ['com.docker.network.bridge.enable_ip_masquerade', 'ipMasq'];
const KNOWN = [...BRIDGE_OPTION_KEYS.filter((k) => !MASQUERADE_KEYS.includes(k)), 'loopback'];

/** Translates `-o` options into nat options. */
export function natOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): NatOptions {
  rejectUnknownOptions('berth-nat', raw, KNOWN);
  if (ctx.internal) {
    throw new InvalidConfigError('A berth-nat network cannot be --internal: its NAT instance gives outside access; use berth-bridge for an internal network', { field: 'internal', value: 'true' });
  }
  if (!ctx.hasGateway) {
    throw new InvalidConfigError('A berth-nat network needs a gateway: the bridge holds it as the NAT instance\'s internal address', { field: 'gateway' });
  }
  const { options, fieldOf, icc } = readBridgeKeys(raw);
  const o: { -readonly [K in keyof NatOptionsInput]?: NatOptionsInput[K] } = { ...options };
  if (raw.loopback !== undefined) o.loopback = parseBoolOption('loopback', raw.loopback);
  return makeNatOptions(
    ctx.networkName,
    {
      ...o,
      // Docker installs the sandbox's routes itself (from Join's Gateway).
      isDefaultGateway: false,
      portIsolation: !icc,
      // Windows NAT and Docker: from outside, only published ports reach the containers.
      inbound: o.inbound ?? 'published',
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
