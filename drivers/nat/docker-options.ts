/**
 * The nat driver's Docker options (plugin `berth-nat`, and `berth network create`). Options are the bridge
 * binding's keys (Docker's own bridge keys, or berth's CNI keys) minus masquerade, which the
 * NAT instance always does, plus `loopback` (published ports answer on the host's own
 * addresses and from the network's containers; off by default, as on Windows).
 */
import { InvalidConfigError } from '../../core/errors.js';
import { parseBoolOption, rejectUnknownOptions } from '../../core/option-values.js';
import { BRIDGE_OPTION_KEYS, readBridgeKeys } from '../bridge/docker-options.js';
import type { OptionContext } from '../driver-module.js';
import { makeNatOptions, type NatOptions, type NatOptionsInput } from './nat-options.js';

/** The bridge binding's keys without masquerade (the NAT instance always does it), plus `loopback`. */
const MASQUERADE_KEYS = ['com.docker.network.bridge.enable_ip_masquerade', 'ipMasq'];
export const NAT_OPTION_KEYS = [...BRIDGE_OPTION_KEYS.filter((k) => !MASQUERADE_KEYS.includes(k)), 'loopback'];

/** Translates `-o` options into nat options. */
export function natOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): NatOptions {
  rejectUnknownOptions('berth-nat', raw, NAT_OPTION_KEYS);
  if (ctx.internal) {
    throw new InvalidConfigError('A berth-nat network cannot be --internal: its NAT instance gives outside access; use berth-bridge for an internal network', { field: 'internal', value: 'true' });
  }
  if (!ctx.hasGateway) {
    throw new InvalidConfigError("A berth-nat network needs a gateway: the bridge holds it as the NAT instance's internal address", { field: 'gateway' });
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
