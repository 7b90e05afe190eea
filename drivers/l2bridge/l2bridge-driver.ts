/**
 * The l2bridge driver: containers in the host's own subnet, with static addresses, and every
 * frame on the wire carries the host's MAC (what Windows' l2bridge means). The Linux
 * realisation is routed, not bridged (the host routes for its containers and answers for them):
 *
 * - a veth pair per container; the host end stays in the host namespace, on no bridge;
 * - on the host, a /32 (/128) route to each container address through its host veth;
 * - on the uplink, a proxy entry (NTF_PROXY) per container address: the host answers the LAN's
 *   ARP requests and neighbour solicitations for it with the uplink's MAC, then routes what
 *   arrives to the container; IPv4 forwarding, IPv6 forwarding and the uplink's `proxy_ndp` on;
 * - the container's default route through a gateway that answers with the host's MAC (see
 *   GATEWAY4 below), so the container's frames go to the host, which routes them out with its
 *   own MAC;
 * - a gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) on the uplink when an
 *   endpoint appears, so that the LAN's caches and switches learn at once;
 * - with `outboundNat`, the containers' traffic beyond the uplink's prefixes masqueraded
 *   (l2bridge-rules.ts);
 * - the host veths in berth's forward passage, and the uplink's prefixes let in routed, so that
 *   other owners' forward drops (Docker's, ufw's) stop neither the containers nor the LAN.
 *
 * Addresses outside the uplink's prefixes are refused: nobody on the LAN would ask for them.
 */
import { AlreadyExistsError, CheckFailedError, InvalidConfigError, NotFoundError, asBerthError } from '../../core/errors.js';
import { IpAddress, IpPrefix, formatIpWithPrefix, parseIpWithPrefix, prefixOf } from '../../core/ip.js';
import type { Route } from '../../core/model.js';
import { stableHash } from '../../core/stable-hash.js';
import type { LinkInfo, Netlink } from '../../dataplane/linux/ports.js';
import { BestEffort } from '../best-effort.js';
import type { AttachmentKey, Driver, EndpointInfo, EndpointRef, EndpointSpec, JoinInfo, NetworkSpec, RestoreOutcome } from '../driver.js';
import { attachmentLinkName, deleteLinkIgnoringAbsent, mustGetLink } from '../endpoint/links.js';
import { checkSandbox, configureSandbox, removeSandboxLink } from '../endpoint/sandbox.js';
import { collectUnlisted } from '../endpoint/records.js';
import { Rollback } from '../rollback.js';
import { L2BRIDGE_CAPABILITIES } from './capabilities.js';
import type { L2BridgeEndpointRecord } from './endpoint-records.js';
import type { L2BridgeHost } from './l2bridge-host.js';
import type { L2BridgeOptions } from './l2bridge-options.js';
import { addSources, deleteNatTable, deleteSources, ensureNatRules, natTable, sourcesIn } from './l2bridge-rules.js';

type L2BridgeNetwork = NetworkSpec<L2BridgeOptions>;

/** Host-side veth names: `bl` + 12 hex of the attachment, so DEL and GC find them without state. */
const HOST_VETH_PREFIX = 'bl';
/** Docker mode: the container end waits in the host namespace under `bw` + the same 12 hex. */
const WAITING_PREFIX = 'bw';

/**
 * The containers' gateways (CNI). Not an address of the LAN: a link-local address that the
 * container reaches on-link, with a permanent neighbour entry in the container that names the
 * host veth's MAC. So the container never asks for its gateway, the host need not own or answer
 * for it (proxy ARP on the host veth would answer only for addresses the host routes elsewhere,
 * which ties the container's default route to the host's routing table), every container has
 * the same gateway, and the container's subnet has no on-link route (its addresses are added
 * with `noprefixroute`): even a neighbour in the same subnet is reached through the host.
 */
export const GATEWAY4 = IpAddress.parse('169.254.1.1');
export const GATEWAY6 = IpAddress.parse('fe80::1');

const LINK_LOCAL = [IpPrefix.parse('169.254.0.0/16'), IpPrefix.parse('fe80::/10')];
const RT_SCOPE_LINK = 253;

export function hostVethName(network: string, containerId: string, ifname: string): string {
  return attachmentLinkName(HOST_VETH_PREFIX, network, containerId, ifname);
}

export class L2BridgeDriver implements Driver<L2BridgeOptions> {
  readonly name = 'l2bridge' as const;
  readonly capabilities = L2BRIDGE_CAPABILITIES;

  constructor(private readonly host: L2BridgeHost) {}

  /** Docker's CreateNetwork: the uplink must exist and hold the network's subnets; forwarding, proxy settings and the NAT rules. */
  async createNetwork(net: L2BridgeNetwork): Promise<void> {
    const nl = this.host.hostNetlink();
    const uplink = this.uplink(nl, net);
    const subnets = net.subnets.map((s) => s.subnet);
    this.routedPrefixes(nl, uplink, net, subnets);
    this.host.withLock(lockName(net), () => this.ensureNetwork(nl, net, uplink, new Set(subnets.map((s) => s.family))));
  }

  async deleteNetwork(net: L2BridgeNetwork): Promise<void> {
    this.host.withLock(lockName(net), () => this.removeNetwork(net));
  }

  async createEndpoint(net: L2BridgeNetwork, ep: EndpointSpec): Promise<EndpointInfo> {
    const o = net.options;
    const nl = this.host.hostNetlink();
    const place = ep.placement;
    if (place.kind === 'gone') throw new InvalidConfigError(`endpoint ${ep.containerId}/${ep.ifname} has no sandbox to be created in`, { field: 'CNI_NETNS' });
    if (ep.addresses.length === 0) {
      throw new InvalidConfigError(
        `berth-l2bridge network ${net.name} gives containers static addresses in the host's subnet: configure an ipam section (berth-ipam with ranges in ${o.master}'s prefix)`,
        {
          field: 'ipam',
        },
      );
    }
    const uplink = this.uplink(nl, net);
    const addresses = ep.addresses.map((a) => a.address.address);
    const routed = this.routedPrefixes(
      nl,
      uplink,
      net,
      addresses.map((a) => IpPrefix.of(a, a.bits)),
    );
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    const dockerMode = place.kind === 'docker';
    const peerName = dockerMode ? waitingName(net, ep) : ep.ifname;
    const record: L2BridgeEndpointRecord = {
      containerId: ep.containerId,
      ifname: ep.ifname,
      netns: place.kind === 'netns' ? place.path : '',
      hostVeth,
      uplink: o.master,
      addresses: ep.addresses.map((a) => formatIpWithPrefix(a.address)),
      routed: routed.map(String),
    };
    return new Rollback().run(async (rb) => {
      // The record first (under the network's lock, so a concurrent last DEL keeps the network).
      this.host.withLock(lockName(net), () => {
        this.ensureNetwork(nl, net, uplink, new Set(addresses.map((a) => a.family)));
        this.host.records.write(net.name, record);
      });
      rb.push(`forget endpoint ${ep.containerId}/${ep.ifname}`, () => this.forget(net, ep));

      const mtu = o.mtu ?? uplink.mtu;
      this.addVeth(nl, ep, hostVeth, peerName, mtu);
      rb.push(`remove veth ${hostVeth}`, () => this.removeLinks(net, ep, record));
      const hv = mustGetLink(nl, hostVeth);
      if (!hv.mac) throw new NotFoundError(`veth ${hostVeth} has no MAC`);

      let sandbox: { mac?: string; mtu: number };
      let routes: Route[] = [];
      if (place.kind === 'netns') {
        routes = sandboxRoutes(ep);
        const s = configureSandbox(this.host, place.path, ep.ifname, { addresses: ep.addresses, routes, noPrefixRoute: true });
        this.setGatewayNeighbours(place.path, ep, hv.mac);
        // And the host knows the container's MAC: no ARP or solicitation on the veth, which the
        // host could not even send for IPv6 until its link-local address passed DAD.
        if (s.mac) for (const a of addresses) nl.setNeighbour({ index: hv.index, ip: a, mac: s.mac });
        sandbox = s;
      } else {
        // Docker puts the subnet's prefix on the container's interface: the container asks for
        // its neighbours and gateway on-link, and the host veth answers for every address the
        // host routes elsewhere (proxy ARP), for the IPv6 gateways by proxy entries.
        this.dockerHostVeth(nl, net, hv, addresses);
        const w = mustGetLink(nl, peerName);
        sandbox = { ...(w.mac ? { mac: w.mac } : {}), mtu: w.mtu };
      }

      // The host's routes to the container, and the uplink's answers for its addresses.
      for (const a of addresses) nl.replaceRoute({ dst: IpPrefix.of(a, a.bits), oif: hv.index, ...(a.family === 4 ? { scope: RT_SCOPE_LINK } : {}) });
      for (const a of addresses) {
        nl.setNeighbour({ index: uplink.index, ip: a, proxy: true });
        rb.push(`remove the proxy entry of ${a} on ${o.master}`, () => this.unproxy(nl, o.master, [a]));
      }
      if (o.outboundNat) {
        this.host.nftables().run(addSources(net.name, addresses));
        rb.push(`remove ${addresses.join(', ')} from the outbound NAT`, () => this.removeSources(net, addresses));
      }
      this.host.forwardPassage().open(hostVeth, { routedFrom: routed });
      rb.push(`close the forward passage of ${hostVeth}`, () => this.closePassage(net, record));

      this.announce(uplink, addresses);
      return {
        interfaces: [
          { name: hostVeth, mac: hv.mac, mtu: hv.mtu },
          { name: peerName, ...(sandbox.mac ? { mac: sandbox.mac } : {}), mtu: sandbox.mtu, ...(place.kind === 'netns' ? { sandbox: place.path } : {}) },
        ],
        sandboxInterface: 1,
        // CNI: the container's gateway is the link-local one (Docker: the LAN's router, as Docker's IPAM said).
        addresses: place.kind === 'netns' ? ep.addresses.map((a) => ({ address: a.address, gateway: gatewayOf(a.address.address) })) : ep.addresses,
        routes,
      };
    });
  }

  async deleteEndpoint(net: L2BridgeNetwork, ep: EndpointRef): Promise<void> {
    const nl = this.host.hostNetlink();
    const record = this.host.records.read(net.name, ep.containerId, ep.ifname);
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    const parts = new BestEffort();
    // What the kernel still shows of the endpoint counts too (a record lost, a create of an older berth).
    const hv = nl.getLink(hostVeth);
    const routedTo = hv && hv.kind === 'veth' ? nl.listRoutes({ oif: hv.index }).filter((r) => r.dst.length === r.dst.network.bits && !isLinkLocal(r.dst.network)) : [];
    const addresses = uniqueAddresses([...(record?.addresses ?? []).map((a) => parseIpWithPrefix(a).address), ...routedTo.map((r) => r.dst.network)]);
    await parts.attempt(() => this.unproxy(nl, record?.uplink ?? net.options.master, addresses));
    await parts.attempt(() => this.removeLinks(net, ep, record));
    if (net.options.outboundNat || record) await parts.attempt(() => this.removeSources(net, addresses));
    await parts.attempt(() => this.closePassage(net, record ?? { hostVeth, routed: [] }));
    await parts.attempt(() => this.forget(net, ep));
    parts.done();
  }

  async check(net: L2BridgeNetwork, ep: EndpointSpec): Promise<void> {
    const o = net.options;
    const nl = this.host.hostNetlink();
    const uplink = nl.getLink(o.master);
    if (!uplink) throw new CheckFailedError(`the uplink ${o.master} of network ${net.name} does not exist`);
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    const hv = nl.getLink(hostVeth);
    if (!hv || hv.kind !== 'veth') throw new CheckFailedError(`host interface ${hostVeth} of the endpoint does not exist`);
    if (!hv.up) throw new CheckFailedError(`host interface ${hostVeth} is down`);
    const addresses = ep.addresses.map((a) => a.address.address);
    const routes = new Set(nl.listRoutes({ oif: hv.index }).map((r) => r.dst.toString()));
    const proxies = new Set(nl.listNeighbours({ index: uplink.index, proxy: true }).map((n) => n.ip.toString()));
    for (const a of addresses) {
      const dst = IpPrefix.of(a, a.bits);
      if (!routes.has(dst.toString())) throw new CheckFailedError(`the host's route to ${dst} via ${hostVeth} is missing`);
      if (!proxies.has(a.toString())) throw new CheckFailedError(`the proxy entry for ${a} on ${o.master} is missing: the LAN gets no answer for it`);
    }
    const families = new Set(addresses.map((a) => a.family));
    if (families.has(4) && this.host.sysctl.read('net/ipv4/ip_forward').trim() !== '1') throw new CheckFailedError('IPv4 forwarding is off (net.ipv4.ip_forward)');
    if (families.has(6)) {
      if (this.host.sysctl.read(`net/ipv6/conf/${o.master}/forwarding`).trim() !== '1') throw new CheckFailedError(`IPv6 forwarding is off on ${o.master}`);
      if (this.host.sysctl.read(`net/ipv6/conf/${o.master}/proxy_ndp`).trim() !== '1') throw new CheckFailedError(`proxy NDP is off on ${o.master} (net.ipv6.conf.${o.master}.proxy_ndp)`);
    }
    if (o.outboundNat) {
      const listing = this.listNatTable(net);
      if (!listing) throw new CheckFailedError(`the outbound NAT table inet ${natTable(net.name).table} of network ${net.name} is missing`);
      const sources = new Set(sourcesIn(listing));
      for (const a of addresses) if (!sources.has(a.toString())) throw new CheckFailedError(`${a} is missing from the outbound NAT of network ${net.name}`);
    }
    // Docker: the sandbox side belongs to Docker, which addresses it itself.
    if (ep.placement.kind === 'docker') return;
    if (ep.placement.kind === 'gone') throw new CheckFailedError(`endpoint ${ep.containerId}/${ep.ifname} has no sandbox to check`);
    checkSandbox(this.host, ep.placement.path, ep.ifname, { addresses: ep.addresses, routes: sandboxRoutes(ep), ...(ep.mac ? { mac: ep.mac } : {}) });
    const snl = this.host.sandboxNetlink(ep.placement.path);
    try {
      const link = snl.getLink(ep.ifname)!;
      const neighbours = snl.listNeighbours({ index: link.index });
      for (const gw of gatewaysOf(addresses)) {
        const n = neighbours.find((x) => x.ip.equals(gw));
        if (!n || n.mac !== hv.mac) throw new CheckFailedError(`the gateway ${gw} in ${ep.placement.path} does not lead to the host veth ${hostVeth} (${hv.mac})`);
      }
      const known = nl.listNeighbours({ index: hv.index });
      for (const a of addresses) {
        if (!known.some((n) => n.ip.equals(a) && n.mac === link.mac)) throw new CheckFailedError(`the host does not hold ${a} at the container's MAC ${link.mac} on ${hostVeth}`);
      }
    } finally {
      snl.close();
    }
  }

  async gc(net: L2BridgeNetwork, valid: readonly AttachmentKey[]): Promise<void> {
    await collectUnlisted(this.host.records, net.name, valid, (ref) => this.deleteEndpoint(net, ref));
  }

  /** Docker's Join: the LAN's router as the gateway, as Docker's IPAM was told (--gateway). */
  join(net: L2BridgeNetwork): JoinInfo {
    const gw = (family: 4 | 6) => net.subnets.find((s) => s.gateway && s.subnet.family === family)?.gateway;
    const gateway4 = gw(4);
    const gateway6 = gw(6);
    return { routes: [], ...(gateway4 ? { gateway4 } : {}), ...(gateway6 ? { gateway6 } : {}) };
  }

  /**
   * {@inheritDoc Driver.restore}
   *
   * The endpoint is its veth pair; what can need putting back is on the host: the veth up, the
   * routes to the container, the proxy entries on the uplink, the NAT sources and the passage.
   */
  async restore(net: L2BridgeNetwork, ep: EndpointRef): Promise<RestoreOutcome> {
    const nl = this.host.hostNetlink();
    const hostVeth = hostVethName(net.name, ep.containerId, ep.ifname);
    const hv = nl.getLink(hostVeth);
    if (!hv || hv.kind !== 'veth') return 'lost';
    const record = this.host.records.read(net.name, ep.containerId, ep.ifname);
    if (!record) return 'lost';
    const uplink = this.uplink(nl, net);
    const addresses = record.addresses.map((a) => parseIpWithPrefix(a).address);
    let changed = false;
    if (!hv.up) {
      nl.setLink(hv.index, { up: true });
      changed = true;
    }
    const routes = new Set(nl.listRoutes({ oif: hv.index }).map((r) => r.dst.toString()));
    const proxies = new Set(nl.listNeighbours({ index: uplink.index, proxy: true }).map((n) => n.ip.toString()));
    for (const a of addresses) {
      const dst = IpPrefix.of(a, a.bits);
      if (!routes.has(dst.toString())) {
        nl.replaceRoute({ dst, oif: hv.index, ...(a.family === 4 ? { scope: RT_SCOPE_LINK } : {}) });
        changed = true;
      }
      if (!proxies.has(a.toString())) {
        nl.setNeighbour({ index: uplink.index, ip: a, proxy: true });
        changed = true;
      }
    }
    const containerMac = ep.placement.kind === 'netns' ? this.sandboxMac(ep.placement.path, ep.ifname) : undefined;
    if (containerMac) {
      const known = nl.listNeighbours({ index: hv.index });
      for (const a of addresses) {
        if (known.some((n) => n.ip.equals(a) && n.mac === containerMac)) continue;
        nl.setNeighbour({ index: hv.index, ip: a, mac: containerMac });
        changed = true;
      }
    }
    if (net.options.outboundNat) {
      const have = new Set(sourcesIn(this.listNatTable(net) ?? []));
      if (addresses.some((a) => !have.has(a.toString()))) {
        this.host.nftables().run(addSources(net.name, addresses));
        changed = true;
      }
    }
    this.host.forwardPassage().open(hostVeth, { routedFrom: record.routed.map((p) => IpPrefix.parse(p)) });
    if (changed) this.announce(uplink, addresses);
    return changed ? 'reattached' : 'ok';
  }

  // --- the network ---

  /**
   * What every endpoint of the network relies on, made idempotently: forwarding, the uplink's
   * proxy settings for the families in use, and the NAT rules. Caller holds the network lock.
   */
  private ensureNetwork(nl: Netlink, net: L2BridgeNetwork, uplink: LinkInfo, families: ReadonlySet<number>): void {
    const dev = uplink.name;
    if (families.has(4)) {
      this.ensureSysctl('net/ipv4/ip_forward', '1');
      // Proxy answers to broadcast requests wait up to proxy_delay (0.8 s) unless it is 0.
      this.ensureSysctl(`net/ipv4/neigh/${dev}/proxy_delay`, '0');
    }
    if (families.has(6)) {
      // A forwarding interface ignores router advertisements unless accept_ra is 2: keep the
      // host's own autoconfiguration on the uplink working.
      if (this.host.sysctl.read(`net/ipv6/conf/${dev}/accept_ra`).trim() === '1') this.host.sysctl.write(`net/ipv6/conf/${dev}/accept_ra`, '2');
      this.ensureSysctl('net/ipv6/conf/all/forwarding', '1');
      this.ensureSysctl(`net/ipv6/conf/${dev}/forwarding`, '1');
      this.ensureSysctl(`net/ipv6/conf/${dev}/proxy_ndp`, '1');
      this.ensureSysctl(`net/ipv6/neigh/${dev}/proxy_delay`, '0');
    }
    if (net.options.outboundNat) {
      const local = nl
        .listAddresses({ index: uplink.index })
        .map((a) => prefixOf(a.address))
        .filter((p) => !isLinkLocal(p.network));
      const exempt = [...local, ...net.subnets.map((s) => s.subnet)].filter((p, i, all) => all.findIndex((q) => q.toString() === p.toString()) === i);
      this.host.nftables().run(ensureNatRules(net.name, exempt));
    }
  }

  /** Removes the network's rules. Caller holds the network lock. */
  private removeNetwork(net: L2BridgeNetwork): void {
    if (this.listNatTable(net)) this.host.nftables().run(deleteNatTable(net.name));
  }

  private ensureSysctl(key: string, value: string): void {
    if (this.host.sysctl.read(key).trim() !== value) this.host.sysctl.write(key, value);
  }

  private listNatTable(net: L2BridgeNetwork): object[] | undefined {
    try {
      return this.host.nftables().list(`table inet ${natTable(net.name).table}`);
    } catch (err) {
      if (asBerthError(err).code === 'not-found') return undefined;
      throw err;
    }
  }

  // --- the endpoint's parts ---

  private addVeth(nl: Netlink, ep: EndpointSpec, hostVeth: string, peerName: string, mtu: number): void {
    const place = ep.placement;
    const fd = place.kind === 'netns' ? this.host.openNetnsFd(place.path) : undefined;
    try {
      const veth = {
        kind: 'veth' as const,
        name: hostVeth,
        up: true,
        mtu,
        peer: { name: peerName, mtu, ...(fd !== undefined ? { netnsFd: fd } : {}), ...(ep.mac ? { mac: ep.mac } : {}) },
      };
      try {
        nl.addLink(veth);
      } catch (err) {
        // A host veth (or, in Docker mode, a waiting peer) of this very attachment can only be
        // left from a create that was killed; replace it. Otherwise the clash is in the sandbox.
        const stale = err instanceof AlreadyExistsError ? (nl.getLink(hostVeth) ?? (place.kind === 'docker' ? nl.getLink(peerName) : undefined)) : undefined;
        if (!stale) {
          if (err instanceof AlreadyExistsError) {
            throw new AlreadyExistsError(`Interface "${ep.ifname}" already exists in ${place.kind === 'netns' ? place.path : 'the host namespace'}`, { field: 'CNI_IFNAME', value: ep.ifname });
          }
          throw err;
        }
        deleteLinkIgnoringAbsent(nl, stale.index);
        nl.addLink(veth);
      }
    } finally {
      if (fd !== undefined) this.host.closeFd(fd);
    }
  }

  /** The container's gateways lead to the host veth: permanent neighbour entries in the sandbox. */
  private setGatewayNeighbours(path: string, ep: EndpointSpec, hostMac: string): void {
    const snl = this.host.sandboxNetlink(path);
    try {
      const link = mustGetLink(snl, ep.ifname);
      for (const gw of gatewaysOf(ep.addresses.map((a) => a.address.address))) snl.setNeighbour({ index: link.index, ip: gw, mac: hostMac });
    } finally {
      snl.close();
    }
  }

  /** The MAC of the sandbox's interface; undefined when the sandbox or the interface is gone. */
  private sandboxMac(path: string, ifname: string): string | undefined {
    if (!this.host.netnsExists(path)) return undefined;
    const snl = this.host.sandboxNetlink(path);
    try {
      return snl.getLink(ifname)?.mac;
    } finally {
      snl.close();
    }
  }

  /** Docker mode: the host veth answers the container's on-link requests for what the host routes elsewhere. */
  private dockerHostVeth(nl: Netlink, net: L2BridgeNetwork, hv: LinkInfo, addresses: readonly IpAddress[]): void {
    if (addresses.some((a) => a.family === 4)) this.host.sysctl.write(`net/ipv4/conf/${hv.name}/proxy_arp`, '1');
    const gateways6 = net.subnets.filter((s) => s.subnet.family === 6 && s.gateway).map((s) => s.gateway!);
    if (addresses.some((a) => a.family === 6) && gateways6.length) {
      this.host.sysctl.write(`net/ipv6/conf/${hv.name}/proxy_ndp`, '1');
      for (const gw of gateways6) nl.setNeighbour({ index: hv.index, ip: gw, proxy: true });
    }
  }

  /** Removes the sandbox end (CNI), the host veth and a waiting peer (Docker). */
  private removeLinks(net: L2BridgeNetwork, ep: EndpointRef, record: L2BridgeEndpointRecord | undefined): void {
    const nl = this.host.hostNetlink();
    // Only a veth (whose peer is our host end) is ours to delete in the sandbox.
    if (ep.placement.kind === 'netns') removeSandboxLink(this.host, ep.placement.path, ep.ifname, 'veth');
    else if (ep.placement.kind === 'gone' && record?.netns) removeSandboxLink(this.host, record.netns, ep.ifname, 'veth');
    const hv = nl.getLink(hostVethName(net.name, ep.containerId, ep.ifname));
    if (hv && hv.kind === 'veth') deleteLinkIgnoringAbsent(nl, hv.index);
    if (ep.placement.kind !== 'netns') {
      const waiting = nl.getLink(waitingName(net, ep));
      if (waiting && waiting.kind === 'veth') deleteLinkIgnoringAbsent(nl, waiting.index);
    }
  }

  /** Withdraws the uplink's proxy entries for `addresses`; an uplink or entry already gone is fine. */
  private unproxy(nl: Netlink, uplinkName: string, addresses: readonly IpAddress[]): void {
    const uplink = nl.getLink(uplinkName);
    if (!uplink) return;
    for (const a of addresses) {
      try {
        nl.deleteNeighbour({ index: uplink.index, ip: a, proxy: true });
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  private removeSources(net: L2BridgeNetwork, addresses: readonly IpAddress[]): void {
    if (addresses.length === 0 || !this.listNatTable(net)) return;
    this.host.nftables().run(deleteSources(net.name, addresses));
  }

  /**
   * Takes the host veth out of the forward passage, and the routed prefixes with the last
   * endpoint (of any l2bridge network of the host) whose addresses lie in them.
   */
  private closePassage(net: L2BridgeNetwork, record: Pick<L2BridgeEndpointRecord, 'hostVeth' | 'routed'>): void {
    const still = new Set(
      this.host.records
        .listAll()
        .filter((r) => r.hostVeth !== record.hostVeth)
        .flatMap((r) => r.routed),
    );
    const unused = record.routed.filter((p) => !still.has(p)).map((p) => IpPrefix.parse(p));
    this.host.forwardPassage().close(record.hostVeth, unused.length ? { routedFrom: unused } : {});
  }

  /** Drops the endpoint's record; the network's rules go with the last one of a network that follows its endpoints. */
  private forget(net: L2BridgeNetwork, ep: AttachmentKey): void {
    this.host.withLock(lockName(net), () => {
      this.host.records.remove(net.name, ep.containerId, ep.ifname);
      if (net.followsEndpoints && this.host.records.list(net.name).length === 0) this.removeNetwork(net);
    });
  }

  /** Best effort: the kernel answers the LAN's questions either way; the announcement only hurries its caches. */
  private announce(uplink: LinkInfo, addresses: readonly IpAddress[]): void {
    if (!uplink.mac) return;
    for (const a of addresses) {
      try {
        this.host.announce({ index: uplink.index, name: uplink.name, mac: uplink.mac }, a);
      } catch {
        // An uplink without IPv6 cannot send the advertisement; nothing depends on it.
      }
    }
  }

  // --- checks ---

  private uplink(nl: Netlink, net: L2BridgeNetwork): LinkInfo {
    const l = nl.getLink(net.options.master);
    if (!l) {
      throw new InvalidConfigError(`berth-l2bridge network ${net.name}: the uplink "${net.options.master}" does not exist on this host`, {
        field: 'master',
        value: net.options.master,
      });
    }
    return l;
  }

  /**
   * The uplink's prefixes that hold `wanted` (each must lie in one: the containers are hosts of
   * the uplink's subnet, and nobody on the LAN would ask for an address outside it).
   */
  private routedPrefixes(nl: Netlink, uplink: LinkInfo, net: L2BridgeNetwork, wanted: readonly IpPrefix[]): IpPrefix[] {
    const own = nl.listAddresses({ index: uplink.index }).map((a) => a.address);
    const prefixes = own.map((a) => prefixOf(a)).filter((p) => !isLinkLocal(p.network));
    const used: IpPrefix[] = [];
    for (const w of wanted) {
      const mine = own.find((a) => w.length === w.network.bits && a.address.equals(w.network));
      if (mine) {
        throw new InvalidConfigError(`berth-l2bridge network ${net.name}: ${w.network} is the host's own address on ${net.options.master}: leave it out of the IPAM ranges`, {
          field: 'ipam',
          value: w.network.toString(),
        });
      }
      const p = prefixes.find((x) => x.family === w.family && x.length <= w.length && x.contains(w.network));
      if (!p) {
        const held = prefixes.map(String).join(', ') || 'none';
        const shown = w.length === w.network.bits ? w.network.toString() : w.toString();
        throw new InvalidConfigError(`berth-l2bridge network ${net.name}: ${shown} is outside the prefixes of uplink ${net.options.master} (${held})`, { field: 'ipam', value: shown });
      }
      if (!used.some((u) => u.toString() === p.toString())) used.push(p);
    }
    return used;
  }
}

/** The routes a CNI container gets: everything through its gateway, the requested routes too. */
function sandboxRoutes(ep: EndpointSpec): Route[] {
  const families = new Set(ep.addresses.map((a) => a.address.address.family));
  const routes: Route[] = [];
  if (families.has(4)) routes.push({ dst: IpPrefix.of(GATEWAY4, 32), scope: RT_SCOPE_LINK });
  for (const r of ep.routes) {
    if (!families.has(r.dst.family)) continue;
    // The default route and the gateway's own are the driver's (CHECK gets them back from the result).
    if (r.dst.length === 0 || (r.dst.length === r.dst.network.bits && r.dst.network.equals(gatewayOf(r.dst.network)))) continue;
    routes.push({ ...r, gw: gatewayOf(r.dst.network) });
  }
  if (families.has(4)) routes.push({ dst: IpPrefix.parse('0.0.0.0/0'), gw: GATEWAY4 });
  if (families.has(6)) routes.push({ dst: IpPrefix.parse('::/0'), gw: GATEWAY6 });
  return routes;
}

function gatewayOf(a: IpAddress): IpAddress {
  return a.family === 4 ? GATEWAY4 : GATEWAY6;
}

function gatewaysOf(addresses: readonly IpAddress[]): IpAddress[] {
  const families = new Set(addresses.map((a) => a.family));
  return [...(families.has(4) ? [GATEWAY4] : []), ...(families.has(6) ? [GATEWAY6] : [])];
}

function isLinkLocal(a: IpAddress): boolean {
  return LINK_LOCAL.some((l) => l.contains(a));
}

function uniqueAddresses(list: readonly IpAddress[]): IpAddress[] {
  return list.filter((a, i) => list.findIndex((b) => b.equals(a)) === i);
}

function lockName(net: L2BridgeNetwork): string {
  return `l2bridge-${stableHash(net.name, 12)}`;
}

function waitingName(net: L2BridgeNetwork, ep: AttachmentKey): string {
  return attachmentLinkName(WAITING_PREFIX, net.name, ep.containerId, ep.ifname);
}
