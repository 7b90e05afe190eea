/**
 * Options of the macvlan drivers: transparent (containers as peers on the physical network,
 * macvlan in bridge mode) and l2tunnel (the same in VEPA mode: even two containers of one host
 * talk through the upstream switch). Protocol adapters translate their keys into this shape.
 */
import { InvalidConfigError } from '../../core/errors.js';

export type MacvlanDriverMode = 'bridge' | 'vepa';

export interface MacvlanOptions {
  /** The uplink the containers' macvlan interfaces hang off (CNI `master`, Docker `parent`). */
  readonly master: string;
  readonly mode: MacvlanDriverMode;
  /** MTU of the containers' interfaces; the uplink's when absent. */
  readonly mtu?: number;
  /** The containers' addresses come from the network's DHCP server (berth's client in berthd). */
  readonly dhcp: boolean;
  /**
   * A macvlan interface for the host on the same uplink, with a route to each container: the
   * kernel keeps a macvlan parent and its children apart, so without it the host cannot reach
   * its own containers. Bridge mode only.
   */
  readonly hostShim: boolean;
  /** Every container address must lie in a prefix of the uplink (l2tunnel: the host's own subnet). */
  readonly inUplinkPrefix: boolean;
  /** The MAC every container of the network gets unless the runtime asks for one (CNI `mac`). */
  readonly mac?: string;
}

const IFNAME_RE = /^[^/:\s]{1,15}$/;

export function makeMacvlanOptions(o: Partial<MacvlanOptions> & { readonly mode: MacvlanDriverMode }, fieldOf: (k: keyof MacvlanOptions) => string = (k) => k): MacvlanOptions {
  if (o.master === undefined || o.master === '') throw new InvalidConfigError(`${fieldOf('master')} is required: the uplink the containers' interfaces hang off`, { field: fieldOf('master') });
  if (!IFNAME_RE.test(o.master)) throw new InvalidConfigError(`${fieldOf('master')} ${JSON.stringify(o.master)} is not an interface name`, { field: fieldOf('master'), value: o.master });
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) {
    throw new InvalidConfigError(`${fieldOf('mtu')} ${o.mtu} is out of range (68-65535)`, { field: fieldOf('mtu'), value: String(o.mtu) });
  }
  if (o.hostShim && o.mode !== 'bridge')
    throw new InvalidConfigError(`${fieldOf('hostShim')} needs bridge mode: in VEPA mode the host reaches its containers through the switch`, { field: fieldOf('hostShim') });
  if (o.mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(o.mac))
    throw new InvalidConfigError(`${fieldOf('mac')} ${JSON.stringify(o.mac)} is not a MAC address`, { field: fieldOf('mac'), value: o.mac });
  return {
    master: o.master,
    mode: o.mode,
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    dhcp: o.dhcp ?? false,
    hostShim: o.hostShim ?? false,
    inUplinkPrefix: o.inUplinkPrefix ?? false,
    ...(o.mac !== undefined ? { mac: o.mac } : {}),
  };
}
