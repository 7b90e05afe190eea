/**
 * Options of the nat driver: the bridge driver's, for the bridge its endpoints hang off, and
 * WinNAT's `loopback`. Protocol adapters translate their own keys into this shape; defaults
 * live here only.
 */
import { makeBridgeOptions, type BridgeOptions } from '../bridge/index.js';

export interface NatOptions {
  /**
   * The network's bridge, as the bridge driver sets it up, with two settings fixed: the
   * gateway is always on the bridge (`isGateway`: the bridge is WinNAT's internal vNIC), and
   * the bridge driver's masquerade is off (`ipMasq`: the NAT instance does it). Sandboxes get
   * a default route via the gateway unless `isDefaultGateway` is false.
   */
  readonly bridge: BridgeOptions;
  /**
   * false (the default) keeps Windows' rule: the host reaches a container by the container's
   * address, not through a port published on its own address, and containers do not reach
   * each other through published ports. true lifts it: published ports answer on the host's
   * addresses and 127.0.0.1 from the host itself, and through the host's address from the
   * network's own containers (hairpin; it turns the bridge's `hairpinMode` on unless that
   * is set). Windows cannot do this.
   */
  readonly loopback: boolean;
}

/** What callers may set: the bridge options and `loopback`, each defaulted by makeNatOptions. */
export type NatOptionsInput = Partial<BridgeOptions> & { readonly loopback?: boolean };

/** Fills defaults and checks combinations; `field` names are the caller's own keys. */
export function makeNatOptions(network: string, o: NatOptionsInput, fieldOf: (k: keyof BridgeOptions) => string = (k) => k): NatOptions {
  const { loopback = false, ...bridge } = o;
  return {
    bridge: makeBridgeOptions(
      network,
      {
        ...bridge,
        isDefaultGateway: bridge.isDefaultGateway ?? true,
        isGateway: true,
        ipMasq: false,
        // br_netfilter bridges a DNATed packet whose new destination is on the bridge it came
        // from, so a container reaching its own published port needs hairpin on its port.
        hairpinMode: bridge.hairpinMode ?? loopback,
      },
      fieldOf,
    ),
    loopback,
  };
}
