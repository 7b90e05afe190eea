/**
 * What this node programs for every other node of an overlay network (flannel's L3 model:
 * O(nodes) entries, learning off, no ARP or flooding across the overlay):
 *
 *   FDB        peer VTEP MAC → peer underlay address (where to send the VXLAN packet)
 *   neighbour  peer's gateway address → peer VTEP MAC (permanent: nobody ARPs)
 *   route      peer's block (or, on a shared subnet, each address it announced) via that
 *              gateway address, onlink, on the VXLAN device
 *
 * The gateway address is the first address of the peer's block (`vtepOverlayAddress`); on a
 * shared subnet, where nodes have no block, it is the peer's underlay address (only used as a
 * neighbour key on the VXLAN device). In `routed` mode, and in `auto` mode for a peer on this
 * node's underlay subnet, the peer's block is routed via its underlay address instead, with no
 * FDB or neighbour entry.
 *
 * Pure data in, data out; the peer programmer (peer-programmer.ts) executes it.
 */
import { IpAddress, IpPrefix } from '../../core/ip.js';
import { parseVtepMac, tryParseSubnet, type NodeLease } from './lease-record.js';
import type { OverlayMode } from './overlay-options.js';

/** What planning reads of a lease. */
export type PeerLease = Pick<NodeLease, 'node' | 'subnet' | 'vtep' | 'vtepMac' | 'releasedAt'>;

export interface FdbEntry {
  readonly kind: 'fdb';
  readonly peer: string;
  readonly mac: string;
  /** The peer's underlay address. */
  readonly dst: string;
}

export interface NeighbourEntry {
  readonly kind: 'neighbour';
  readonly peer: string;
  /** The peer's gateway address on the VXLAN device. */
  readonly address: string;
  readonly mac: string;
}

export interface RouteEntry {
  readonly kind: 'route';
  readonly peer: string;
  readonly destination: string;
  readonly gateway: string;
  /**
   * `vxlan`: on the VXLAN device, the gateway onlink (it is on no local prefix); `underlay`:
   * via the peer's underlay address on the underlay link, not encapsulated.
   */
  readonly via: 'vxlan' | 'underlay';
}

export type PeerEntry = FdbEntry | NeighbourEntry | RouteEntry;

/** One peer's entries: FDB and neighbour unless the peer is routed directly. */
export interface PeerEntries {
  readonly node: string;
  readonly fdb?: FdbEntry;
  readonly neighbour?: NeighbourEntry;
  readonly routes: readonly RouteEntry[];
}

/** A lease (or one of its routes) left out of the plan, and why (for the log). */
export interface SkippedPeer {
  readonly node: string;
  readonly reason: string;
}

export interface PeerPlan {
  /** By node name. */
  readonly peers: readonly PeerEntries[];
  readonly skipped: readonly SkippedPeer[];
}

export interface PlanOptions {
  /** @default 'vxlan' */
  readonly mode?: OverlayMode;
  /** This node's underlay prefix (the connected prefix of its VTEP address): who is "on the same underlay subnet". */
  readonly underlay?: IpPrefix;
  /**
   * Set for networks with one subnet across hosts: the addresses each node announced. Routes
   * then go to each address (/32) instead of to the node's block.
   */
  readonly endpoints?: ReadonlyMap<string, readonly string[]>;
}

/**
 * Entries to write and to delete, each list in the order the kernel needs. Apply `add` first,
 * with create-or-replace (a changed entry appears only in `add`), then `remove`: a peer whose
 * VTEP changed never loses its route or neighbour in between.
 */
export interface PeerPlanDiff {
  /** Per peer: FDB, neighbour, then routes, so no route points at a gateway the kernel would ARP for. */
  readonly add: readonly PeerEntry[];
  /** Routes, neighbours, then FDB entries; only entries whose kernel key the new plan does not use. */
  readonly remove: readonly PeerEntry[];
}

/**
 * A node's VTEP address inside the overlay: the first address of its subnet (flannel's choice;
 * it is never given to a workload, and the gateway keeps `.1`). The driver puts it on its own
 * VXLAN device as a host address; peers route to the node's subnet through it.
 */
export function vtepOverlayAddress(subnet: IpPrefix): IpAddress {
  return subnet.first;
}

/**
 * The entries `self` programs for the other leases. Released leases are left out (the node is
 * gone), as are unreadable ones and any that would overwrite an entry of `self` or of a peer
 * earlier by name (same VTEP MAC, same block): the kernel holds one entry per key.
 */
export function planPeers(self: string, leases: readonly PeerLease[], options: PlanOptions = {}): PeerPlan {
  const peers: PeerEntries[] = [];
  const skipped: SkippedPeer[] = [];
  const owners = new Map<string, string>();
  const own = leases.find((l) => l.node === self);
  const ownEntries = own && entriesOf(own, options);
  if (ownEntries && typeof ownEntries !== 'string') for (const e of allOf(ownEntries)) owners.set(entryKey(e), self);
  // A node's own block is on its bridge: a peer claiming it must not get a route over it.
  const ownBlock = own && !options.endpoints ? tryParseSubnet(own.subnet) : undefined;
  if (ownBlock) owners.set(`route ${ownBlock}`, self);

  for (const lease of [...leases].sort((a, b) => compareText(a.node, b.node))) {
    if (lease.node === self) continue;
    if (lease.releasedAt !== undefined) {
      skipped.push({ node: lease.node, reason: `released at ${lease.releasedAt}` });
      continue;
    }
    const entries = entriesOf(lease, options);
    if (typeof entries === 'string') {
      skipped.push({ node: lease.node, reason: entries });
      continue;
    }
    const device = [entries.fdb, entries.neighbour].filter((e): e is FdbEntry | NeighbourEntry => e !== undefined);
    const clash = device.find((e) => owners.has(entryKey(e))) ?? (options.endpoints ? undefined : entries.routes.find((e) => owners.has(entryKey(e))));
    if (clash) {
      skipped.push({ node: lease.node, reason: `its ${describeKey(clash)} is already ${owners.get(entryKey(clash))}'s` });
      continue;
    }
    // On a shared subnet an address announced twice keeps its first owner; the node keeps its other routes.
    const routes = entries.routes.filter((r) => {
      const holder = owners.get(entryKey(r));
      if (holder) skipped.push({ node: lease.node, reason: `its ${describeKey(r)} is already ${holder}'s` });
      return !holder;
    });
    const kept: PeerEntries = { ...entries, routes };
    for (const e of allOf(kept)) owners.set(entryKey(e), lease.node);
    peers.push(kept);
  }
  return { peers, skipped };
}

/** What to change to go from `old` to `next` (see PeerPlanDiff for the order). */
export function diffPeerPlans(old: PeerPlan, next: PeerPlan): PeerPlanDiff {
  return diffEntries(old.peers.flatMap(allOf), next);
}

/**
 * What to change to go from the entries found (in the kernel, say) to `next`. `found` needs no
 * peer names: the kernel knows entries by key only.
 */
export function diffEntries(found: readonly PeerEntry[], next: PeerPlan): PeerPlanDiff {
  const before = new Map(found.map((e) => [entryKey(e), e]));
  const after = new Set(next.peers.flatMap(allOf).map(entryKey));
  const add = next.peers.flatMap((p) => allOf(p).filter((e) => !sameEntry(before.get(entryKey(e)), e)));
  const rank = { route: 0, neighbour: 1, fdb: 2 } as const;
  const remove = found.filter((e) => !after.has(entryKey(e))).sort((a, b) => rank[a.kind] - rank[b.kind]);
  return { add, remove };
}

/**
 * What identifies an entry in the kernel: a VXLAN FDB entry by MAC, a neighbour by address, a
 * route by destination. Two entries with one key cannot coexist; writing one replaces the other.
 */
export function entryKey(e: PeerEntry): string {
  switch (e.kind) {
    case 'fdb':
      return `fdb ${e.mac}`;
    case 'neighbour':
      return `neighbour ${e.address}`;
    case 'route':
      return `route ${e.destination}`;
  }
}

/** Same kernel state; which peer an entry is for does not matter to the kernel. */
function sameEntry(a: PeerEntry | undefined, b: PeerEntry): boolean {
  if (!a || a.kind !== b.kind) return false;
  switch (b.kind) {
    case 'fdb':
      return a.kind === 'fdb' && a.mac === b.mac && a.dst === b.dst;
    case 'neighbour':
      return a.kind === 'neighbour' && a.address === b.address && a.mac === b.mac;
    case 'route':
      return a.kind === 'route' && a.destination === b.destination && a.gateway === b.gateway && a.via === b.via;
  }
}

/** The lease's entries, or why it cannot have any. */
function entriesOf(lease: PeerLease, options: PlanOptions): PeerEntries | string {
  const subnet = tryParseSubnet(lease.subnet);
  if (!subnet) return `subnet ${JSON.stringify(lease.subnet)} is not a CIDR`;
  const vtep = IpAddress.tryParse(lease.vtep);
  if (!vtep) return `vtep ${JSON.stringify(lease.vtep)} is not an address`;
  let mac: string;
  try {
    mac = parseVtepMac(lease.vtepMac);
  } catch (err) {
    return (err as Error).message;
  }
  const peer = lease.node;
  const mode = options.mode ?? 'vxlan';
  const nearby = options.underlay !== undefined && options.underlay.contains(vtep);
  const destinations = options.endpoints ? (options.endpoints.get(peer) ?? []).map((a) => hostPrefix(a)).filter((p): p is IpPrefix => p !== undefined) : [subnet];
  if (mode === 'routed' || (mode === 'auto' && nearby)) {
    if (!nearby)
      return `its underlay address ${vtep} is not on this node's underlay subnet${options.underlay ? ` ${options.underlay}` : ''}: routed mode needs one; use mode auto to reach it over VXLAN`;
    return { node: peer, routes: destinations.map((d) => ({ kind: 'route', peer, destination: d.toString(), gateway: vtep.toString(), via: 'underlay' })) };
  }
  const gateway = options.endpoints ? vtep.toString() : vtepOverlayAddress(subnet).toString();
  return {
    node: peer,
    fdb: { kind: 'fdb', peer, mac, dst: vtep.toString() },
    neighbour: { kind: 'neighbour', peer, address: gateway, mac },
    routes: destinations.map((d) => ({ kind: 'route', peer, destination: d.toString(), gateway, via: 'vxlan' })),
  };
}

function hostPrefix(address: string): IpPrefix | undefined {
  const a = IpAddress.tryParse(address);
  return a && IpPrefix.of(a, a.bits);
}

function allOf(p: PeerEntries): PeerEntry[] {
  return [...(p.fdb ? [p.fdb] : []), ...(p.neighbour ? [p.neighbour] : []), ...p.routes];
}

function describeKey(e: PeerEntry): string {
  return e.kind === 'fdb' ? `VTEP MAC ${e.mac}` : e.kind === 'neighbour' ? `gateway address ${e.address}` : `route to ${e.destination}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
