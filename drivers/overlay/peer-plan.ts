/**
 * What this node programs on the overlay's VXLAN device for every other node (flannel's L3
 * model: O(nodes) entries, learning off, no ARP or flooding across the overlay):
 *
 *   FDB        peer VTEP MAC → peer underlay address (where to send the VXLAN packet)
 *   neighbour  peer's VTEP overlay address → peer VTEP MAC (permanent: nobody ARPs)
 *   route      peer subnet via that overlay address, onlink
 *
 * Pure data in, data out; the driver executes it. Every entry is on the network's VXLAN device.
 */
import { IpAddress, type IpPrefix } from '../../core/ip.js';
import { parseVtepMac, tryParseSubnet, type NodeLease } from './lease-record.js';

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
  /** The peer's VTEP overlay address. */
  readonly address: string;
  readonly mac: string;
}

export interface RouteEntry {
  readonly kind: 'route';
  readonly peer: string;
  readonly destination: string;
  readonly gateway: string;
  /** The gateway is on no local prefix: the kernel must take it as directly reachable. */
  readonly onlink: true;
}

export type PeerEntry = FdbEntry | NeighbourEntry | RouteEntry;

/** One peer's three entries. */
export interface PeerEntries {
  readonly node: string;
  readonly fdb: FdbEntry;
  readonly neighbour: NeighbourEntry;
  readonly route: RouteEntry;
}

/** A lease left out of the plan, and why (for the log). */
export interface SkippedPeer {
  readonly node: string;
  readonly reason: string;
}

export interface PeerPlan {
  /** By node name. */
  readonly peers: readonly PeerEntries[];
  readonly skipped: readonly SkippedPeer[];
}

/**
 * Entries to write and to delete, each list in the order the kernel needs. Apply `add` first,
 * with create-or-replace (a changed entry appears only in `add`), then `remove`: a peer whose
 * VTEP changed never loses its route or neighbour in between.
 */
export interface PeerPlanDiff {
  /** Per peer: FDB, neighbour, then route, so no route points at a gateway the kernel would ARP for. */
  readonly add: readonly PeerEntry[];
  /** Per peer: route, neighbour, then FDB; only entries whose kernel key the new plan does not use. */
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
 * earlier by name (same VTEP MAC or same subnet): the kernel holds one entry per key.
 */
export function planPeers(self: string, leases: readonly PeerLease[]): PeerPlan {
  const peers: PeerEntries[] = [];
  const skipped: SkippedPeer[] = [];
  const owners = new Map<string, string>();
  const own = leases.find((l) => l.node === self);
  const ownEntries = own && entriesOf(own);
  if (ownEntries && typeof ownEntries !== 'string') for (const e of allOf(ownEntries)) owners.set(entryKey(e), self);

  for (const lease of [...leases].sort((a, b) => compareText(a.node, b.node))) {
    if (lease.node === self) continue;
    if (lease.releasedAt !== undefined) {
      skipped.push({ node: lease.node, reason: `released at ${lease.releasedAt}` });
      continue;
    }
    const entries = entriesOf(lease);
    if (typeof entries === 'string') {
      skipped.push({ node: lease.node, reason: entries });
      continue;
    }
    const clash = allOf(entries).find((e) => owners.has(entryKey(e)));
    if (clash) {
      skipped.push({ node: lease.node, reason: `its ${describeKey(clash)} is already ${owners.get(entryKey(clash))}'s` });
      continue;
    }
    for (const e of allOf(entries)) owners.set(entryKey(e), lease.node);
    peers.push(entries);
  }
  return { peers, skipped };
}

/** What to change to go from `old` to `next` (see PeerPlanDiff for the order). */
export function diffPeerPlans(old: PeerPlan, next: PeerPlan): PeerPlanDiff {
  const before = new Map(old.peers.flatMap(allOf).map((e) => [entryKey(e), e]));
  const after = new Set(next.peers.flatMap(allOf).map(entryKey));
  const add = next.peers.flatMap((p) => [p.fdb, p.neighbour, p.route].filter((e) => !sameEntry(before.get(entryKey(e)), e)));
  const remove = old.peers.flatMap((p) => [p.route, p.neighbour, p.fdb].filter((e) => !after.has(entryKey(e))));
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
      return a.kind === 'route' && a.destination === b.destination && a.gateway === b.gateway;
  }
}

/** The lease's entries, or why it cannot have any. */
function entriesOf(lease: PeerLease): PeerEntries | string {
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
  const gateway = vtepOverlayAddress(subnet).toString();
  return {
    node: peer,
    fdb: { kind: 'fdb', peer, mac, dst: vtep.toString() },
    neighbour: { kind: 'neighbour', peer, address: gateway, mac },
    route: { kind: 'route', peer, destination: subnet.toString(), gateway, onlink: true },
  };
}

function allOf(p: PeerEntries): PeerEntry[] {
  return [p.fdb, p.neighbour, p.route];
}

function describeKey(e: PeerEntry): string {
  return e.kind === 'fdb' ? `VTEP MAC ${e.mac}` : e.kind === 'neighbour' ? `VTEP overlay address ${e.address}` : `subnet ${e.destination}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
