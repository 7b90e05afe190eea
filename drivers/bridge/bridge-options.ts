/**
 * Options of the bridge driver: what a bridge network means. Protocol adapters translate
 * their own keys (CNI config, Docker `-o`) into this shape; defaults live here only.
 */
import { InvalidConfigError } from '../../core/errors.js';
import type { IpPrefix } from '../../core/ip.js';
import { stableHash } from '../../core/stable-hash.js';

export interface BridgeOptions {
  /** Name of the Linux bridge. Default: derived from the network name (`bn-<name>` or a hash). */
  readonly bridge: string;
  /** Put the gateway address on the bridge and enable forwarding. Default false. */
  readonly isGateway: boolean;
  /** Also add a default route via the gateway in the sandbox (implies isGateway). Default false. */
  readonly isDefaultGateway: boolean;
  /** Replace a different address already on the bridge instead of failing. Default false. */
  readonly forceAddress: boolean;
  /** Masquerade traffic from the network's subnets to anywhere outside them. Default false. */
  readonly ipMasq: boolean;
  /**
   * Destinations never masqueraded besides the network's own subnets (an overlay's cluster
   * subnet: pods keep their address across hosts). Default none.
   */
  readonly ipMasqExempt: readonly IpPrefix[];
  /** MTU of the bridge and both veth ends; kernel default when absent. */
  readonly mtu?: number;
  /** Let a pod reach itself through the bridge (hairpin on its port). Default false. */
  readonly hairpinMode: boolean;
  /** Put the bridge in promiscuous mode. Default false. Exclusive with hairpinMode. */
  readonly promiscMode: boolean;
  /** Drop frames from a pod whose source MAC or IP is not its own. Default false. */
  readonly macSpoofCheck: boolean;
  /** Keep IPv6 duplicate address detection on the sandbox interface. Default false. */
  readonly enableDad: boolean;
  /** Kernel bridge port isolation: pods reach only the gateway, not each other. Default false. */
  readonly portIsolation: boolean;
  /** Drop traffic between this network's bridge and other berth bridges. Default true. */
  readonly isolateFromOtherNetworks: boolean;
  /**
   * Who may open connections to the endpoints from outside the network: 'any' (routed
   * traffic too, the CNI default: pods are addressable) or 'published' (only through
   * published ports, Docker's bridge semantics and Windows NAT's). Default 'any'.
   */
  readonly inbound: 'any' | 'published';
  /** Leave the sandbox interface down (L2 only, no addresses). Default false. */
  readonly disableContainerInterface: boolean;
}

const IFNAME_RE = /^[^/:\s]{1,15}$/;

/** The default bridge name for a network: readable when short, hashed when not. */
export function defaultBridgeName(network: string): string {
  const readable = `bn-${network}`;
  if (readable.length <= 15 && IFNAME_RE.test(readable)) return readable;
  return `bn-${stableHash(network, 12)}`;
}

/** Fills defaults and checks combinations; `field` names are the caller's own keys. */
export function makeBridgeOptions(network: string, o: Partial<BridgeOptions>, fieldOf: (k: keyof BridgeOptions) => string = (k) => k): BridgeOptions {
  const bridge = o.bridge ?? defaultBridgeName(network);
  if (!IFNAME_RE.test(bridge) || bridge === '.' || bridge === '..') {
    throw new InvalidConfigError(`${fieldOf('bridge')} ${JSON.stringify(bridge)} is not a valid interface name (1-15 characters, no "/", ":" or spaces)`, { field: fieldOf('bridge'), value: bridge });
  }
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) {
    throw new InvalidConfigError(`${fieldOf('mtu')} ${o.mtu} is out of range (68-65535)`, { field: fieldOf('mtu'), value: String(o.mtu) });
  }
  const isDefaultGateway = o.isDefaultGateway ?? false;
  const hairpinMode = o.hairpinMode ?? false;
  const promiscMode = o.promiscMode ?? false;
  if (hairpinMode && promiscMode) {
    throw new InvalidConfigError(`${fieldOf('hairpinMode')} and ${fieldOf('promiscMode')} cannot both be true`, { field: fieldOf('promiscMode'), value: 'true' });
  }
  return {
    bridge,
    isGateway: (o.isGateway ?? false) || isDefaultGateway,
    isDefaultGateway,
    forceAddress: o.forceAddress ?? false,
    ipMasq: o.ipMasq ?? false,
    ipMasqExempt: o.ipMasqExempt ?? [],
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    hairpinMode,
    promiscMode,
    macSpoofCheck: o.macSpoofCheck ?? false,
    enableDad: o.enableDad ?? false,
    portIsolation: o.portIsolation ?? false,
    isolateFromOtherNetworks: o.isolateFromOtherNetworks ?? true,
    inbound: o.inbound ?? 'any',
    disableContainerInterface: o.disableContainerInterface ?? false,
  };
}
