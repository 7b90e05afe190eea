/**
 * The one list of berth's drivers. Everything that needs to know which drivers exist reads it:
 * the build (one CNI plugin executable per entry), `berth install`, berthd's CNI socket and
 * Docker plugin sockets, and the CLI's help. Adding a driver is a folder under drivers/ with a
 * `module.ts` (drivers/driver-module.ts says what it exports) and one entry here.
 *
 * This module is light on purpose: names and capabilities only, and each driver's module is
 * loaded on first use, so a plugin process or the CLI never loads a driver it does not run.
 */
import type { DriverName } from '../core/model.js';
import { BRIDGE_CAPABILITIES } from './bridge/capabilities.js';
import type { DriverCapabilities } from './driver.js';
import type { DriverModule } from './driver-module.js';
import { NAT_CAPABILITIES } from './nat/capabilities.js';
import { OVERLAY_CAPABILITIES } from './overlay/capabilities.js';
import { TRANSPARENT_CAPABILITIES } from './transparent/capabilities.js';
import { L2TUNNEL_CAPABILITIES } from './l2tunnel/capabilities.js';
import { L2BRIDGE_CAPABILITIES } from './l2bridge/capabilities.js';

/** An entry without its loader: plain data (the build writes it into each plugin executable). */
export interface DriverFacts {
  readonly name: DriverName;
  /** The CNI plugin's executable name and the Docker plugin's name (`docker network create -d`). */
  readonly plugin: string;
  /** One line for help texts. */
  readonly summary: string;
  readonly capabilities: DriverCapabilities;
}

export interface CatalogEntry extends DriverFacts {
  /** The driver's module (`drivers/<name>/module.ts`: factory and option parsers), loaded on first use. */
  load(): Promise<DriverModule>;
}

export const CATALOG: readonly CatalogEntry[] = [
  {
    name: 'bridge',
    plugin: 'berth-bridge',
    summary: 'a Linux bridge per network and a veth pair per container',
    capabilities: BRIDGE_CAPABILITIES,
    load: () => import('./bridge/module.js').then((m) => m.driverModule as DriverModule),
  },
  {
    name: 'nat',
    plugin: 'berth-nat',
    summary: 'a bridge network masqueraded behind the host, with published ports, as Windows NAT',
    capabilities: NAT_CAPABILITIES,
    load: () => import('./nat/module.js').then((m) => m.driverModule as DriverModule),
  },
  {
    name: 'overlay',
    plugin: 'berth-overlay',
    summary: 'pods of one network across hosts: a block of the subnet per node, joined by VXLAN, through etcd',
    capabilities: OVERLAY_CAPABILITIES,
    load: () => import('./overlay/module.js').then((m) => m.driverModule as DriverModule),
  },
  {
    name: 'transparent',
    plugin: 'berth-transparent',
    summary: 'containers as peers on the physical network: macvlan in bridge mode on an uplink, static addresses or DHCP',
    capabilities: TRANSPARENT_CAPABILITIES,
    load: () => import('./transparent/module.js').then((m) => m.driverModule as DriverModule),
  },
  {
    name: 'l2tunnel',
    plugin: 'berth-l2tunnel',
    summary: "every frame through the upstream switch (macvlan in VEPA mode), static addresses in the host's subnet",
    capabilities: L2TUNNEL_CAPABILITIES,
    load: () => import('./l2tunnel/module.js').then((m) => m.driverModule as DriverModule),
  },
  {
    name: 'l2bridge',
    plugin: 'berth-l2bridge',
    summary: "containers in the host's subnet with static addresses, every frame with the host's MAC: routed veths, proxy ARP/NDP on the uplink",
    capabilities: L2BRIDGE_CAPABILITIES,
    load: () => import('./l2bridge/module.js').then((m) => m.driverModule as DriverModule),
  },
];

/** berth's IPAM plugin: a CNI plugin of its own, not a driver. */
export const IPAM_PLUGIN = 'berth-ipam';

/** Every CNI plugin berth ships: one per driver, and the IPAM plugin. */
export const CNI_PLUGIN_NAMES: readonly string[] = [...CATALOG.map((e) => e.plugin), IPAM_PLUGIN];
