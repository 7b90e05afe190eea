/**
 * The narrow ports through which drivers reach the Linux network stack. Drivers receive
 * implementations of these in their constructor and never import the FFI modules.
 * Each method names the equivalent `ip`/`bridge`/`nft` command in its doc comment.
 *
 * Errors: every method throws core/errors classes: NotFoundError (ENODEV, ENOENT, ESRCH,
 * EADDRNOTAVAIL on delete), AlreadyExistsError (EEXIST), NetnsNotFoundError, and
 * KernelError for anything else, each carrying `errno` and `operation`.
 */
import type { IpAddress, IpFamily, IpPrefix, IpWithPrefix } from '../../core/ip.js';
import type { NftCommand } from '../nft-commands.js';
import type { FirewallOwner, PassagePlace } from './firewall/forward-blockers.js';

export type LinkKind = 'bridge' | 'veth' | 'vxlan' | 'macvlan' | 'device' | string;

/** What the kernel reports about a link (`ip -d link show`). */
export interface LinkInfo {
  readonly index: number;
  readonly name: string;
  /** IFLA_INFO_KIND, or 'device' for links without one (physical, loopback). */
  readonly kind: LinkKind;
  readonly mtu: number;
  /** Lower-case colon form, `aa:bb:cc:dd:ee:ff`; absent for links without one. */
  readonly mac?: string;
  /** ifindex of the master (bridge) this link is enslaved to. */
  readonly master?: number;
  /** IFF_UP set administratively. */
  readonly up: boolean;
  /** IFLA_OPERSTATE as text: 'up', 'down', 'unknown', 'lowerlayerdown', ... */
  readonly operState: string;
  readonly promisc: boolean;
  /** IFLA_IFALIAS (`ip link set DEV alias TEXT`); berth keeps small markers there. */
  readonly alias?: string;
  /** For veth: the peer's ifindex (IFLA_LINK), which may live in another namespace. */
  readonly peerIndex?: number;
  /** For vxlan/macvlan: the lower device (IFLA_LINK). */
  readonly parentIndex?: number;
  /** vxlan details when kind is 'vxlan'. */
  readonly vxlan?: { readonly vni: number; readonly port?: number; readonly local?: IpAddress; readonly learning?: boolean };
  /** macvlan mode when kind is 'macvlan'. */
  readonly macvlanMode?: MacvlanMode;
  /** Bridge-port flags when the link is a bridge port and they were asked for. */
  readonly bridgePort?: BridgePortFlags;
}

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';

/** Attributes common to every link created (`ip link add NAME [mtu N] [address MAC] ...`). */
export interface LinkCommon {
  readonly name: string;
  readonly mtu?: number;
  readonly mac?: string;
  /** Create the link directly in the namespace of this fd (IFLA_NET_NS_FD). */
  readonly netnsFd?: number;
  /** Enslave on creation (IFLA_MASTER). */
  readonly master?: number;
  readonly up?: boolean;
}

export type LinkSpec =
  | (LinkCommon & { readonly kind: 'bridge' })
  | (LinkCommon & {
      readonly kind: 'veth';
      /** `ip link add NAME type veth peer name PEER [netns FD]`. */
      readonly peer: { readonly name: string; readonly mtu?: number; readonly mac?: string; readonly netnsFd?: number };
    })
  | (LinkCommon & {
      readonly kind: 'vxlan';
      readonly vni: number;
      /** UDP destination port, default 4789. */
      readonly port?: number;
      readonly local?: IpAddress;
      /** Lower device ifindex. */
      readonly parent?: number;
      /** Default false: berth programs FDB entries itself. */
      readonly learning?: boolean;
    })
  | (LinkCommon & { readonly kind: 'macvlan'; readonly parent: number; readonly mode: MacvlanMode });

/** `ip link set DEV ...`; absent properties are left alone. */
export interface LinkChange {
  readonly up?: boolean;
  readonly mtu?: number;
  readonly mac?: string;
  /** ifindex of the new master; 0 = `nomaster`. */
  readonly master?: number;
  readonly netnsFd?: number;
  readonly name?: string;
  readonly promisc?: boolean;
  /** IFLA_IFALIAS; empty string clears it. */
  readonly alias?: string;
}

/** `bridge link set dev DEV hairpin on isolated on learning off neigh_suppress on`. */
export interface BridgePortFlags {
  readonly hairpin?: boolean;
  readonly isolated?: boolean;
  readonly learning?: boolean;
  readonly neighSuppress?: boolean;
}

export interface AddressOptions {
  /** IFA_F_NODAD: usable at once, no duplicate address detection (IPv6). */
  readonly noDad?: boolean;
  /** IFA_F_NOPREFIXROUTE: no route to the address's subnet through the device. */
  readonly noPrefixRoute?: boolean;
}

export interface AddressInfo {
  readonly index: number;
  readonly address: IpWithPrefix;
  readonly scope: number;
  readonly flags: number;
}

export interface RouteSpec {
  readonly dst: IpPrefix;
  readonly gw?: IpAddress;
  /** Output interface index. */
  readonly oif?: number;
  readonly src?: IpAddress;
  readonly priority?: number;
  /** Routing table, default main (254). */
  readonly table?: number;
  /** RT_SCOPE_*: 0 universe (default), 253 link, 254 host. */
  readonly scope?: number;
  readonly mtu?: number;
  readonly advmss?: number;
  /** rtm_protocol; default RTPROT_BOOT (3). */
  readonly protocol?: number;
  /** `onlink`: the gateway is taken as directly reachable on `oif` though no local prefix holds it. */
  readonly onlink?: boolean;
}

export interface RouteInfo extends RouteSpec {
  readonly family: IpFamily;
  readonly type: number;
}

export interface NeighbourSpec {
  readonly index: number;
  readonly ip: IpAddress;
  readonly mac: string;
  /** Default NUD_PERMANENT. */
  readonly state?: number;
}

/**
 * A proxy entry (NTF_PROXY, `ip neigh replace proxy IP dev DEV`): the device answers ARP
 * requests (IPv4, with forwarding on) and neighbour solicitations (IPv6, with forwarding and
 * `proxy_ndp` on) for `ip` with its own MAC, when the host routes `ip` through another device.
 */
export interface ProxyNeighbourSpec {
  readonly index: number;
  readonly ip: IpAddress;
  readonly proxy: true;
}

export interface NeighbourInfo {
  readonly index: number;
  readonly ip: IpAddress;
  readonly mac?: string;
  readonly state: number;
  /** A proxy entry (listed only when asked for with `proxy`). */
  readonly proxy?: boolean;
}

/** A bridge forwarding-database entry (`bridge fdb append MAC dev DEV dst IP self permanent`). */
export interface FdbSpec {
  readonly index: number;
  readonly mac: string;
  /** Remote VTEP address for vxlan devices. */
  readonly dst?: IpAddress;
  /** NTF_SELF (the device's own table, as for vxlan) rather than NTF_MASTER (the bridge's). */
  readonly self?: boolean;
}

export interface FdbInfo {
  readonly index: number;
  readonly mac: string;
  readonly dst?: IpAddress;
  readonly master?: number;
  readonly state: number;
  readonly flags: number;
}

/**
 * rtnetlink bound to one network namespace: the socket was opened inside that namespace
 * and stays bound to it, so calls need no namespace switching.
 */
export interface Netlink {
  /** `ip link show NAME`; undefined when absent. */
  getLink(name: string): LinkInfo | undefined;
  getLinkByIndex(index: number): LinkInfo | undefined;
  /** `ip link show [master INDEX]`; the filter is applied by the kernel. */
  listLinks(filter?: { readonly master?: number }): LinkInfo[];
  /** `ip link add ...`; throws AlreadyExistsError when the name is taken. */
  addLink(spec: LinkSpec): void;
  /** `ip link del`; throws NotFoundError when absent. */
  deleteLink(index: number): void;
  /** `ip link set ...`. */
  setLink(index: number, change: LinkChange): void;
  /** `bridge link set dev ...`: flags of a bridge port. */
  setBridgePort(index: number, flags: BridgePortFlags): void;
  /** `ip addr add ADDR dev IDX [nodad] [noprefixroute]`; throws AlreadyExistsError when present. */
  addAddress(index: number, address: IpWithPrefix, opts?: AddressOptions): void;
  /** `ip addr del`; throws NotFoundError when absent. */
  deleteAddress(index: number, address: IpWithPrefix): void;
  /** `ip addr show [dev IDX]`. */
  listAddresses(filter?: { readonly index?: number; readonly family?: IpFamily }): AddressInfo[];
  /** `ip route add`; throws AlreadyExistsError when present. */
  addRoute(route: RouteSpec): void;
  /** `ip route replace`. */
  replaceRoute(route: RouteSpec): void;
  /** `ip route del`; throws NotFoundError when absent. */
  deleteRoute(route: RouteSpec): void;
  /** `ip route show [table T]` (all tables when table is 0). */
  listRoutes(filter?: { readonly family?: IpFamily; readonly table?: number; readonly oif?: number }): RouteInfo[];
  /** `ip neigh replace IP lladdr MAC dev IDX nud permanent`, or `ip neigh replace proxy IP dev IDX`. */
  setNeighbour(neigh: NeighbourSpec | ProxyNeighbourSpec): void;
  /** `ip neigh del [proxy] IP dev IDX`; throws NotFoundError when absent. */
  deleteNeighbour(neigh: { readonly index: number; readonly ip: IpAddress; readonly proxy?: boolean }): void;
  /** `ip neigh show [dev IDX]`; with `proxy`, the proxy entries only (`ip neigh show proxy`). */
  listNeighbours(filter?: { readonly index?: number; readonly family?: IpFamily; readonly proxy?: boolean }): NeighbourInfo[];
  /** `bridge fdb append`. */
  appendFdb(entry: FdbSpec): void;
  /** `bridge fdb del`; throws NotFoundError when absent. */
  deleteFdb(entry: FdbSpec): void;
  listFdb(filter?: { readonly index?: number; readonly master?: number }): FdbInfo[];
  close(): void;
}

/** Sysctls, through writes under /proc/sys (`sysctl -w`). */
export interface Sysctl {
  /** `key` in dotted or slash form (`net.ipv4.ip_forward`). */
  read(key: string): string;
  write(key: string, value: string): void;
}

/** One libnftables context; `run` executes one JSON batch as one atomic transaction. */
export interface Nftables {
  /** `nft -j -f -` with `{"nftables":[...]}` (dataplane/nft-commands.ts builds them); all or nothing. */
  run(commands: readonly NftCommand[]): void;
  /** `nft -j list ...`: the `nftables` array of the JSON output. */
  list(what: string): object[];
  close(): void;
}

/** Where berth put an accept in another owner's forward chain, and why. */
export interface Passage {
  readonly owner: FirewallOwner;
  readonly place: PassagePlace;
  /** Which chain drops what it does not accept. */
  readonly reason: string;
  /** Whether berth's accept is in place now (false only in a report of a re-check that failed). */
  readonly present: boolean;
  /** This call put berth's accept there: it was missing (a first open, or the owner rewrote its chain). */
  readonly added: boolean;
  /** The owner's own networks that berth's traffic is not let into (Docker's bridges). */
  readonly protectedInterfaces: readonly string[];
}

export interface PassageReport {
  /** berth's devices whose traffic passes (bridges; later VXLAN and macvlan devices). */
  readonly devices: readonly string[];
  readonly passages: readonly Passage[];
}

export interface PassageOptions {
  /**
   * Hosts that reach berth's devices routed, not encapsulated (other nodes' pods of an overlay
   * in routed mode, the LAN of an l2bridge network): new traffic from these prefixes (IPv4 or
   * IPv6) into berth's devices passes too. Given again to close.
   */
  readonly routedFrom?: IpPrefix | readonly IpPrefix[];
}

/**
 * berth's forwarded traffic past other owners' forward drops (Docker, ufw, iptables,
 * nftables rulesets): only traffic of berth's devices, only where an owner drops.
 */
export interface ForwardPassage {
  /** Lets `device`'s traffic through (idempotent). */
  open(device: string, opts?: PassageOptions): PassageReport;
  /** Forgets `device`; with the last one, every berth rule in foreign chains goes. Idempotent. */
  close(device: string, opts?: PassageOptions): PassageReport;
  /** Re-checks after an owner rewrote its chains (Docker restarted, ufw reloaded). */
  refresh(): PassageReport;
}
