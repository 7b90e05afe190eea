/**
 * Options of the l2bridge driver: containers in the host's own subnet, each frame on the wire
 * with the host's MAC. The CNI configuration and Docker's `-o` options translate into this
 * shape; defaults and checks live here only.
 */
import { InvalidConfigError } from '../../core/errors.js';

export interface L2BridgeOptions {
  /** The uplink whose prefixes the containers' addresses belong to (CNI `master`, Docker `parent`). */
  readonly master: string;
  /** MTU of the containers' veth pairs; the uplink's when absent. */
  readonly mtu?: number;
  /**
   * Masquerade the containers' traffic to destinations outside the uplink's prefixes behind
   * the host's address (HNS's OutboundNAT, `enable_outboundnat`). Within the prefixes the
   * containers speak with their own addresses.
   */
  readonly outboundNat: boolean;
}

const IFNAME_RE = /^[^/:\s]{1,15}$/;

export function makeL2BridgeOptions(o: Partial<L2BridgeOptions>, fieldOf: (k: keyof L2BridgeOptions) => string = (k) => k): L2BridgeOptions {
  if (o.master === undefined || o.master === '') {
    throw new InvalidConfigError(`${fieldOf('master')} is required: the uplink whose subnet the containers share`, { field: fieldOf('master') });
  }
  if (!IFNAME_RE.test(o.master) || o.master === '.' || o.master === '..') {
    throw new InvalidConfigError(`${fieldOf('master')} ${JSON.stringify(o.master)} is not an interface name`, { field: fieldOf('master'), value: o.master });
  }
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) {
    throw new InvalidConfigError(`${fieldOf('mtu')} ${o.mtu} is out of range (68-65535)`, { field: fieldOf('mtu'), value: String(o.mtu) });
  }
  return { master: o.master, ...(o.mtu !== undefined ? { mtu: o.mtu } : {}), outboundNat: o.outboundNat ?? false };
}
