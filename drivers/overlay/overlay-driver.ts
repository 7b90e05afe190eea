/**
 * The overlay driver: pods of one network on many hosts, joined by VXLAN (or, in routed mode,
 * by plain routes over the underlay), each host's pods on a local bridge.
 *
 * Per network and host: the bridge driver's network (bridge `bov-<vni>` holding the gateway,
 * a veth per pod, masquerade to outside the cluster subnet when asked) and a VXLAN device
 * `bvx-<vni>` (learning off, local = this node's underlay address, MTU = underlay - 50, the
 * pods' MTU the same). The VXLAN device is not a bridge port: it is an L3 device, and what the
 * other nodes are is programmed on it by the cluster (peer-plan.ts, peer-programmer.ts), so
 * nothing is learnt or flooded across the overlay.
 *
 * Two ways of addressing (overlay-options.ts): `node-block` (CNI) gives each node a block of
 * the cluster subnet, leased through the cluster, and the driver hands out its addresses;
 * `shared` (Docker) has one subnet across hosts, addresses from Docker's IPAM, each endpoint
 * announced so the other nodes route its address to this node; the bridge answers ARP for
 * remote addresses (proxy ARP), so containers on one subnet reach each other through it.
 *
 * Without a cluster (a plugin process while berthd is down) the driver works from the
 * membership berthd last recorded on this host: pods still get addresses and links, peers are
 * not changed.
 */
import { join } from 'node:path';
import { AlreadyExistsError, CheckFailedError, InvalidConfigError, TryAgainError, asBerthError } from '../../core/errors.js';
import type { IpAddress, IpPrefix } from '../../core/ip.js';
import type { AssignedAddress, IpRange } from '../../core/model.js';
import type { LinkInfo, Netlink, PassageOptions } from '../../dataplane/linux/ports.js';
import type { BridgeDriver, BridgeOptions } from '../bridge/index.js';
import { makeBridgeOptions } from '../bridge/bridge-options.js';
import type { Cluster, OverlayJoin, OverlayMembership } from '../cluster.js';
import type { AttachmentKey, Driver, EndpointInfo, EndpointRef, EndpointSpec, JoinInfo, NetworkSpec, RestoreOutcome } from '../driver.js';
import { deleteLinkIgnoringAbsent, mustGetLink } from '../endpoint/links.js';
import { BestEffort } from '../best-effort.js';
import { Rollback } from '../rollback.js';
import { OVERLAY_CAPABILITIES } from './capabilities.js';
import type { MembershipCache } from './membership-cache.js';
import type { OverlayHost } from './overlay-host.js';
import type { OverlayOptions } from './overlay-options.js';
import { vtepOverlayAddress } from './peer-plan.js';
import { overlayMtu, vtepLinkSpec, vtepMacFor, vtepMismatch, type VtepDevice } from './vtep.js';

type OverlayNetwork = NetworkSpec<OverlayOptions>;

export interface OverlayDriverDeps {
  readonly bridge: BridgeDriver;
  readonly host: OverlayHost;
  readonly cache: MembershipCache;
  /** berthd's cluster; absent in a plugin process. */
  readonly cluster?: Cluster;
}

export class OverlayDriver implements Driver<OverlayOptions> {
  readonly name = 'overlay' as const;
  readonly capabilities = OVERLAY_CAPABILITIES;

  constructor(private readonly deps: OverlayDriverDeps) {}

  /**
   * Docker's CreateNetwork (on each host's engine): joins the cluster network of the VNI (the
   * first node defines it; another subnet for the same VNI is refused here), then the VXLAN
   * device and the bridge.
   */
  async createNetwork(net: OverlayNetwork): Promise<void> {
    clusterSubnet(net);
    const member = await this.membership(net);
    const release = await this.lockNetwork(net);
    try {
      await new Rollback().run(async (rb) => {
        const device = this.ensureDevice(net, member, rb);
        await this.deps.bridge.createNetwork(this.bridgeNetwork(net, member, device.mtu));
        rb.push(`remove bridge ${net.options.bridge}`, () => this.deps.bridge.deleteNetwork(this.bridgeNetwork(net, undefined)));
        this.proxyArp(net);
      });
    } finally {
      release();
    }
    if (this.deps.cluster) await this.deps.cluster.overlayReady(net.name);
  }

  async deleteNetwork(net: OverlayNetwork): Promise<void> {
    const release = await this.lockNetwork(net);
    try {
      await this.deps.bridge.deleteNetwork(this.bridgeNetwork(net, undefined));
      this.removeDevice(net);
    } finally {
      release();
    }
    if (this.deps.cluster) await this.deps.cluster.leaveOverlay(net.name);
  }

  async createEndpoint(net: OverlayNetwork, ep: EndpointSpec): Promise<EndpointInfo> {
    const o = net.options;
    const shared = o.addressing === 'shared';
    if (shared && ep.addresses.length === 0) throw new InvalidConfigError(`endpoint ${ep.containerId} of overlay network ${net.name} has no address: use --ipam-driver berth`, { field: 'ipam' });
    if (!shared && ep.addresses.length) throw new InvalidConfigError(`berth-overlay network ${net.name} gives addresses itself: remove the ipam section`, { field: 'ipam' });
    const member = await this.membership(net);
    const release = await this.lockNetwork(net);
    try {
      return await new Rollback().run(async (rb) => {
        const device = this.ensureDevice(net, member, rb);
        const addresses = shared ? ep.addresses : this.allocate(net, member, ep);
        if (!shared) rb.push(`release the address of ${ep.containerId}`, () => void this.deps.host.ipam().release(poolName(net), ep.containerId, ep.ifname));
        const bridgeNet = this.bridgeNetwork(net, member, device.mtu);
        const info = await this.deps.bridge.createEndpoint(bridgeNet, { ...ep, addresses });
        rb.push(`remove the endpoint of ${ep.containerId}`, () => this.deps.bridge.deleteEndpoint(bridgeNet, ep));
        this.proxyArp(net);
        if (this.deps.cluster) {
          await this.deps.cluster.overlayReady(net.name);
          if (shared) {
            for (const a of addresses) await this.deps.cluster.announceEndpoint({ network: net.name, endpoint: endpointKey(ep), address: a.address.address });
            rb.push(`withdraw ${endpointKey(ep)}`, () => this.deps.cluster!.withdrawEndpoint(net.name, endpointKey(ep)));
          }
        }
        return { ...info, addresses };
      });
    } finally {
      release();
    }
  }

  async deleteEndpoint(net: OverlayNetwork, ep: EndpointRef): Promise<void> {
    const parts = new BestEffort();
    const o = net.options;
    const cluster = this.deps.cluster;
    if (o.addressing === 'shared' && cluster) await parts.attempt(() => cluster.withdrawEndpoint(net.name, endpointKey(ep)));
    let lastGone = false;
    const release = await this.lockNetwork(net);
    try {
      await parts.attempt(() => this.deps.bridge.deleteEndpoint(this.bridgeNetwork(net, undefined), ep));
      if (o.addressing === 'node-block') await parts.attempt(() => this.deps.host.ipam().release(poolName(net), ep.containerId, ep.ifname));
      if (net.followsEndpoints && !this.nl().getLink(o.bridge)) {
        await parts.attempt(() => this.removeDevice(net));
        lastGone = true;
      }
    } finally {
      release();
    }
    if (lastGone && cluster) await parts.attempt(() => cluster.leaveOverlay(net.name));
    parts.done();
  }

  async check(net: OverlayNetwork, ep: EndpointSpec): Promise<void> {
    const o = net.options;
    const member = this.cachedMembership(net);
    const dev = this.nl().getLink(o.device);
    if (!dev) throw new CheckFailedError(`VXLAN device ${o.device} of overlay network ${net.name} does not exist`);
    const want = this.deviceOf(net, member);
    const mismatch = vtepMismatch(dev, want);
    if (mismatch) throw new CheckFailedError(`VXLAN device ${o.device} cannot carry overlay network ${net.name}: ${mismatch}`);
    if (!dev.up) throw new CheckFailedError(`VXLAN device ${o.device} is down`);
    await this.deps.bridge.check(this.bridgeNetwork(net, member, want.mtu), ep);
  }

  async gc(net: OverlayNetwork, valid: readonly AttachmentKey[]): Promise<void> {
    const errors: string[] = [];
    let lastGone = false;
    const release = await this.lockNetwork(net);
    try {
      try {
        await this.deps.bridge.gc(this.bridgeNetwork(net, undefined), valid);
      } catch (err) {
        errors.push(asBerthError(err).message);
      }
      if (net.options.addressing === 'node-block') {
        try {
          this.deps.host.ipam().gc(poolName(net), valid);
        } catch (err) {
          errors.push(asBerthError(err).message);
        }
      }
      lastGone = net.followsEndpoints && !this.nl().getLink(net.options.bridge);
      if (lastGone) this.removeDevice(net);
    } finally {
      release();
    }
    if (lastGone && this.deps.cluster) await this.deps.cluster.leaveOverlay(net.name);
    if (errors.length) throw new CheckFailedError(`GC of overlay network ${net.name} is incomplete: ${errors.join('; ')}`);
  }

  join(net: OverlayNetwork): JoinInfo {
    const member = net.options.addressing === 'shared' ? undefined : this.cachedMembership(net);
    return this.deps.bridge.join(this.bridgeNetwork(net, member));
  }

  async restore(net: OverlayNetwork, ep: EndpointRef): Promise<RestoreOutcome> {
    const member = await this.membership(net);
    const release = await this.lockNetwork(net);
    try {
      const device = this.ensureDevice(net, member, new Rollback());
      this.deps.host.forwardPassage().open(net.options.device, passageOptions(net));
      const bridgeNet = this.bridgeNetwork(net, member, device.mtu);
      await this.deps.bridge.createNetwork(bridgeNet);
      return await this.deps.bridge.restore(bridgeNet, ep);
    } finally {
      release();
    }
  }

  // --- membership ---

  /** The cluster's answer when there is a cluster; else what berthd recorded on this host. */
  private async membership(net: OverlayNetwork): Promise<OverlayMembership> {
    const o = net.options;
    const cluster = this.deps.cluster;
    if (!cluster) return this.cachedMembership(net);
    const subnet = clusterSubnet(net);
    const join: OverlayJoin = {
      network: net.name,
      vni: o.vni,
      subnet,
      subnetLen: o.addressing === 'shared' ? subnet.length : o.subnetLen,
      shared: o.addressing === 'shared',
      mode: o.mode,
      device: o.device,
      vtepMac: vtepMacFor(cluster.node, o.vni),
    };
    const member = await cluster.joinOverlay(join);
    this.deps.cache.write({ ...member, join });
    return member;
  }

  private cachedMembership(net: OverlayNetwork): OverlayMembership {
    const cached = this.deps.cache.read(net.name);
    if (!cached) {
      throw new TryAgainError(`overlay network ${net.name} has no block on this node yet: berthd (with --etcd-endpoints) must be running for the first pod of the network`, {
        field: 'network',
        value: net.name,
      });
    }
    if (cached.join.vni !== net.options.vni) {
      throw new TryAgainError(`overlay network ${net.name} is recorded with VNI ${cached.join.vni}, not ${net.options.vni}: berthd must be running to change it`, {
        field: 'vni',
        value: String(net.options.vni),
      });
    }
    return cached;
  }

  // --- the VXLAN device ---

  private deviceOf(net: OverlayNetwork, member: OverlayMembership): VtepDevice {
    const parent = underlayLinkOf(this.nl(), member.vtep);
    return { options: net.options, mac: vtepMacFor(member.node, net.options.vni), local: member.vtep, parent, mtu: overlayMtu(net.options, parent.mtu) };
  }

  /**
   * Creates the VXLAN device, or keeps the one there when it fits; its overlay address in
   * node-block mode. On undo it goes again unless the network's bridge is there (other
   * endpoints use it). Caller holds the network lock.
   */
  private ensureDevice(net: OverlayNetwork, member: OverlayMembership, rb: Rollback): VtepDevice {
    const nl = this.nl();
    const want = this.deviceOf(net, member);
    rb.push(`remove VXLAN device ${net.options.device} unless in use`, () => this.removeDevice(net));
    let dev = nl.getLink(net.options.device);
    if (dev && vtepMismatch(dev, want) !== undefined) {
      // VNI, port and local address cannot change in place; peers re-learn nothing (the MAC is derived).
      deleteLinkIgnoringAbsent(nl, dev.index);
      dev = undefined;
    }
    if (!dev) {
      try {
        nl.addLink(vtepLinkSpec(want));
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
      dev = mustGetLink(nl, net.options.device);
      // What other nodes send is new traffic from this device to the bridge: it must pass other
      // owners' forward drops (Docker's) as the bridge's own traffic does.
      this.deps.host.forwardPassage().open(net.options.device, passageOptions(net));
    }
    if (dev.mac !== want.mac || dev.mtu !== want.mtu || !dev.up) nl.setLink(dev.index, { mac: want.mac, mtu: want.mtu, up: true });
    if (net.options.addressing === 'node-block') {
      const address = { address: vtepOverlayAddress(member.block), length: 32 };
      const have = nl.listAddresses({ index: dev.index, family: 4 });
      if (!have.some((a) => a.address.address.equals(address.address) && a.address.length === 32)) {
        for (const stale of have) nl.deleteAddress(dev.index, stale.address);
        nl.addAddress(dev.index, address, { noDad: true });
      }
    }
    return want;
  }

  /** Removes the VXLAN device unless the network's bridge is back. Caller holds the network lock. */
  private removeDevice(net: OverlayNetwork): void {
    const nl = this.nl();
    if (nl.getLink(net.options.bridge)) return;
    const dev = nl.getLink(net.options.device);
    if (dev && dev.kind === 'vxlan') deleteLinkIgnoringAbsent(nl, dev.index);
    this.deps.host.forwardPassage().close(net.options.device, passageOptions(net));
  }

  // --- addresses and the bridge ---

  /** Shared subnets: the bridge answers containers' ARP for addresses routed to other nodes. */
  private proxyArp(net: OverlayNetwork): void {
    if (net.options.addressing !== 'shared') return;
    const key = `net.ipv4.conf.${net.options.bridge}.proxy_arp`;
    if (this.deps.host.sysctl.read(key).trim() !== '1') this.deps.host.sysctl.write(key, '1');
  }

  private allocate(net: OverlayNetwork, member: OverlayMembership, ep: EndpointSpec): AssignedAddress[] {
    return this.deps.host.ipam().allocate({ network: poolName(net), containerId: ep.containerId, ifname: ep.ifname, rangeSets: [[blockRange(member.block)]] });
  }

  /** The bridge driver's network: the node's block (or the shared subnet) with its gateway; `member` absent for removals. */
  private bridgeNetwork(net: OverlayNetwork, member: OverlayMembership | undefined, mtu?: number): NetworkSpec<BridgeOptions> {
    const o = net.options;
    const subnets: IpRange[] = o.addressing === 'shared' ? net.subnets.filter((s) => s.subnet.family === 4) : member ? [blockRange(member.block)] : [];
    const options = makeBridgeOptions(net.name, {
      bridge: o.bridge,
      isGateway: true,
      // CNI pods get their default route from the driver; Docker installs the sandbox's routes itself (from Join).
      isDefaultGateway: o.addressing === 'node-block',
      ipMasq: o.ipMasq,
      ...(o.subnet || net.subnets.length ? { ipMasqExempt: [clusterSubnet(net)] } : {}),
      ...(mtu !== undefined ? { mtu } : {}),
    });
    return { id: net.id, name: net.name, subnets, options, followsEndpoints: net.followsEndpoints };
  }

  private nl(): Netlink {
    return this.deps.host.hostNetlink();
  }

  private async lockNetwork(net: OverlayNetwork): Promise<() => void> {
    const held = await this.deps.host.lock(`overlay-${net.options.vni}`);
    return () => held.release();
  }
}

/** The cluster subnet: the option (CNI), else the network's IPv4 subnet (Docker). */
function clusterSubnet(net: OverlayNetwork): IpPrefix {
  if (net.options.subnet) return net.options.subnet;
  const v4 = net.subnets.filter((s) => s.subnet.family === 4);
  if (v4.length !== 1) {
    throw new InvalidConfigError(`overlay network ${net.name} needs exactly one IPv4 subnet (it has ${v4.length ? v4.map((s) => s.subnet.toString()).join(', ') : 'none'})`, { field: 'subnet' });
  }
  return v4[0]!.subnet;
}

/** Routed peers' pods arrive on the underlay, not on the VXLAN device: the passage lets the cluster subnet in. */
function passageOptions(net: OverlayNetwork): PassageOptions {
  return net.options.mode === 'vxlan' ? {} : { routedFrom: clusterSubnet(net) };
}

/** A node block's pods: from .2 to the last but one; .0 is the VTEP's overlay address, .1 the gateway. */
function blockRange(block: IpPrefix): IpRange {
  return { subnet: block, rangeStart: block.first.plus(2n), rangeEnd: block.last.plus(-1n), gateway: block.first.plus(1n) };
}

/** The IPAM pool of a network's node block (not berth-ipam's pool of the same name). */
function poolName(net: OverlayNetwork): string {
  return `overlay-${net.name}`;
}

function endpointKey(ep: AttachmentKey): string {
  return `${ep.containerId}-${ep.ifname}`;
}

/** The link holding this node's underlay address: the VXLAN device's lower link. */
function underlayLinkOf(nl: Netlink, vtep: IpAddress): LinkInfo {
  const held = nl.listAddresses({ family: vtep.family }).find((a) => a.address.address.equals(vtep));
  const link = held && nl.getLinkByIndex(held.index);
  if (!link) throw new InvalidConfigError(`No interface of this host has the underlay address ${vtep} (berthd --advertise-address)`, { field: '--advertise-address', value: vtep.toString() });
  return link;
}

export const overlayPaths = {
  /** Where node-block allocations live under the run directory. */
  ipamDir: (runDir: string) => join(runDir, 'overlay', 'ipam'),
};
