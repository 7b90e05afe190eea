/**
 * berth-transparent's Docker options (`docker network create -d berth-transparent --subnet
 * 192.168.1.0/24 --gateway 192.168.1.1 -o parent=eth0 n`): Docker's macvlan keys. Without a
 * subnet (`--ipam-driver null`), the containers lease their addresses by DHCP.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { parseBoolOption, parseIntOption, rejectUnknownOptions } from '../../core/option-values.js';
import type { OptionContext } from '../driver-module.js';
import { makeMacvlanOptions, type MacvlanDriverMode, type MacvlanOptions } from './macvlan-options.js';

const MTU_KEY = 'com.docker.network.driver.mtu';
export const TRANSPARENT_OPTION_KEYS = ['parent', 'mtu', MTU_KEY, 'host_shim'];

export function transparentOptionsFromDocker(raw: Readonly<Record<string, string>>, ctx: OptionContext): MacvlanOptions {
  return macvlanOptionsFromDocker('berth-transparent', raw, ctx, 'bridge', TRANSPARENT_OPTION_KEYS);
}

export function macvlanOptionsFromDocker(plugin: string, raw: Readonly<Record<string, string>>, ctx: OptionContext, mode: MacvlanDriverMode, keys: readonly string[]): MacvlanOptions {
  rejectUnknownOptions(plugin, raw, keys);
  if (raw.parent === undefined) throw new InvalidConfigError(`${plugin} network ${ctx.networkName} needs -o parent=<uplink>: the interface its containers hang off`, { field: 'parent' });
  // No subnet (`--ipam-driver null`): the containers lease their addresses from the LAN's DHCP server.
  const dhcp = !ctx.hasSubnet && mode === 'bridge';
  if (!ctx.hasSubnet && !dhcp) {
    throw new InvalidConfigError(`${plugin} network ${ctx.networkName} needs --subnet (the host's own subnet) and --gateway: its containers have static addresses`, { field: 'subnet' });
  }
  if (ctx.hasSubnet && !ctx.hasGateway && !ctx.internal) {
    // Docker's IPAM always gives a gateway for a subnet; none means a network without a router.
    throw new InvalidConfigError(`${plugin} network ${ctx.networkName} needs --gateway (the LAN's router) with --subnet, or no subnet at all (--ipam-driver null) to lease addresses by DHCP`, {
      field: 'gateway',
    });
  }
  const mtuText = raw.mtu ?? raw[MTU_KEY];
  return makeMacvlanOptions(
    {
      mode,
      master: raw.parent,
      ...(mtuText !== undefined ? { mtu: parseIntOption(raw.mtu !== undefined ? 'mtu' : MTU_KEY, mtuText, { min: 68, max: 65535 }) } : {}),
      ...(raw.host_shim !== undefined ? { hostShim: parseBoolOption('host_shim', raw.host_shim) } : {}),
      inUplinkPrefix: mode === 'vepa',
      dhcp,
    },
    (k) => (k === 'master' ? 'parent' : k === 'hostShim' ? 'host_shim' : k),
  );
}
