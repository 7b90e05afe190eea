/**
 * The VXLAN device of an overlay network on one host (its VTEP): its MAC, MTU and the netlink
 * spec that creates it, and whether an existing device can be kept.
 *
 * The MAC is derived from the node name and the VNI, not random: a device re-created after a
 * reboot or a crash gets the same MAC, so peers' FDB and neighbour entries stay right (flannel
 * stored a random MAC and peers kept stale entries when it changed). Setting it in the create
 * request also wins the race against udev's MACAddressPolicy=persistent.
 */
import { stableHash } from '../../core/stable-hash.js';
import type { IpAddress } from '../../core/ip.js';
import type { LinkInfo, LinkSpec } from '../../dataplane/linux/ports.js';
import { VXLAN_OVERHEAD, type OverlayOptions } from './overlay-options.js';

/** A locally administered unicast MAC (first octet 0x0e) from the node and the VNI. */
export function vtepMacFor(node: string, vni: number): string {
  const hex = stableHash(`vtep ${node} ${vni}`, 10);
  return ['0e', ...(hex.match(/../g) ?? [])].join(':');
}

/** The MTU of the device, the bridge and the pods: the option, else the underlay's minus the VXLAN overhead. */
export function overlayMtu(o: OverlayOptions, underlayMtu: number): number {
  return o.mtu ?? underlayMtu - VXLAN_OVERHEAD;
}

export interface VtepDevice {
  readonly options: OverlayOptions;
  readonly mac: string;
  readonly local: IpAddress;
  /** The underlay link that holds `local` (IFLA_VXLAN_LINK): the outer packets leave through it. */
  readonly parent: LinkInfo;
  readonly mtu: number;
}

/** `ip link add bvx-N type vxlan id N local IP dev UPLINK dstport P nolearning address MAC mtu M`. */
export function vtepLinkSpec(d: VtepDevice): LinkSpec {
  return { kind: 'vxlan', name: d.options.device, vni: d.options.vni, port: d.options.port, local: d.local, parent: d.parent.index, learning: false, mac: d.mac, mtu: d.mtu, up: true };
}

/**
 * Why an existing device cannot serve (its VNI, port and local address cannot be changed in
 * place: the kernel refuses), or undefined when it can be kept as it is.
 */
export function vtepMismatch(have: LinkInfo, want: VtepDevice): string | undefined {
  if (have.kind !== 'vxlan' || !have.vxlan) return `it is a ${have.kind} link, not a VXLAN device`;
  const v = have.vxlan;
  if (v.vni !== want.options.vni) return `its VNI is ${v.vni}, not ${want.options.vni}`;
  if (v.port !== undefined && v.port !== want.options.port) return `its port is ${v.port}, not ${want.options.port}`;
  if (!v.local || !v.local.equals(want.local)) return `its local address is ${v.local ?? 'unset'}, not ${want.local}`;
  if (v.learning) return 'it learns addresses';
  return undefined;
}
