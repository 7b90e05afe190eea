/**
 * What the driver contract suite needs to know about each driver of the catalog: a network
 * configuration it accepts, and how to make an endpoint drift for CHECK to see. A catalog
 * entry without a subject fails the suite, so every new driver brings one.
 */
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { DriverName } from '../../../core/model.js';
import { MembershipCache } from '../../../drivers/overlay/membership-cache.js';
import { shimName } from '../../../drivers/transparent/macvlan-driver.js';
import { sh, shOk } from '../../support/netns.js';

export interface ContractSubject {
  /** The CNI network configuration's keys (the driver's module parses them). */
  readonly conf: Readonly<Record<string, unknown>>;
  /** The network's IPv4 subnet, and the gateway when the driver puts one on the host. */
  readonly subnet: string;
  readonly gateway?: string;
  /** `driver`: the driver gives the addresses (the world passes none and reads them from the result). */
  readonly addressing?: 'driver';
  /** The links "the network's host objects" are (deleted by hand for restore); default: conf.bridge. */
  readonly networkLinks?: readonly string[];
  /**
   * What the driver expects on the host before it runs (an underlay, a recorded cluster
   * membership), made before the world's baseline; returns its removal.
   */
  readonly setup?: (runDir: string) => () => void;
  /** State files that outlive endpoints by design (an IPAM pool's rotation cursor), left out of snapshots. */
  readonly persistentState?: RegExp;
}

/** An uplink for the macvlan drivers: one end of a veth pair, with an address (l2tunnel checks its prefix). */
function uplinkSetup(name: string, address: string): () => () => void {
  return () => {
    if (!shOk('ip', ['link', 'show', name])) {
      sh('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}-p`]);
      sh('ip', ['link', 'set', `${name}-p`, 'up']);
      sh('ip', ['addr', 'add', address, 'dev', name]);
      sh('ip', ['link', 'set', name, 'up']);
    }
    return () => void shOk('ip', ['link', 'del', name]);
  };
}

/** The overlay without berthd: an underlay link with the node's address, and the membership berthd would have recorded. */
function overlaySetup(runDir: string): () => void {
  // No dummy links on this kernel: one end of a veth pair stands in for the uplink. A test
  // with two worlds at once shares it.
  if (!shOk('ip', ['link', 'show', 'bkc-under'])) {
    sh('ip', ['link', 'add', 'bkc-under', 'type', 'veth', 'peer', 'name', 'bkc-under-p']);
    sh('ip', ['link', 'set', 'bkc-under-p', 'up']);
    sh('ip', ['addr', 'add', '192.168.251.1/24', 'dev', 'bkc-under']);
    sh('ip', ['link', 'set', 'bkc-under', 'up']);
  }
  new MembershipCache(runDir).write({
    node: 'contract-node',
    block: IpPrefix.parse('10.215.3.0/24'),
    vtep: IpAddress.parse('192.168.251.1'),
    join: { network: 'contract', vni: 4297, subnet: IpPrefix.parse('10.215.0.0/16'), subnetLen: 24, shared: false, mode: 'vxlan', device: 'bvx-4297', vtepMac: '0e:00:00:00:42:97' },
  });
  return () => void shOk('ip', ['link', 'del', 'bkc-under']);
}

export const SUBJECTS: Readonly<Partial<Record<DriverName, ContractSubject>>> = {
  bridge: { conf: { bridge: 'bk-contract', isGateway: true, ipMasq: true }, subnet: '10.213.0.0/24', gateway: '10.213.0.1' },
  nat: { conf: { bridge: 'bk-contractn' }, subnet: '10.214.0.0/24', gateway: '10.214.0.1' },
  overlay: {
    conf: { subnet: '10.215.0.0/16', subnetLen: 24, vni: 4297, ipMasq: true },
    subnet: '10.215.3.0/24',
    addressing: 'driver',
    networkLinks: ['bov-4297', 'bvx-4297'],
    setup: overlaySetup,
    persistentState: /^\/overlay\/ipam\//,
  },
  transparent: {
    conf: { master: 'bkc-up-t', hostShim: true },
    subnet: '10.217.0.0/24',
    gateway: '10.217.0.1',
    networkLinks: [shimName({ name: 'contract' })],
    setup: uplinkSetup('bkc-up-t', '10.217.0.254/24'),
  },
  l2tunnel: {
    conf: { master: 'bkc-up-l' },
    subnet: '10.218.0.0/24',
    gateway: '10.218.0.1',
    // Nothing of the network is on the host: deleting nothing changes nothing for restore.
    networkLinks: [],
    setup: uplinkSetup('bkc-up-l', '10.218.0.254/24'),
  },
  l2bridge: {
    conf: { master: 'bkc-up-b', outboundNat: true },
    subnet: '10.79.0.0/24',
    gateway: '10.79.0.1',
    // The network's host objects are rules and settings, no link: restore has nothing to reattach.
    networkLinks: [],
    setup: uplinkSetup('bkc-up-b', '10.79.0.254/24'),
  },
};
