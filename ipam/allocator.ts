/**
 * Address allocation on a store: allocate, release, look up, garbage-collect, measure.
 *
 * Each operation is one read-modify-write of the network's pool document (pool.ts) under the
 * store's exclusion, so two allocations can never take the same address and a killed process
 * leaves the old or the new document. Two front ends run the same operations: `IpamSync` over
 * the file store's blocking update (the CNI path: one operation per process, no event loop
 * worth keeping free) and `Ipam` over the async `Store` (berthd, and etcd later).
 *
 * Cost: an operation parses and rewrites the document (linear in the addresses held, with
 * small constants); choosing the next free address tries candidates from the rotation cursor
 * on and stops at the first free one, so it looks at no more addresses than are held.
 */
import { AddressTakenError, BerthError, InvalidConfigError, PoolExhaustedError } from '../core/errors.js';
import { IpAddress } from '../core/ip.js';
import type { AssignedAddress, IpRange } from '../core/model.js';
import type { JsonValue, Store, SyncStore, UpdateDecision } from '../store/store.js';
import { Pool, type Holding } from './pool.js';
import { candidates, capacityOf, describeRangeSet, rangeFor, rangeSetId, reservedReason, type RangeSet } from './range-set.js';

/** The attachment an allocation belongs to: CNI's (CNI_CONTAINERID, CNI_IFNAME). */
export interface Attachment {
  readonly containerId: string;
  readonly ifname: string;
}

/** An address together with the attachment holding it. */
export interface Allocation extends Attachment {
  readonly address: AssignedAddress;
}

export interface AllocateRequest extends Attachment {
  /** Network name: one pool per network. */
  readonly network: string;
  /** The range sets; one address is taken from each, in this order. */
  readonly rangeSets: readonly RangeSet[];
  /**
   * Specific addresses wanted (CNI `ips`). Each must lie in a range of some set (that set then
   * yields it), at most one per set, not be reserved, and be free.
   */
  readonly requested?: readonly IpAddress[];
}

/** How full a pool is, for STATUS. */
export interface PoolUsage {
  /** Addresses held inside the given range sets. */
  readonly used: number;
  /** Addresses the range sets can hand out (gateways, network and broadcast excluded). */
  readonly capacity: bigint;
  /** The same per range set, in order; a pool is full as soon as one of its sets is. */
  readonly rangeSets: readonly { readonly used: number; readonly capacity: bigint }[];
}

/** The store key of a network's pool document. */
export function poolKey(network: string): string {
  return `ipam/pools/${network}`;
}

/** Synchronous IPAM over the file store, for the CNI plugin path. */
export class IpamSync {
  constructor(private readonly store: SyncStore) {}

  /**
   * One address per range set, each with the subnet's prefix length and the range's gateway.
   * Idempotent: an attachment that already holds addresses in this network gets the same ones
   * back (a retried ADD after a killed one). All or nothing: if any set fails, nothing is kept.
   * Throws PoolExhaustedError, AddressTakenError, InvalidConfigError.
   */
  allocate(request: AllocateRequest): AssignedAddress[] {
    checkRequest(request);
    return this.store.updateSync(poolKey(request.network), (current) => allocateIn(current, request));
  }

  /** Releases every address the attachment holds here and returns them; none held is success. */
  release(network: string, containerId: string, ifname: string): AssignedAddress[] {
    checkAttachment(network, { containerId, ifname });
    return this.store.updateSync(poolKey(network), (current) => releaseIn(current, network, { containerId, ifname }));
  }

  /** The addresses the attachment holds (empty when none), for CHECK. */
  get(network: string, containerId: string, ifname: string): AssignedAddress[] {
    checkAttachment(network, { containerId, ifname });
    return heldIn(this.store.getSync(poolKey(network))?.value, network, { containerId, ifname });
  }

  /** Releases everything held by attachments not in `valid`; returns what it released. */
  gc(network: string, valid: readonly Attachment[]): Allocation[] {
    checkNetwork(network);
    return this.store.updateSync(poolKey(network), (current) => gcIn(current, network, valid));
  }

  usage(network: string, rangeSets: readonly RangeSet[]): PoolUsage {
    checkNetwork(network);
    return usageOf(this.store.getSync(poolKey(network))?.value, network, rangeSets);
  }

  /** Every allocation of the network, IPv4 first, by address; for tools and tests, which should not read the pool document. */
  list(network: string): Allocation[] {
    checkNetwork(network);
    return listIn(this.store.getSync(poolKey(network))?.value, network);
  }
}

/** IPAM over any `Store`, for berthd. Same operations and guarantees as `IpamSync`. */
export class Ipam {
  constructor(private readonly store: Store) {}

  /** {@inheritDoc IpamSync.allocate} */
  async allocate(request: AllocateRequest): Promise<AssignedAddress[]> {
    checkRequest(request);
    return this.store.update(poolKey(request.network), (current) => allocateIn(current, request));
  }

  /** {@inheritDoc IpamSync.release} */
  async release(network: string, containerId: string, ifname: string): Promise<AssignedAddress[]> {
    checkAttachment(network, { containerId, ifname });
    return this.store.update(poolKey(network), (current) => releaseIn(current, network, { containerId, ifname }));
  }

  /** {@inheritDoc IpamSync.get} */
  async get(network: string, containerId: string, ifname: string): Promise<AssignedAddress[]> {
    checkAttachment(network, { containerId, ifname });
    return heldIn((await this.store.get(poolKey(network)))?.value, network, { containerId, ifname });
  }

  /** {@inheritDoc IpamSync.gc} */
  async gc(network: string, valid: readonly Attachment[]): Promise<Allocation[]> {
    checkNetwork(network);
    return this.store.update(poolKey(network), (current) => gcIn(current, network, valid));
  }

  /** {@inheritDoc IpamSync.usage} */
  async usage(network: string, rangeSets: readonly RangeSet[]): Promise<PoolUsage> {
    checkNetwork(network);
    return usageOf((await this.store.get(poolKey(network)))?.value, network, rangeSets);
  }

  /** {@inheritDoc IpamSync.list} */
  async list(network: string): Promise<Allocation[]> {
    checkNetwork(network);
    return listIn((await this.store.get(poolKey(network)))?.value, network);
  }
}

// ---- the operations, as pure functions of the stored document ----

function allocateIn(current: JsonValue | undefined, request: AllocateRequest): UpdateDecision<AssignedAddress[]> {
  const { network, containerId, ifname, rangeSets } = request;
  const pool = Pool.decode(current, network);
  const wanted = requestedPerSet(rangeSets, request.requested ?? []);
  const held = pool.heldBy(containerId, ifname).map((holding) => ({ ip: IpAddress.parse(holding.address), holding }));
  const result: AssignedAddress[] = [];
  let changed = false;

  rangeSets.forEach((set, i) => {
    const want = wanted.get(i);
    const mine = held.find((h) => rangeFor(set, h.ip));
    if (mine) {
      if (want && !want.equals(mine.ip)) {
        throw new BerthError(
          'duplicate-allocation',
          `Container ${containerId} (interface ${ifname}) already holds ${mine.ip} in range set ${describeRangeSet(set)}, so it cannot also take the requested ${want}`,
          { field: 'ips', value: String(want) },
        );
      }
      result.push(assigned(mine.ip, mine.holding));
      return;
    }
    const setId = rangeSetId(set);
    const pick = want ? takeRequested(pool, want, set) : nextFree(pool, set, setId);
    const holding: Holding = {
      address: String(pick.ip),
      containerId,
      ifname,
      prefixLength: pick.range.subnet.length,
      ...(pick.range.gateway ? { gateway: String(pick.range.gateway) } : {}),
    };
    pool.reserve(holding, setId);
    result.push(assigned(pick.ip, holding));
    changed = true;
  });
  return { value: changed ? pool.encode() : current, result };
}

function releaseIn(current: JsonValue | undefined, network: string, who: Attachment): UpdateDecision<AssignedAddress[]> {
  const pool = Pool.decode(current, network);
  const released = pool.releaseOwner(who.containerId, who.ifname);
  return {
    value: released.length > 0 ? pool.encode() : current,
    result: released.map(assignedOf),
  };
}

function heldIn(current: JsonValue | undefined, network: string, who: Attachment): AssignedAddress[] {
  return Pool.decode(current, network).heldBy(who.containerId, who.ifname).map(assignedOf);
}

function gcIn(current: JsonValue | undefined, network: string, valid: readonly Attachment[]): UpdateDecision<Allocation[]> {
  const pool = Pool.decode(current, network);
  // Keyed by both parts joined with a space, which neither may contain.
  const keep = new Set(valid.map((a) => `${a.containerId} ${a.ifname}`));
  const released = pool.releaseUnless((h) => keep.has(`${h.containerId} ${h.ifname}`));
  return {
    value: released.length > 0 ? pool.encode() : current,
    result: released.map((h) => ({ containerId: h.containerId, ifname: h.ifname, address: assignedOf(h) })),
  };
}

function listIn(current: JsonValue | undefined, network: string): Allocation[] {
  return [...Pool.decode(current, network).holdings()]
    .map((h) => ({ containerId: h.containerId, ifname: h.ifname, address: assignedOf(h) }))
    .sort((a, b) => a.address.address.address.compare(b.address.address.address));
}

function usageOf(current: JsonValue | undefined, network: string, rangeSets: readonly RangeSet[]): PoolUsage {
  const pool = Pool.decode(current, network);
  const perSet = rangeSets.map((set) => ({ used: 0, capacity: capacityOf(set) }));
  for (const { address } of pool.holdings()) {
    const ip = IpAddress.parse(address);
    const i = rangeSets.findIndex((set) => rangeFor(set, ip));
    const slot = perSet[i];
    if (slot) slot.used++;
  }
  return {
    used: perSet.reduce((n, s) => n + s.used, 0),
    capacity: perSet.reduce((n, s) => n + s.capacity, 0n),
    rangeSets: perSet,
  };
}

// ---- choosing addresses ----

interface Pick {
  readonly ip: IpAddress;
  readonly range: IpRange;
}

/** Matches each requested address to the set that will yield it; rejects what cannot be. */
function requestedPerSet(rangeSets: readonly RangeSet[], requested: readonly IpAddress[]): Map<number, IpAddress> {
  const wanted = new Map<number, IpAddress>();
  for (const ip of requested) {
    const i = rangeSets.findIndex((set) => rangeFor(set, ip));
    if (i < 0) {
      const sets = rangeSets.map(describeRangeSet).join('; ');
      throw new InvalidConfigError(`The requested address ${ip} is not in any range set (${sets})`, { field: 'ips', value: String(ip) });
    }
    const other = wanted.get(i);
    if (other) {
      throw new InvalidConfigError(`The requested addresses ${other} and ${ip} are both in range set ${describeRangeSet(rangeSets[i] as RangeSet)}, which yields one address`, {
        field: 'ips',
        value: String(ip),
      });
    }
    const reason = reservedReason(rangeFor(rangeSets[i] as RangeSet, ip) as IpRange, ip);
    if (reason) throw new InvalidConfigError(`The requested address ${ip} is ${reason} and is never handed out`, { field: 'ips', value: String(ip) });
    wanted.set(i, ip);
  }
  return wanted;
}

function takeRequested(pool: Pool, ip: IpAddress, set: RangeSet): Pick {
  const holder = pool.holder(String(ip));
  if (holder) {
    throw new AddressTakenError(`The requested address ${ip} is in use by container ${holder.containerId} (interface ${holder.ifname})`, {
      field: 'ips',
      value: String(ip),
    });
  }
  return { ip, range: rangeFor(set, ip) as IpRange };
}

/** The first free address after the set's cursor, wrapping round (host-local's rotation). */
function nextFree(pool: Pool, set: RangeSet, setId: string): Pick {
  const cursorText = pool.cursor(setId);
  const cursor = cursorText === undefined ? undefined : IpAddress.tryParse(cursorText);
  for (const { range, value } of candidates(set, cursor)) {
    const ip = IpAddress.fromBigInt(range.subnet.family, value);
    if (!pool.holder(String(ip))) return { ip, range };
  }
  const described = describeRangeSet(set);
  throw new PoolExhaustedError(`Cannot allocate an address from range set ${described}: all ${capacityOf(set)} addresses are in use`, {
    field: 'rangeSets',
    value: described,
  });
}

function assignedOf(holding: Holding): AssignedAddress {
  return assigned(IpAddress.parse(holding.address), holding);
}

function assigned(ip: IpAddress, holding: Holding): AssignedAddress {
  return {
    address: { address: ip, length: holding.prefixLength },
    ...(holding.gateway !== undefined ? { gateway: IpAddress.parse(holding.gateway) } : {}),
  };
}

// ---- argument checks ----

function checkNetwork(network: string): void {
  if (network === '') throw new InvalidConfigError('The network name must not be empty', { field: 'network', value: network });
}

function checkAttachment(network: string, who: Attachment): void {
  checkNetwork(network);
  // The pool document separates fields with spaces; CNI forbids whitespace in both anyway.
  if (who.containerId === '' || /\s/.test(who.containerId)) {
    throw new InvalidConfigError(`The container id ${JSON.stringify(who.containerId)} is not valid: it must be non-empty, without whitespace`, {
      field: 'containerId',
      value: who.containerId,
    });
  }
  if (who.ifname === '' || /\s/.test(who.ifname)) {
    throw new InvalidConfigError(`The interface name ${JSON.stringify(who.ifname)} is not valid: it must be non-empty, without whitespace`, {
      field: 'ifname',
      value: who.ifname,
    });
  }
}

function checkRequest(request: AllocateRequest): void {
  checkAttachment(request.network, request);
  if (request.rangeSets.length === 0) throw new InvalidConfigError('There are no range sets to allocate from', { field: 'rangeSets' });
  request.rangeSets.forEach((set, i) => {
    if (set.length === 0) throw new InvalidConfigError(`Range set ${i} is empty`, { field: `rangeSets[${i}]` });
  });
}
