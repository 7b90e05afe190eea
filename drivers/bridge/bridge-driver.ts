/**
 * The bridge driver: a Linux bridge per network, a veth pair per endpoint, the gateway on
 * the bridge, optional masquerade, and isolation from other berth bridge networks.
 */
import { stableHash } from '../../core/stable-hash.js';
import { mark } from '../../core/trace.js';
import { AlreadyExistsError, CheckFailedError, InvalidConfigError, NotFoundError, asBerthError } from '../../core/errors.js';
import type { IpWithPrefix } from '../../core/ip.js';
import type { Route } from '../../core/model.js';
import type { Netlink, LinkInfo } from '../../dataplane/linux/ports.js';
import type { AttachmentKey, Driver, EndpointInfo, EndpointRef, EndpointSpec, JoinInfo, NetworkSpec, RestoreOutcome } from '../driver.js';
import { attachmentLinkName, deleteAddressIgnoringAbsent, deleteLinkIgnoringAbsent, mustGetLink } from '../endpoint/links.js';
import { checkSandbox, configureSandbox, removeSandboxLink, sandboxRoutes, type SandboxInterface } from '../endpoint/sandbox.js';
import { deleteTable } from '../../dataplane/nft-commands.js';
import { Rollback } from '../rollback.js';
import type { BridgeHost } from './bridge-host.js';
import { BRIDGE_CAPABILITIES } from './capabilities.js';
import type { BridgeOptions } from './bridge-options.js';
import {
  TABLE,
  bridgeTableEmpty,
  deleteInetTable,
  ensureNetworkRules,
  ensureSpoofCheck,
  networkChainCount,
  parseTableListing,
  spoofCheckPresent,
  teardownNetworkRules,
  teardownSpoofCheck,
} from './bridge-rules.js';

/** Host-side veth names: `bv` + 12 hex of the attachment key, so DEL and GC find them without state. */
const HOST_VETH_PREFIX = 'bv';
/** Docker mode: the container end waits in the host namespace under `bp` + the same 12 hex. */
const PEER_VETH_PREFIX = 'bp';

export function hostVethName(network: string, containerId: string, ifname: string): string {
  return attachmentLinkName(HOST_VETH_PREFIX, network, containerId, ifname);
}

/**
 * Docker mode: the name of the container end of the veth pair while it is still in the host
 * namespace. Docker moves it into the sandbox after Join and renames it there (`eth0`).
 */
export function peerVethName(network: string, containerId: string, ifname: string): string {
  return attachmentLinkName(PEER_VETH_PREFIX, network, containerId, ifname);
}

type BridgeNetwork = NetworkSpec<BridgeOptions>;

export class BridgeDriver implements Driver<BridgeOptions> {
  readonly name = 'bridge' as const;
  readonly capabilities = BRIDGE_CAPABILITIES;

  constructor(private readonly host: BridgeHost) {}

  async createNetwork(net: BridgeNetwork): Promise<void> {
    const nl = this.host.hostNetlink();
    this.host.withLock(lockName(net), () => this.ensureBridge(nl, net));
  }

  async deleteNetwork(net: BridgeNetwork): Promise<void> {
    const nl = this.host.hostNetlink();
    this.host.withLock(lockName(net), () => this.removeNetwork(nl, net, { onlyIfUnused: false }));
  }

  /**
   * {@inheritDoc Driver.createEndpoint}
   *
   * Two placements. CNI (a netns): the container end is created directly in the sandbox
   * as `ep.ifname` and configured there. Docker: both ends are created in
   * the host namespace, the container end under a berth name (`peerVethName`), left down and
   * unaddressed, because Docker moves it into the sandbox after Join, renames it and puts
   * the addresses and routes on it itself (libnetwork `sandbox.populateNetworkResources`).
   * The result's sandbox interface is then that host-namespace end.
   */
  async createEndpoint(net: BridgeNetwork, ep: EndpointSpec): Promise<EndpointInfo> {
    const o = net.options;
    const nl = this.host.hostNetlink();
    mark('netlink-open');
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    const place = ep.placement;
    if (place.kind === 'gone') throw new InvalidConfigError(`endpoint ${ep.containerId}/${ep.ifname} has no sandbox to be created in`, { field: 'CNI_NETNS' });
    const dockerMode = place.kind === 'docker';
    const peerName = dockerMode ? peerVethName(net.name, ep.containerId, ep.ifname) : ep.ifname;
    return new Rollback().run(async (rb) => {
      const fd = place.kind === 'netns' ? this.host.openNetnsFd(place.path) : undefined;
      let bridge: LinkInfo;
      try {
        // Under the network lock: the last DEL cannot remove the bridge between our check and
        // our veth joining it.
        bridge = this.host.withLock(lockName(net), () => {
          const br = net.followsEndpoints ? this.ensureBridge(nl, net) : this.requireBridge(nl, net);
          const veth = {
            kind: 'veth' as const,
            name: hostVeth,
            master: br.index,
            up: true,
            ...(o.mtu ? { mtu: o.mtu } : {}),
            peer: { name: peerName, ...(fd !== undefined ? { netnsFd: fd } : {}), ...(o.mtu ? { mtu: o.mtu } : {}), ...(ep.mac ? { mac: ep.mac } : {}) },
          };
          try {
            try {
              nl.addLink(veth);
            } catch (err) {
              // A host veth (or, in Docker mode, a waiting peer) of this very attachment can
              // only be left over from a create that was killed; replace it. Otherwise the
              // name clash is in the sandbox.
              const stale = err instanceof AlreadyExistsError ? (nl.getLink(hostVeth) ?? (dockerMode ? nl.getLink(peerName) : undefined)) : undefined;
              if (!stale) throw err;
              deleteLinkIgnoringAbsent(nl, stale.index);
              nl.addLink(veth);
            }
          } catch (err) {
            // Nothing of this endpoint exists yet; a bridge made just for it must go again.
            if (net.followsEndpoints) this.removeNetwork(nl, net, { onlyIfUnused: true });
            if (err instanceof AlreadyExistsError) {
              throw new AlreadyExistsError(`Interface "${ep.ifname}" already exists in ${place.kind === 'netns' ? place.path : 'the host namespace'}`, {
                field: 'CNI_IFNAME',
                value: ep.ifname,
                ...(err.fields.operation ? { operation: err.fields.operation } : {}),
              });
            }
            throw err;
          }
          return br;
        });
      } finally {
        if (fd !== undefined) this.host.closeFd(fd);
      }
      rb.push(`remove veth ${hostVeth}`, () => {
        const l = nl.getLink(hostVeth);
        if (l) deleteLinkIgnoringAbsent(nl, l.index);
        if (net.followsEndpoints) this.host.withLock(lockName(net), () => this.removeNetwork(nl, net, { onlyIfUnused: true }));
      });

      mark('bridge+veth');
      const hv = mustGetLink(nl, hostVeth);
      if (o.hairpinMode || o.portIsolation) nl.setBridgePort(hv.index, { hairpin: o.hairpinMode, isolated: o.portIsolation });

      const sandbox: SandboxInterface =
        place.kind === 'netns'
          ? configureSandbox(this.host, place.path, ep.ifname, { addresses: ep.addresses, routes: this.routesOf(net, ep), enableDad: o.enableDad, unaddressed: o.disableContainerInterface })
          : waitingPeer(nl, peerName);
      mark('sandbox');

      if (o.macSpoofCheck && sandbox.mac) {
        const nft = this.host.nftables();
        nft.run(
          ensureSpoofCheck({
            port: hostVeth,
            mac: sandbox.mac,
            ipv4: ep.addresses.filter((a) => a.address.address.family === 4).map((a) => a.address.address.toString()),
            ipv6: ep.addresses.filter((a) => a.address.address.family === 6).map((a) => a.address.address.toString()),
          }),
        );
        rb.push(`remove spoof check of ${hostVeth}`, () => this.removeSpoofCheck(hostVeth));
      }

      return {
        interfaces: [
          { name: bridge.name, ...(bridge.mac ? { mac: bridge.mac } : {}) },
          { name: hostVeth, ...(hv.mac ? { mac: hv.mac } : {}), mtu: hv.mtu },
          { name: peerName, ...(sandbox.mac ? { mac: sandbox.mac } : {}), mtu: sandbox.mtu, ...(place.kind === 'netns' ? { sandbox: place.path } : {}) },
        ],
        sandboxInterface: 2,
        addresses: o.disableContainerInterface ? [] : ep.addresses,
        routes: sandbox.routes,
      };
    });
  }

  async deleteEndpoint(net: BridgeNetwork, ep: EndpointRef): Promise<void> {
    const nl = this.host.hostNetlink();
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    // Only a veth (whose peer is our host end) is ours to delete in the sandbox.
    if (ep.placement.kind === 'netns') removeSandboxLink(this.host, ep.placement.path, ep.ifname, 'veth');
    mark('sandbox-link');
    const hv = nl.getLink(hostVeth);
    if (hv) deleteLinkIgnoringAbsent(nl, hv.index);
    if (ep.placement.kind === 'docker') {
      // A container end never moved into a sandbox (the host end's deletion took it already,
      // unless the pair was torn apart by hand). CNI's path skips the lookup.
      const waiting = nl.getLink(peerVethName(net.name, ep.containerId, ep.ifname));
      if (waiting && waiting.kind === 'veth') deleteLinkIgnoringAbsent(nl, waiting.index);
    }
    if (net.options.macSpoofCheck) this.removeSpoofCheck(hostVeth);
    mark('host-link');
    if (net.followsEndpoints) this.host.withLock(lockName(net), () => this.removeNetwork(nl, net, { onlyIfUnused: true }));
  }

  async check(net: BridgeNetwork, ep: EndpointSpec): Promise<void> {
    const o = net.options;
    const nl = this.host.hostNetlink();
    const br = nl.getLink(o.bridge);
    if (!br) throw new CheckFailedError(`bridge ${o.bridge} does not exist`);
    if (br.kind !== 'bridge') throw new CheckFailedError(`${o.bridge} is a ${br.kind}, not a bridge`);
    if (o.isGateway) {
      const have = new Set(nl.listAddresses({ index: br.index }).map((a) => `${a.address.address}/${a.address.length}`));
      for (const s of gatewayAddresses(net)) {
        if (!have.has(`${s.address}/${s.length}`)) throw new CheckFailedError(`bridge ${o.bridge} lacks its gateway address ${s.address}/${s.length}`);
      }
    }
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    const hv = nl.getLink(hostVeth);
    if (!hv) throw new CheckFailedError(`host interface ${hostVeth} of the endpoint does not exist`);
    if (hv.master !== br.index) throw new CheckFailedError(`host interface ${hostVeth} is not a port of bridge ${o.bridge}`);
    // Docker: the sandbox side belongs to Docker, which addresses it itself.
    if (ep.placement.kind === 'docker') return;
    if (ep.placement.kind === 'gone') throw new CheckFailedError(`endpoint ${ep.containerId}/${ep.ifname} has no sandbox to check`);
    checkSandbox(this.host, ep.placement.path, ep.ifname, {
      addresses: ep.addresses,
      routes: this.routesOf(net, ep),
      ...(ep.mac ? { mac: ep.mac } : {}),
      unaddressed: o.disableContainerInterface,
    });
    if (needsRules(o)) {
      const t = parseTableListing(this.listTable('inet'));
      if (o.isolateFromOtherNetworks && !t.isolation.has(o.bridge)) throw new CheckFailedError(`the isolation rules of bridge ${o.bridge} are missing from table inet ${TABLE}`);
      if (o.inbound === 'published' && !t.inbound.has(o.bridge)) throw new CheckFailedError(`the inbound rules of bridge ${o.bridge} are missing from table inet ${TABLE}`);
      if (o.ipMasq) {
        for (const s of net.subnets) {
          const map = s.subnet.family === 4 ? t.masq4 : t.masq6;
          if (!map.has(s.subnet.toString())) throw new CheckFailedError(`the masquerade rule for ${s.subnet} is missing from table inet ${TABLE}`);
        }
      }
    }
    if (o.macSpoofCheck) {
      const p = spoofCheckPresent(this.listTable('bridge'), hostVeth);
      if (!p.chain || !p.element) throw new CheckFailedError(`the spoof check of ${hostVeth} is missing from table bridge ${TABLE}`);
    }
  }

  /**
   * {@inheritDoc Driver.restore}
   *
   * Puts the endpoint's host veth back on the network's bridge when the bridge was re-created (deleting a bridge
   * frees its ports but leaves them alive), with its port flags. Creates nothing else:
   * 'lost' means the veth pair itself is gone and the container needs a new endpoint. The
   * bridge must exist (createNetwork first).
   */
  async restore(net: BridgeNetwork, ep: EndpointRef): Promise<RestoreOutcome> {
    const o = net.options;
    const nl = this.host.hostNetlink();
    const hv = nl.getLink(hostVethName(net.name, ep.containerId, ep.ifname));
    if (!hv || hv.kind !== 'veth') return 'lost';
    const br = this.requireBridge(nl, net);
    if (hv.master === br.index && hv.up) return 'ok';
    nl.setLink(hv.index, { master: br.index, up: true });
    if (o.hairpinMode || o.portIsolation) nl.setBridgePort(hv.index, { hairpin: o.hairpinMode, isolated: o.portIsolation });
    return 'reattached';
  }

  /** Docker's Join: the gateways are the bridge's addresses, when it holds them. */
  join(net: BridgeNetwork): JoinInfo {
    if (!net.options.isGateway) return { routes: [] };
    const gw = (family: 4 | 6) => net.subnets.find((s) => s.gateway && s.subnet.family === family)?.gateway;
    const gateway4 = gw(4);
    const gateway6 = gw(6);
    return { routes: [], ...(gateway4 ? { gateway4 } : {}), ...(gateway6 ? { gateway6 } : {}) };
  }

  async gc(net: BridgeNetwork, valid: readonly AttachmentKey[]): Promise<void> {
    const nl = this.host.hostNetlink();
    const keep = new Set(valid.map((v) => hostVethName(net.name, v.containerId, v.ifname)));
    const br = nl.getLink(net.options.bridge);
    const errors: string[] = [];
    if (br && br.kind === 'bridge') {
      for (const port of nl.listLinks({ master: br.index })) {
        if (!port.name.startsWith(HOST_VETH_PREFIX) || keep.has(port.name)) continue;
        try {
          deleteLinkIgnoringAbsent(nl, port.index);
          if (net.options.macSpoofCheck) this.removeSpoofCheck(port.name);
        } catch (err) {
          errors.push(`${port.name}: ${asBerthError(err).message}`);
        }
      }
    }
    if (net.followsEndpoints) this.host.withLock(lockName(net), () => this.removeNetwork(nl, net, { onlyIfUnused: true }));
    if (errors.length) throw new CheckFailedError(`GC of network ${net.name} could not remove: ${errors.join('; ')}`);
  }

  // --- network level ---

  /**
   * Creates or verifies the bridge, its gateway addresses and the network's rules. A bridge
   * created here is removed again (with its rules) when a later step fails.
   */
  private ensureBridge(nl: Netlink, net: BridgeNetwork): LinkInfo {
    const o = net.options;
    let br = nl.getLink(o.bridge);
    // The alias marks a bridge that this configuration set up completely (addresses, sysctls,
    // rules): the common case of a pod joining a running network costs one netlink call.
    // CHECK verifies the real state.
    if (br && br.kind === 'bridge' && br.up && br.alias === bridgeMarker(net)) return br;
    return new Rollback().runSync((rb) => {
      let created = false;
      if (!br) {
        try {
          nl.addLink({ kind: 'bridge', name: o.bridge, up: true, ...(o.mtu ? { mtu: o.mtu } : {}) });
          created = true;
          rb.push(`remove bridge ${o.bridge}`, () => this.removeNetwork(nl, net, { onlyIfUnused: false }));
        } catch (err) {
          if (!(err instanceof AlreadyExistsError)) throw err;
        }
        br = mustGetLink(nl, o.bridge);
      } else if (br.kind !== 'bridge') {
        throw new InvalidConfigError(`"${o.bridge}" exists and is not a bridge (it is a ${br.kind} link)`, { field: 'bridge', value: o.bridge });
      }
      return this.configureBridge(nl, br, net, created);
    });
  }

  private configureBridge(nl: Netlink, br: LinkInfo, net: BridgeNetwork, created: boolean): LinkInfo {
    const o = net.options;
    // A bridge takes the lowest MAC of its ports unless one is set; pin it so the gateway's
    // MAC does not change as pods come and go.
    if (created && br.mac) nl.setLink(br.index, { mac: br.mac });
    if (!br.up) nl.setLink(br.index, { up: true });
    if (o.promiscMode && !br.promisc) nl.setLink(br.index, { promisc: true });
    if (o.isGateway) this.ensureGateway(nl, br, net);

    // The rules are (re)written whole: a new bridge or a changed configuration gets them.
    if (needsRules(o)) {
      this.host
        .nftables()
        .run(
          ensureNetworkRules({ bridge: o.bridge, subnets: net.subnets.map((s) => s.subnet), ipMasq: o.ipMasq, masqExempt: o.ipMasqExempt, isolate: o.isolateFromOtherNetworks, inbound: o.inbound }),
        );
    }
    // Another owner's forward drop (Docker's, ufw's) would otherwise stop this bridge's traffic.
    this.host.forwardPassage().open(o.bridge);
    nl.setLink(br.index, { alias: bridgeMarker(net) });
    return br;
  }

  private requireBridge(nl: Netlink, net: BridgeNetwork): LinkInfo {
    const br = nl.getLink(net.options.bridge);
    if (!br || br.kind !== 'bridge') throw new NotFoundError(`network ${net.name} is not set up: bridge ${net.options.bridge} does not exist`);
    return br;
  }

  private ensureGateway(nl: Netlink, br: LinkInfo, net: BridgeNetwork): void {
    const o = net.options;
    const existing = nl.listAddresses({ index: br.index });
    for (const gw of gatewayAddresses(net)) {
      const same = existing.find((a) => a.address.address.equals(gw.address) && a.address.length === gw.length);
      if (same) continue;
      if (gw.address.family === 4) {
        const other = existing.filter((a) => a.address.address.family === 4);
        if (other.length) {
          if (!o.forceAddress) {
            const shown = other.map((a) => `${a.address.address}/${a.address.length}`).join(', ');
            throw new InvalidConfigError(`bridge ${o.bridge} already has IP address ${shown}, different from the gateway ${gw.address}/${gw.length} (set forceAddress to replace it)`, {
              field: 'bridge',
              value: o.bridge,
            });
          }
          for (const a of other) deleteAddressIgnoringAbsent(nl, br.index, a.address);
        }
      }
      try {
        nl.addAddress(br.index, gw, { noDad: true });
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
    }
    const families = new Set(gatewayAddresses(net).map((g) => g.address.family));
    if (families.has(4)) this.ensureSysctl('net.ipv4.ip_forward', '1');
    if (families.has(6)) this.ensureSysctl('net.ipv6.conf.all.forwarding', '1');
  }

  private ensureSysctl(key: string, value: string): void {
    if (this.host.sysctl.read(key).trim() !== value) this.host.sysctl.write(key, value);
  }

  /** Removes the bridge and its rules (only when no port is left, if so asked). Caller holds the lock. */
  private removeNetwork(nl: Netlink, net: BridgeNetwork, opts: { onlyIfUnused: boolean }): void {
    const o = net.options;
    const br = nl.getLink(o.bridge);
    if (br && br.kind === 'bridge') {
      if (opts.onlyIfUnused && nl.listLinks({ master: br.index }).length > 0) return;
      deleteLinkIgnoringAbsent(nl, br.index);
    }
    this.host.forwardPassage().close(o.bridge);
    if (!needsRules(o)) return;
    const nft = this.host.nftables();
    this.host.withLock('nft-inet-berth', () => {
      const table = parseTableListing(this.listTable('inet'));
      if (!table.exists) return;
      const cmds = teardownNetworkRules(o.bridge, table);
      if (cmds.length) nft.run(cmds);
      const after = parseTableListing(this.listTable('inet'));
      if (after.exists && networkChainCount(after) === 0) nft.run(deleteInetTable());
    });
  }

  private removeSpoofCheck(port: string): void {
    const nft = this.host.nftables();
    this.host.withLock('nft-bridge-berth', () => {
      const items = this.listTable('bridge');
      if (items.length === 0) return;
      const cmds = teardownSpoofCheck(port, spoofCheckPresent(items, port));
      if (cmds.length) nft.run(cmds);
      if (bridgeTableEmpty(this.listTable('bridge'))) nft.run([deleteTable('bridge', TABLE)]);
    });
  }

  /** The table's listing, or nothing when it does not exist. */
  private listTable(family: 'inet' | 'bridge'): object[] {
    try {
      return this.host.nftables().list(`table ${family} ${TABLE}`);
    } catch (err) {
      if (asBerthError(err).code === 'not-found') return [];
      throw err;
    }
  }

  /** The routes an endpoint's sandbox gets: the requested ones, and the default route through the gateway. */
  private routesOf(net: BridgeNetwork, ep: EndpointSpec): Route[] {
    return sandboxRoutes(ep.addresses, ep.routes, net.options.isDefaultGateway);
  }
}

/** Whether the network has rules in berth's inet table. */
function needsRules(o: BridgeOptions): boolean {
  return o.ipMasq || o.isolateFromOtherNetworks || o.inbound === 'published';
}

function lockName(net: BridgeNetwork): string {
  return `bridge-${net.options.bridge}`;
}

function gatewayAddresses(net: BridgeNetwork): IpWithPrefix[] {
  return net.subnets.filter((s) => s.gateway).map((s) => ({ address: s.gateway!, length: s.subnet.length }));
}

/** What the bridge's alias says once this configuration has been applied to it in full. */
function bridgeMarker(net: BridgeNetwork): string {
  const o = net.options;
  const key = JSON.stringify([
    o.ipMasq,
    ...(o.ipMasqExempt.length ? [o.ipMasqExempt.map(String)] : []),
    o.isolateFromOtherNetworks,
    o.isGateway,
    o.promiscMode,
    o.mtu,
    net.subnets.map((s) => `${s.subnet}/${s.gateway}`),
    ...(o.inbound === 'any' ? [] : [o.inbound]),
  ]);
  return `berth:${stableHash(key)}`;
}

/** Docker: what the sandbox interface is before Docker takes it (its MAC and MTU). */
function waitingPeer(nl: Netlink, name: string): SandboxInterface {
  const l = mustGetLink(nl, name);
  return { ...(l.mac ? { mac: l.mac } : {}), mtu: l.mtu, routes: [] };
}
