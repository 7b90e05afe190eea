/**
 * Options of the overlay driver: what an overlay network means. The CNI face (a subnet per
 * node, flannel's model) and the Docker face (one subnet across hosts, Docker's model) both
 * translate into this shape; defaults and checks live here only.
 */
import { InvalidConfigError } from '../../core/errors.js';
import type { IpPrefix } from '../../core/ip.js';

/** IANA's VXLAN port (the kernel's own default, 8472, predates it; Windows and Docker use 4789). */
export const DEFAULT_VXLAN_PORT = 4789;
/** What VXLAN over IPv4 adds to every packet: outer IP 20, UDP 8, VXLAN 8, inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

/**
 * How a remote node's pods are reached: `vxlan` always encapsulates; `routed` routes each
 * remote block via the node's underlay address (flannel's host-gw), which needs every node on
 * one underlay subnet; `auto` routes to peers on the same underlay subnet and encapsulates to
 * the others (flannel's DirectRouting).
 */
export type OverlayMode = 'vxlan' | 'routed' | 'auto';

/**
 * Who gives the pods' addresses: `node-block`, this node from the block it leases (CNI); or
 * `shared`, Docker's IPAM from the one cluster-wide subnet (`--ipam-driver berth`).
 */
export type OverlayAddressing = 'node-block' | 'shared';

export interface OverlayOptions {
  /** The cluster subnet (`10.244.0.0/16`); Docker networks take it from the network's subnet. */
  readonly subnet?: IpPrefix;
  /** Prefix length of each node's block (`node-block` addressing). */
  readonly subnetLen: number;
  readonly addressing: OverlayAddressing;
  /** VXLAN network identifier, 1 to 16777215 (Windows hosts need 4096 or more). */
  readonly vni: number;
  /** UDP destination port of the VXLAN packets. */
  readonly port: number;
  /** MTU of the VXLAN device, the bridge and the pods; default: the underlay's MTU minus 50. */
  readonly mtu?: number;
  /** Masquerade traffic from the pods to anything outside the cluster subnet. */
  readonly ipMasq: boolean;
  readonly mode: OverlayMode;
  /** The Linux bridge the pods hang off, and the VXLAN device: named by the VNI, so one per VNI per host. */
  readonly bridge: string;
  readonly device: string;
}

export interface OverlayOptionsInput {
  readonly subnet?: IpPrefix;
  readonly subnetLen?: number;
  readonly addressing: OverlayAddressing;
  readonly vni?: number;
  readonly port?: number;
  readonly mtu?: number;
  readonly ipMasq?: boolean;
  readonly mode?: string;
}

const MODES: readonly OverlayMode[] = ['vxlan', 'routed', 'auto'];

/** Fills defaults and checks combinations; `fieldOf` gives the caller's own key for messages. */
export function makeOverlayOptions(network: string, o: OverlayOptionsInput, fieldOf: (k: keyof OverlayOptionsInput) => string = (k) => k): OverlayOptions {
  const bad = (k: keyof OverlayOptionsInput, value: unknown, why: string) =>
    new InvalidConfigError(`overlay network ${network}: ${fieldOf(k)} ${JSON.stringify(value)} ${why}`, { field: fieldOf(k), value: String(value) });
  if (o.vni === undefined) throw new InvalidConfigError(`overlay network ${network} needs ${fieldOf('vni')} (1 to 16777215; 4096 or more if Windows hosts join)`, { field: fieldOf('vni') });
  if (!Number.isInteger(o.vni) || o.vni < 1 || o.vni > 0xffffff) throw bad('vni', o.vni, 'is not a VXLAN network identifier (1 to 16777215)');
  const port = o.port ?? DEFAULT_VXLAN_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad('port', port, 'is not a UDP port (1 to 65535)');
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 576 || o.mtu > 65535)) throw bad('mtu', o.mtu, 'is out of range (576 to 65535)');
  const mode = (o.mode ?? 'vxlan') as OverlayMode;
  if (!MODES.includes(mode)) throw bad('mode', o.mode, `is not one of ${MODES.join(', ')}`);

  let subnetLen = o.subnetLen ?? 24;
  if (o.addressing === 'node-block') {
    if (!o.subnet) throw new InvalidConfigError(`overlay network ${network} needs ${fieldOf('subnet')}: the cluster subnet the nodes' blocks are leased from`, { field: fieldOf('subnet') });
    if (o.subnet.family !== 4) throw bad('subnet', o.subnet.toString(), 'is not IPv4: berth overlays carry IPv4 pods');
    if (!Number.isInteger(subnetLen) || subnetLen <= o.subnet.length || subnetLen > 30) {
      throw bad('subnetLen', subnetLen, `must be longer than the subnet's /${o.subnet.length} and at most 30`);
    }
  } else {
    if (o.subnet && o.subnet.family !== 4) throw bad('subnet', o.subnet.toString(), 'is not IPv4: berth overlays carry IPv4 containers');
    subnetLen = o.subnet?.length ?? 0;
  }
  return {
    ...(o.subnet ? { subnet: o.subnet } : {}),
    subnetLen,
    addressing: o.addressing,
    vni: o.vni,
    port,
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    ipMasq: o.ipMasq ?? false,
    mode,
    bridge: `bov-${o.vni}`,
    device: `bvx-${o.vni}`,
  };
}
