/**
 * The macvlan drivers: transparent (bridge mode: containers are peers on the uplink's network,
 * each with its own MAC; static addresses or DHCP) and l2tunnel (VEPA mode: even two containers
 * of one host talk through the upstream switch, which can apply policy; static addresses in
 * the host's own subnet).
 *
 * Per endpoint: a macvlan interface on the uplink, created directly in the sandbox (CNI) or
 * waiting in the host namespace for Docker to move it. Nothing else on the host, except with
 * `hostShim`: a macvlan interface of the host on the same uplink and a /32 route per container
 * through it (the kernel keeps a macvlan parent and its children apart).
 */
import { AlreadyExistsError, CheckFailedError, InvalidConfigError, TryAgainError, asBerthError } from '../../core/errors.js';
import { IpAddress, IpPrefix, parseIpWithPrefix, prefixOf } from '../../core/ip.js';
import type { AssignedAddress, DriverName, Route } from '../../core/model.js';
import { stableHash } from '../../core/stable-hash.js';
import type { LinkInfo, Netlink } from '../../dataplane/linux/ports.js';
import type { DhcpClient } from '../dhcp.js';
import type { AttachmentKey, Driver, DriverCapabilities, EndpointInfo, EndpointRef, EndpointSpec, JoinInfo, NetworkSpec, RestoreOutcome } from '../driver.js';
import { attachmentLinkName, deleteLinkIgnoringAbsent, mustGetLink } from '../endpoint/links.js';
import { checkSandbox, configureSandbox, removeSandboxLink, sandboxRoutes } from '../endpoint/sandbox.js';
import { collectUnlisted } from '../endpoint/records.js';
import { Rollback } from '../rollback.js';
import type { EndpointRecord } from './endpoint-records.js';
import type { MacvlanHost } from './macvlan-host.js';
import type { MacvlanOptions } from './macvlan-options.js';

type MacvlanNetwork = NetworkSpec<MacvlanOptions>;

/** Docker mode: the container's interface waits in the host namespace under this prefix. */
const WAITING_PREFIX = 'bm';
/** berthd's own namespace, where a Docker endpoint's interface waits (and takes its lease). */
const HOST_NETNS = '/proc/self/ns/net';

export interface MacvlanDriverDeps {
  readonly name: DriverName;
  readonly capabilities: DriverCapabilities;
  readonly host: MacvlanHost;
  /** berthd's DHCP client; absent in a plugin process. */
  readonly dhcp?: DhcpClient;
}

export class MacvlanDriver implements Driver<MacvlanOptions> {
  readonly name: DriverName;
  readonly capabilities: DriverCapabilities;
  private readonly host: MacvlanHost;

  constructor(private readonly deps: MacvlanDriverDeps) {
    this.name = deps.name;
    this.capabilities = deps.capabilities;
    this.host = deps.host;
  }

  async createNetwork(net: MacvlanNetwork): Promise<void> {
    const nl = this.host.hostNetlink();
    const uplink = this.uplink(nl, net);
    // A network made explicitly (Docker) names its subnets: refuse one outside the host's now.
    if (net.options.inUplinkPrefix)
      this.checkInUplinkPrefix(
        nl,
        uplink,
        net,
        net.subnets.map((s) => ({ address: { address: s.subnet.network, length: s.subnet.length } })),
      );
    if (net.options.hostShim) this.host.withLock(lockName(net), () => this.ensureShim(nl, net));
  }

  async deleteNetwork(net: MacvlanNetwork): Promise<void> {
    const nl = this.host.hostNetlink();
    this.host.withLock(lockName(net), () => this.removeShim(nl, net));
  }

  async createEndpoint(net: MacvlanNetwork, ep: EndpointSpec): Promise<EndpointInfo> {
    const o = net.options;
    const nl = this.host.hostNetlink();
    const place = ep.placement;
    if (place.kind === 'gone') throw new InvalidConfigError(`endpoint ${ep.containerId}/${ep.ifname} has no sandbox to be created in`, { field: 'CNI_NETNS' });
    const uplink = this.uplink(nl, net);
    if (o.dhcp && !this.deps.dhcp) {
      throw new TryAgainError(`${this.name} network ${net.name} leases addresses by DHCP, which berthd's client does: berthd must be running`, { field: 'ipam.type', value: 'berth-dhcp' });
    }
    if (o.inUplinkPrefix) this.checkInUplinkPrefix(nl, uplink, net, ep.addresses);
    const mac = ep.mac ?? o.mac;
    const name = place.kind === 'netns' ? ep.ifname : waitingName(net, ep);
    return new Rollback().run(async (rb) => {
      if (o.hostShim && net.followsEndpoints) {
        this.host.withLock(lockName(net), () => this.ensureShim(nl, net));
        rb.push('remove the host shim unless in use', () => this.removeShimIfUnused(nl, net));
      }
      const fd = place.kind === 'netns' ? this.host.openNetnsFd(place.path) : undefined;
      try {
        // Up at once for DHCP: the exchange goes out of it before any address is on it.
        const up = place.kind === 'netns' || o.dhcp ? { up: true } : {};
        const spec = {
          kind: 'macvlan' as const,
          name,
          parent: uplink.index,
          mode: o.mode,
          ...up,
          ...(o.mtu ? { mtu: o.mtu } : {}),
          ...(mac ? { mac } : {}),
          ...(fd !== undefined ? { netnsFd: fd } : {}),
        };
        try {
          nl.addLink(spec);
        } catch (err) {
          if (!(err instanceof AlreadyExistsError)) throw err;
          // Docker mode: a waiting interface of this very endpoint is left from a killed create.
          const stale = place.kind === 'docker' ? nl.getLink(name) : undefined;
          if (!stale)
            throw new AlreadyExistsError(`Interface "${ep.ifname}" already exists in ${place.kind === 'netns' ? place.path : 'the host namespace'}`, { field: 'CNI_IFNAME', value: ep.ifname });
          deleteLinkIgnoringAbsent(nl, stale.index);
          nl.addLink(spec);
        }
      } finally {
        if (fd !== undefined) this.host.closeFd(fd);
      }
      rb.push(`remove ${name}`, () => this.removeLink(net, ep));

      let addresses: readonly AssignedAddress[] = ep.addresses;
      let leaseRoutes: readonly Route[] = [];
      let dhcpKey: string | undefined;
      if (o.dhcp) {
        // Docker: the lease is taken in the host namespace, where the interface waits for Join;
        // it follows the interface into the sandbox then (join()).
        // (The client reads replies from the link layer: the host's routes and reverse-path filter do not matter.)
        const where = place.kind === 'netns' ? { netnsPath: place.path, ifname: ep.ifname } : { netnsPath: HOST_NETNS, ifname: name };
        const link = place.kind === 'netns' ? this.sandboxLink(place.path, ep.ifname) : mustGetLink(nl, name);
        dhcpKey = leaseKey(net, ep);
        const lease = await this.deps.dhcp!.acquire({ key: dhcpKey, ...where, mac: link.mac ?? '', ...(ep.workload ? { hostname: ep.workload.name } : {}) });
        const key = dhcpKey;
        rb.push(`release the DHCP lease ${key}`, () => this.deps.dhcp!.release(key));
        addresses = [{ address: lease.address, ...(lease.gateway ? { gateway: lease.gateway } : {}) }];
        leaseRoutes = lease.routes;
      }

      let sandbox: { mac?: string; mtu: number; routes: Route[] };
      if (place.kind === 'netns') {
        // The lease's routes as the server gave them (on-link ones have no gateway); a default
        // route via the gateway only when they hold none.
        const leaseDefault = leaseRoutes.some((r) => r.dst.length === 0);
        const routes = [...leaseRoutes, ...sandboxRoutes(addresses, ep.routes, !leaseDefault)];
        sandbox = configureSandbox(this.host, place.path, ep.ifname, { addresses, routes });
      } else {
        const l = mustGetLink(nl, name);
        sandbox = { ...(l.mac ? { mac: l.mac } : {}), mtu: l.mtu, routes: [] };
      }
      const record: EndpointRecord = {
        containerId: ep.containerId,
        ifname: ep.ifname,
        netns: place.kind === 'netns' ? place.path : '',
        addresses: addresses.map((a) => `${a.address.address}/${a.address.length}`),
        ...(dhcpKey ? { dhcpKey } : {}),
      };
      if (o.hostShim) this.routeViaShim(nl, net, record);
      this.host.records.write(net.name, record);
      rb.push('remove the endpoint record', () => this.host.records.remove(net.name, ep.containerId, ep.ifname));
      return {
        interfaces: [{ name, ...(sandbox.mac ? { mac: sandbox.mac } : {}), mtu: sandbox.mtu, ...(place.kind === 'netns' ? { sandbox: place.path } : {}) }],
        sandboxInterface: 0,
        addresses,
        routes: sandbox.routes,
      };
    });
  }

  async deleteEndpoint(net: MacvlanNetwork, ep: EndpointRef): Promise<void> {
    const record = this.host.records.read(net.name, ep.containerId, ep.ifname);
    // The lease first: DHCPRELEASE goes out of the container's interface while it exists.
    if (record?.dhcpKey && this.deps.dhcp) {
      // Docker has moved the interface back to the host namespace by now, down: release from there.
      const waiting = ep.placement.kind === 'docker' && this.deps.dhcp.lease(record.dhcpKey) ? this.host.hostNetlink().getLink(waitingName(net, ep)) : undefined;
      if (waiting) {
        if (!waiting.up) this.host.hostNetlink().setLink(waiting.index, { up: true });
        await this.deps.dhcp.follow(record.dhcpKey, HOST_NETNS);
      }
      await this.deps.dhcp.release(record.dhcpKey);
    }
    await this.removeLink(net, ep, record);
    const nl = this.host.hostNetlink();
    if (record && net.options.hostShim) this.unrouteViaShim(nl, net, record);
    this.host.records.remove(net.name, ep.containerId, ep.ifname);
    if (net.followsEndpoints && net.options.hostShim) this.removeShimIfUnused(nl, net);
  }

  async check(net: MacvlanNetwork, ep: EndpointSpec): Promise<void> {
    const nl = this.host.hostNetlink();
    this.uplink(nl, net);
    const record = this.host.records.read(net.name, ep.containerId, ep.ifname);
    if (!record) throw new CheckFailedError(`endpoint ${ep.containerId}/${ep.ifname} of network ${net.name} is not known on this host`);
    if (ep.placement.kind === 'docker') return;
    if (ep.placement.kind === 'gone') throw new CheckFailedError(`endpoint ${ep.containerId}/${ep.ifname} has no sandbox to check`);
    const link = this.sandboxLink(ep.placement.path, ep.ifname);
    if (link.kind !== 'macvlan') throw new CheckFailedError(`${ep.ifname} in ${ep.placement.path} is a ${link.kind} link, not a macvlan interface`);
    const addresses = ep.addresses.length ? ep.addresses : record.addresses.map((a) => ({ address: parseIpWithPrefix(a) }));
    checkSandbox(this.host, ep.placement.path, ep.ifname, { addresses, routes: [], ...(ep.mac ? { mac: ep.mac } : {}) });
    if (record.dhcpKey && !this.deps.dhcp?.lease(record.dhcpKey)) throw new CheckFailedError(`the DHCP lease of ${ep.containerId}/${ep.ifname} is not held`);
    if (net.options.hostShim) {
      const shim = nl.getLink(shimName(net));
      if (!shim) throw new CheckFailedError(`the host shim ${shimName(net)} of network ${net.name} does not exist`);
      const routes = nl.listRoutes({ oif: shim.index });
      for (const a of record.addresses) {
        const dst = hostRoute(a);
        if (!routes.some((r) => r.dst.toString() === dst.toString())) throw new CheckFailedError(`the host's route to ${dst} via ${shimName(net)} is missing`);
      }
    }
  }

  async gc(net: MacvlanNetwork, valid: readonly AttachmentKey[]): Promise<void> {
    await collectUnlisted(this.host.records, net.name, valid, (ref) => this.deleteEndpoint(net, ref));
  }

  /**
   * Docker's Join: the LAN's router, as Docker's IPAM was told (--gateway) or the DHCP lease
   * named it. A lease follows its interface into the sandbox.
   */
  async join(net: MacvlanNetwork, ep: EndpointSpec, sandbox?: string): Promise<JoinInfo> {
    if (net.options.dhcp) {
      const record = this.host.records.read(net.name, ep.containerId, ep.ifname);
      if (record?.dhcpKey && sandbox && this.deps.dhcp) await this.deps.dhcp.follow(record.dhcpKey, sandbox);
      const gateway4 = ep.addresses.find((a) => a.gateway?.family === 4)?.gateway;
      return { routes: [], ...(gateway4 ? { gateway4 } : {}) };
    }
    const gw = (family: 4 | 6) => net.subnets.find((s) => s.gateway && s.subnet.family === family)?.gateway;
    const gateway4 = gw(4);
    const gateway6 = gw(6);
    return { routes: [], ...(gateway4 ? { gateway4 } : {}), ...(gateway6 ? { gateway6 } : {}) };
  }

  /** The interface lives in the sandbox; what can need putting back is the host shim's route to it. */
  async restore(net: MacvlanNetwork, ep: EndpointRef): Promise<RestoreOutcome> {
    const record = this.host.records.read(net.name, ep.containerId, ep.ifname);
    if (!record) return 'lost';
    if (ep.placement.kind === 'netns') {
      const snl = this.host.netnsExists(ep.placement.path) ? this.host.sandboxNetlink(ep.placement.path) : undefined;
      try {
        if (!snl?.getLink(ep.ifname)) return 'lost';
      } finally {
        snl?.close();
      }
    }
    if (!net.options.hostShim) return 'ok';
    const nl = this.host.hostNetlink();
    const shim = this.host.withLock(lockName(net), () => this.ensureShim(nl, net));
    const present = new Set(nl.listRoutes({ oif: shim.index }).map((r) => r.dst.toString()));
    if (record.addresses.every((a) => present.has(hostRoute(a).toString()))) return 'ok';
    this.routeViaShim(nl, net, record);
    return 'reattached';
  }

  // --- parts ---

  private uplink(nl: Netlink, net: MacvlanNetwork): LinkInfo {
    const l = nl.getLink(net.options.master);
    if (!l) throw new InvalidConfigError(`${this.name} network ${net.name}: the uplink "${net.options.master}" does not exist on this host`, { field: 'master', value: net.options.master });
    return l;
  }

  /** l2tunnel: the containers live in the host's own subnet; an address outside it would never be answered. */
  private checkInUplinkPrefix(nl: Netlink, uplink: LinkInfo, net: MacvlanNetwork, addresses: readonly AssignedAddress[]): void {
    // Link-local prefixes are every link's: not the host's subnet.
    const linkLocal = [IpPrefix.parse('169.254.0.0/16'), IpPrefix.parse('fe80::/10')];
    const prefixes = nl
      .listAddresses({ index: uplink.index })
      .map((a) => prefixOf(a.address))
      .filter((p) => !linkLocal.some((l) => l.contains(p.network)));
    for (const a of addresses) {
      if (!prefixes.some((p) => p.contains(a.address.address))) {
        const held = prefixes.map(String).join(', ') || 'none';
        throw new InvalidConfigError(`${this.name} network ${net.name}: ${a.address.address} is outside the prefixes of uplink ${net.options.master} (${held})`, {
          field: 'ipam',
          value: a.address.address.toString(),
        });
      }
    }
  }

  private sandboxLink(path: string, ifname: string): LinkInfo {
    const snl = this.host.sandboxNetlink(path);
    try {
      return mustGetLink(snl, ifname);
    } finally {
      snl.close();
    }
  }

  private async removeLink(net: MacvlanNetwork, ep: EndpointRef, record = this.host.records.read(net.name, ep.containerId, ep.ifname)): Promise<void> {
    if (ep.placement.kind === 'netns') removeSandboxLink(this.host, ep.placement.path, ep.ifname, 'macvlan');
    else if (ep.placement.kind === 'gone' && record?.netns) removeSandboxLink(this.host, record.netns, ep.ifname, 'macvlan');
    const nl = this.host.hostNetlink();
    const waiting = nl.getLink(waitingName(net, ep));
    if (waiting && waiting.kind === 'macvlan') deleteLinkIgnoringAbsent(nl, waiting.index);
  }

  private ensureShim(nl: Netlink, net: MacvlanNetwork): LinkInfo {
    const name = shimName(net);
    const have = nl.getLink(name);
    if (have && have.up) return have;
    if (!have) {
      try {
        nl.addLink({ kind: 'macvlan', name, parent: this.uplink(nl, net).index, mode: 'bridge', up: true });
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) throw err;
      }
    }
    const shim = mustGetLink(nl, name);
    if (!shim.up) nl.setLink(shim.index, { up: true });
    return shim;
  }

  /** The shim goes with the last endpoint of a network that follows its endpoints. */
  private removeShimIfUnused(nl: Netlink, net: MacvlanNetwork): void {
    this.host.withLock(lockName(net), () => {
      if (this.host.records.list(net.name).length === 0) this.removeShim(nl, net);
    });
  }

  private removeShim(nl: Netlink, net: MacvlanNetwork): void {
    const shim = nl.getLink(shimName(net));
    if (shim && shim.kind === 'macvlan') deleteLinkIgnoringAbsent(nl, shim.index);
  }

  private routeViaShim(nl: Netlink, net: MacvlanNetwork, r: EndpointRecord): void {
    const shim = mustGetLink(nl, shimName(net));
    for (const a of r.addresses) nl.replaceRoute({ dst: hostRoute(a), oif: shim.index, scope: 253 });
  }

  private unrouteViaShim(nl: Netlink, net: MacvlanNetwork, r: EndpointRecord): void {
    const shim = nl.getLink(shimName(net));
    if (!shim) return;
    for (const a of r.addresses) {
      try {
        nl.deleteRoute({ dst: hostRoute(a), oif: shim.index });
      } catch (err) {
        if (asBerthError(err).code !== 'not-found') throw err;
      }
    }
  }
}

function lockName(net: MacvlanNetwork): string {
  return `macvlan-${stableHash(net.name, 12)}`;
}

/** The host shim of a network: `bsh` + 11 hex of its name. */
export function shimName(net: { readonly name: string }): string {
  return `bsh${stableHash(net.name, 11)}`;
}

function waitingName(net: MacvlanNetwork, ep: AttachmentKey): string {
  return attachmentLinkName(WAITING_PREFIX, net.name, ep.containerId, ep.ifname);
}

/** The lease's key: stable for the attachment, safe as a file name and a client identifier. */
function leaseKey(net: MacvlanNetwork, ep: AttachmentKey): string {
  return `${net.name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${stableHash(`${net.name}\0${ep.containerId}\0${ep.ifname}`, 16)}`;
}

/** A container's address as the host's /32 (/128) route through the shim. */
function hostRoute(cidr: string): IpPrefix {
  const a = IpAddress.parse(cidr.split('/')[0]!);
  return IpPrefix.of(a, a.bits);
}
