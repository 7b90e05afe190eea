/**
 * Per-node subnet leases of an overlay network, in the cluster store (Kubernetes style, like
 * flannel): each node gets one /subnetLen of the network's subnet and publishes its VTEP with
 * it. Key layout and record types: lease-record.ts.
 *
 * Concurrency rests on two compare-and-swaps: the subnet's claim key is created only if absent
 * (two nodes never get one subnet), and the node key is written only at the revision read (two
 * acquires of one node never leave two claims behind: the loser undoes its claim and retries).
 */
import { InvalidConfigError, PoolExhaustedError, TryAgainError } from '../../core/errors.js';
import type { IpPrefix } from '../../core/ip.js';
import type { Entry, Store } from '../../store/store.js';
import { checkName, claimValue, decodeClaim, decodeLease, leaseValue, OverlayKeys, parseAddress, parseSubnet, parseVtepMac, tryParseSubnet, type NodeLease, type SubnetClaim } from './lease-record.js';
import { SubnetPool } from './subnet-pool.js';

export type { NodeLease } from './lease-record.js';

/** What a node asks for: the network's pool and its own VTEP. */
export interface LeaseRequest {
  /** The overlay's cluster subnet (`10.244.0.0/16`). */
  readonly subnet: string;
  /** Prefix length of each node's block (`24`). Every node of a network must use the same. */
  readonly subnetLen: number;
  /** The node's underlay address. */
  readonly vtep: string;
  /** The MAC of the node's VXLAN device. */
  readonly vtepMac: string;
}

export interface NodeLeasesOptions {
  /**
   * Where node keys are written: a store whose writes vanish with the node (etcd's node lease),
   * so that peers drop a node that died. Reads and claims use the main store. @default the main store
   */
  readonly nodeStore?: Store;
  /** Key prefix in front of `<network>/…`. @default 'overlay' (the store adds its own prefix, etcd's `/berth/`) */
  readonly keyPrefix?: string;
  /**
   * How long a released lease (and a claim no lease points to) keeps its subnet before
   * `reclaimExpired` frees it: peers need time to drop their routes to it, and a node that
   * comes back meanwhile gets it again. @default 3_600_000 (one hour)
   */
  readonly graceMs?: number;
  /** @default () => new Date() */
  readonly clock?: () => Date;
}

/** A subnet `reclaimExpired` returned to the pool. */
export interface ReclaimedSubnet {
  readonly node: string;
  readonly subnet: string;
  /** `released`: the node's lease had expired; `orphan-claim`: no lease pointed to the claim. */
  readonly reason: 'released' | 'orphan-claim';
}

const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/** Compare-and-swap losses on a node's own key tolerated before giving up (they need a concurrent acquire of the same node). */
const MAX_ATTEMPTS = 16;

interface Validated {
  readonly pool: SubnetPool;
  readonly vtep: string;
  readonly vtepMac: string;
}

export class NodeLeases {
  readonly keys: OverlayKeys;
  private readonly graceMs: number;
  private readonly clock: () => Date;
  private readonly nodes: Store;
  /** Nodes whose key this instance has written through `nodes` (a key from before a restart hangs on the old etcd lease). */
  private readonly written = new Set<string>();

  constructor(
    private readonly store: Store,
    network: string,
    options: NodeLeasesOptions = {},
  ) {
    this.keys = new OverlayKeys(network, options.keyPrefix);
    this.nodes = options.nodeStore ?? store;
    this.graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.clock = options.clock ?? (() => new Date());
    if (!Number.isFinite(this.graceMs) || this.graceMs < 0) {
      throw new InvalidConfigError(`graceMs must be a non-negative number of milliseconds, not ${this.graceMs}`, { field: 'graceMs', value: String(this.graceMs) });
    }
  }

  /**
   * The node's lease: the one it holds (kept across restarts and releases within the grace
   * period; VTEP address and MAC brought up to date), else the lowest free block. Throws
   * PoolExhaustedError when no block is free, InvalidConfigError for bad input.
   */
  async acquire(node: string, request: LeaseRequest): Promise<NodeLease> {
    checkName('node', node);
    const want: Validated = {
      pool: new SubnetPool(parseSubnet(request.subnet, 'subnet'), request.subnetLen),
      vtep: parseAddress(request.vtep, 'vtep').toString(),
      vtepMac: parseVtepMac(request.vtepMac),
    };
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await this.store.get(this.keys.nodeKey(node));
      if (entry) {
        const kept = await this.keep(node, entry, want);
        if (kept === 'conflict') continue;
        if (kept) return kept;
      }
      const made = await this.allocate(node, want, entry?.revision ?? 0);
      if (made) return made;
    }
    throw new TryAgainError(`Cannot acquire a subnet for node ${node} on overlay network ${this.keys.network}: its lease kept changing under ${MAX_ATTEMPTS} attempts`, {
      field: 'node',
      value: node,
    });
  }

  /**
   * Shared-subnet networks (one subnet across hosts, no blocks): publishes the node's VTEP
   * with the whole subnet, no claim. Idempotent.
   */
  async announce(node: string, request: Omit<LeaseRequest, 'subnetLen'>): Promise<NodeLease> {
    checkName('node', node);
    const subnet = parseSubnet(request.subnet, 'subnet').toString();
    const vtep = parseAddress(request.vtep, 'vtep').toString();
    const vtepMac = parseVtepMac(request.vtepMac);
    const key = this.keys.nodeKey(node);
    const updated = this.clock().toISOString();
    // A key from before a restart hangs on the old etcd lease: the first announce rewrites it.
    const rewrite = this.nodes !== this.store && !this.written.has(node);
    const lease = await this.nodes.update(key, (current) => {
      const old = current === undefined ? undefined : decodeLease(key, current);
      const same = old && old.subnet === subnet && old.vtep === vtep && old.vtepMac === vtepMac && old.releasedAt === undefined;
      if (same && !rewrite) return { value: current, result: old };
      const next: NodeLease = same ? old : { node, subnet, vtep, vtepMac, updated };
      return { value: leaseValue(next), result: next };
    });
    this.written.add(node);
    return lease;
  }

  /** Removes the node's record outright (shared-subnet networks, where there is no block to keep). */
  async forget(node: string): Promise<void> {
    checkName('node', node);
    await this.store.delete(this.keys.nodeKey(node));
  }

  /**
   * Marks the node's lease released; its subnet stays taken for the grace period. Returns the
   * lease as stored, undefined when the node has none. Releasing twice keeps the first time.
   */
  async release(node: string): Promise<NodeLease | undefined> {
    checkName('node', node);
    const key = this.keys.nodeKey(node);
    const releasedAt = this.clock().toISOString();
    return this.nodes.update(key, (current) => {
      if (current === undefined) return { value: current, result: undefined };
      const lease = decodeLease(key, current);
      if (lease.releasedAt !== undefined) return { value: current, result: lease };
      const released: NodeLease = { ...lease, releasedAt };
      return { value: leaseValue(released), result: released };
    });
  }

  /** Every lease of the network, released ones included, by node name. */
  async list(): Promise<NodeLease[]> {
    return (await this.store.list(this.keys.nodesPrefix)).map((e) => decodeLease(e.key, e.value));
  }

  /** The node's lease, if it has one. */
  async get(node: string): Promise<NodeLease | undefined> {
    checkName('node', node);
    const entry = await this.store.get(this.keys.nodeKey(node));
    return entry && decodeLease(entry.key, entry.value);
  }

  /**
   * Returns to the pool the subnets of leases released at least the grace period before `now`,
   * and claims no lease has pointed to for as long (their node's lease expired with it, or an
   * acquire died between its two writes): the first pass that finds such a claim stamps it
   * `orphanedAt`, a pass a grace period later frees it. A node that re-acquires meanwhile
   * wins: every write compares revisions.
   */
  async reclaimExpired(now: Date = this.clock()): Promise<ReclaimedSubnet[]> {
    // Compared as `!(t <= deadline)` so that an unreadable time never expires.
    const deadline = now.getTime() - this.graceMs;
    // Claims are read before any lease is deleted: a node that re-acquires after its lease is
    // deleted rewrites its claim, so the delete below (at the revision read here) misses.
    const claims = (await this.store.list(this.keys.claimsPrefix)).map((entry) => ({ entry, claim: decodeClaim(entry) }));
    const leases = (await this.store.list(this.keys.nodesPrefix)).map((entry) => ({ entry, lease: decodeLease(entry.key, entry.value) }));
    const claimByKey = new Map(claims.map((c) => [c.entry.key, c]));
    const leaseByNode = new Map(leases.map((l) => [l.lease.node, l.lease]));
    const reclaimed: ReclaimedSubnet[] = [];

    for (const { entry, lease } of leases) {
      if (lease.releasedAt === undefined || !(Date.parse(lease.releasedAt) <= deadline)) continue;
      const gone = await this.store.delete(entry.key, { expectRevision: entry.revision });
      if (!gone.ok) continue; // the node came back
      const subnet = tryParseSubnet(lease.subnet);
      const held = subnet && claimByKey.get(this.keys.claimKey(subnet));
      if (held?.claim.node === lease.node) await this.store.delete(held.entry.key, { expectRevision: held.entry.revision });
      reclaimed.push({ node: lease.node, subnet: lease.subnet, reason: 'released' });
    }

    for (const { entry, claim } of claims) {
      if (leaseByNode.get(claim.node)?.subnet === claim.subnet) continue;
      if (claim.orphanedAt === undefined) {
        // First seen without a lease: the grace period starts now (the node may have just died).
        await this.store.put(entry.key, claimValue({ ...claim, orphanedAt: now.toISOString() }), { expectRevision: entry.revision });
        continue;
      }
      if (!(Date.parse(claim.claimedAt) <= deadline) || !(Date.parse(claim.orphanedAt) <= deadline)) continue;
      const gone = await this.store.delete(entry.key, { expectRevision: entry.revision });
      if (gone.ok) reclaimed.push({ node: claim.node, subnet: claim.subnet, reason: 'orphan-claim' });
    }
    return reclaimed;
  }

  /**
   * Keeps the node's stored lease if it still fits the pool and its claim still names the
   * node: undefined when it cannot be kept (allocate instead), 'conflict' when the node key
   * changed meanwhile.
   */
  private async keep(node: string, entry: Entry, want: Validated): Promise<NodeLease | 'conflict' | undefined> {
    const lease = decodeLease(entry.key, entry.value);
    const subnet = tryParseSubnet(lease.subnet);
    if (!subnet || !want.pool.holds(subnet)) {
      // The network's subnet or subnetLen changed: give the old block back first.
      if (subnet) await this.dropClaim(node, subnet);
      return undefined;
    }
    if (!(await this.holdClaim(node, subnet))) return undefined; // our record is stale: the subnet is someone else's
    const unchanged = lease.vtep === want.vtep && lease.vtepMac === want.vtepMac && lease.releasedAt === undefined;
    if (unchanged && (this.nodes === this.store || this.written.has(node))) return lease;
    const next: NodeLease = unchanged ? lease : { node, subnet: lease.subnet, vtep: want.vtep, vtepMac: want.vtepMac, updated: this.clock().toISOString() };
    const put = await this.nodes.put(entry.key, leaseValue(next), { expectRevision: entry.revision });
    if (put.ok) this.written.add(node);
    return put.ok ? next : 'conflict';
  }

  /**
   * Claims a block for a node without a usable lease and writes its lease at `nodeRevision`.
   * Undefined when the node key changed meanwhile (the claim is undone).
   */
  private async allocate(node: string, want: Validated, nodeRevision: number): Promise<NodeLease | undefined> {
    const now = this.clock().toISOString();
    const claims = (await this.store.list(this.keys.claimsPrefix)).map((entry) => ({ entry, claim: decodeClaim(entry) }));
    let held: { subnet: IpPrefix; revision: number } | undefined;

    // A claim of ours without a lease: an earlier acquire died between its two writes. Adopt it
    // (rewriting it, so a reclaim that read it before fails its compare).
    for (const { entry, claim } of claims) {
      const subnet = tryParseSubnet(claim.subnet);
      if (claim.node !== node || !subnet || !want.pool.holds(subnet)) continue;
      const put = await this.store.put(entry.key, claimValue({ node: claim.node, subnet: claim.subnet, claimedAt: now }), { expectRevision: entry.revision });
      if (put.ok) {
        held = { subnet, revision: put.revision };
        break;
      }
    }

    const taken = claims.flatMap(({ claim }) => tryParseSubnet(claim.subnet) ?? []);
    while (!held) {
      const subnet = want.pool.lowestFree(taken);
      if (!subnet) throw this.exhausted(node, want.pool);
      const claim: SubnetClaim = { node, subnet: subnet.toString(), claimedAt: now };
      const put = await this.store.put(this.keys.claimKey(subnet), claimValue(claim), { expectRevision: 0 });
      if (put.ok) held = { subnet, revision: put.revision };
      else taken.push(subnet); // another node was faster: try the next block
    }

    const lease: NodeLease = { node, subnet: held.subnet.toString(), vtep: want.vtep, vtepMac: want.vtepMac, updated: now };
    const put = await this.nodes.put(this.keys.nodeKey(node), leaseValue(lease), { expectRevision: nodeRevision });
    if (put.ok) this.written.add(node);
    if (put.ok) return lease;
    // A concurrent acquire of the same node wrote its lease first; ours is not needed.
    await this.store.delete(this.keys.claimKey(held.subnet), { expectRevision: held.revision });
    return undefined;
  }

  /** Makes sure the node holds `subnet`'s claim (re-creating a missing one); false if another node holds it. */
  private async holdClaim(node: string, subnet: IpPrefix): Promise<boolean> {
    const key = this.keys.claimKey(subnet);
    const entry = await this.store.get(key);
    if (entry) return decodeClaim(entry).node === node;
    const put = await this.store.put(key, claimValue({ node, subnet: subnet.toString(), claimedAt: this.clock().toISOString() }), { expectRevision: 0 });
    return put.ok || (put.current !== undefined && decodeClaim(put.current).node === node);
  }

  /** Deletes `subnet`'s claim if the node holds it. */
  private async dropClaim(node: string, subnet: IpPrefix): Promise<void> {
    const key = this.keys.claimKey(subnet);
    const entry = await this.store.get(key);
    if (entry && decodeClaim(entry).node === node) await this.store.delete(key, { expectRevision: entry.revision });
  }

  private exhausted(node: string, pool: SubnetPool): PoolExhaustedError {
    return new PoolExhaustedError(
      `Cannot lease a /${pool.subnetLen} of ${pool.subnet} to node ${node} on overlay network ${this.keys.network}: all ${pool.count} are leased (released leases free theirs ${this.graceMs / 1000} s after release)`,
      { field: 'subnet', value: pool.subnet.toString() },
    );
  }
}
