/**
 * Docker's remote IPAM (`--ipam-driver berth`) on berth's IPAM. Docker thinks in pools
 * (RequestPool → PoolID) and in addresses requested and released by value, with no endpoint
 * to name the holder; berth's IPAM allocates per attachment. So each pool is one berth IPAM
 * "network" (`docker:<PoolID>`), and each address Docker requests is held by an attachment of
 * its own (a random token), found again by address on release.
 *
 * Pool records live under `berthd/ipam/pools/<PoolID>`. Like Docker's own IPAM (20.10,
 * `updatePoolDBOnAdd`), a pool must not overlap another pool of its address space, the same
 * subnet twice included; it must not overlap a berthd network either. Releasing a pool drops
 * the addresses still held in it and its IPAM document.
 *
 * In a cluster, the global address space (what Docker uses for networks of global-scope
 * drivers: berth-overlay) lives in etcd: every node's engine creates the same network, so the
 * same subnet asked again by another node is the same pool (each node is recorded as a user;
 * the pool goes with the last), its gateway is shared (each node's bridge holds it), and every
 * other address is taken by compare-and-swap, so containers on different hosts never share one.
 * Docker (20.10 and later, without swarm) keeps networks of global-scope drivers only in a
 * cluster store it no longer has, so berth-overlay tells Docker it is local-scope and Docker
 * asks for its pools in the local space: a local pool whose subnet is a berthd network of a
 * cluster driver (berth-overlay) joins the cluster's pool of that subnet (`berth-global/…`) at
 * its first container address, and records it (`cluster`); from then on its addresses come
 * from the cluster's pool, and releasing the local pool leaves the cluster's. The gateway Docker
 * asked for before the network existed stays this node's own.
 */
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, InvalidConfigError, NotFoundError, PoolExhaustedError, TryAgainError } from '../core/errors.js';
import { IpAddress, IpParseError, IpPrefix } from '../core/ip.js';
import type { IpRange } from '../core/model.js';
import { CATALOG } from '../drivers/catalog.js';
import { Ipam, poolKey } from '../ipam/allocator.js';
import type { JsonValue, Store } from '../store/store.js';
import type { Log } from './log.js';
import type { SerialQueue } from './serial-queue.js';
import { NETWORK_PREFIX, asNetworkRecord } from './state/records.js';

/** The address spaces berth's IPAM offers (GetDefaultAddressSpaces). */
export const LOCAL_ADDRESS_SPACE = 'berth-local';
export const GLOBAL_ADDRESS_SPACE = 'berth-global';

/** Docker's RequestAddressType option value for a network's gateway. */
const GATEWAY_REQUEST = 'com.docker.network.gateway';
const POOLS = 'berthd/ipam/pools/';
const HOLDER_IFNAME = 'docker';

export interface PoolRequest {
  readonly addressSpace: string;
  /** CIDR, or empty: berth picks a free pool from the default range. */
  readonly pool: string;
  /** CIDR inside `pool` (`--ip-range`): addresses without a specific request come from here. */
  readonly subPool: string;
  readonly v6: boolean;
}

export interface PoolRecord {
  readonly id: string;
  readonly addressSpace: string;
  readonly pool: string;
  readonly subPool?: string;
  /** A local pool of a cluster network: the id of the cluster's pool its addresses come from. */
  readonly cluster?: string;
}

export interface DockerIpamOptions {
  /** Where pools come from when Docker gives no subnet. @default 10.209.0.0/16 */
  readonly defaultRange?: IpPrefix;
  /** Prefix length of pools picked from the default range. @default 24 */
  readonly defaultPoolLength?: number;
}

export class DockerIpam {
  private readonly ipam: Ipam;
  private readonly defaultRange: IpPrefix;
  private readonly defaultPoolLength: number;

  private readonly clusterIpam = new WeakMap<Store, Ipam>();

  constructor(
    private readonly deps: {
      readonly store: Store;
      readonly queue: SerialQueue;
      readonly log: Log;
      /** The cluster (etcd) when berthd runs in one: where the global address space lives. */
      readonly cluster?: { readonly node: string; readonly store: () => Store | undefined };
    },
    options: DockerIpamOptions = {},
  ) {
    this.ipam = new Ipam(deps.store);
    this.defaultRange = options.defaultRange ?? IpPrefix.parse('10.209.0.0/16');
    this.defaultPoolLength = options.defaultPoolLength ?? 24;
    if (this.defaultPoolLength < this.defaultRange.length || this.defaultPoolLength > 30) {
      throw new InvalidConfigError(`The default pool length /${this.defaultPoolLength} does not fit the default range ${this.defaultRange}`, { field: 'default-pool-length' });
    }
  }

  /**
   * Reserves a pool (RequestPool); AlreadyExistsError naming the holder when it overlaps
   * one in use. An empty `pool` picks the first free one of the default range.
   */
  requestPool(req: PoolRequest): Promise<{ poolId: string; pool: string }> {
    return this.deps.queue.run(async () => {
      const space = req.addressSpace || LOCAL_ADDRESS_SPACE;
      if (space !== LOCAL_ADDRESS_SPACE && space !== GLOBAL_ADDRESS_SPACE) {
        throw new InvalidConfigError(`Unknown address space ${JSON.stringify(space)}: berth offers ${LOCAL_ADDRESS_SPACE} and ${GLOBAL_ADDRESS_SPACE}`, { field: 'AddressSpace', value: space });
      }
      const taken = await this.takenPrefixes(space);
      let pool: IpPrefix;
      if (req.pool === '') {
        if (req.subPool !== '') throw new InvalidConfigError('An ip-range (SubPool) needs a subnet (Pool)', { field: 'SubPool', value: req.subPool });
        if (req.v6) throw new InvalidConfigError('berth IPAM picks IPv4 pools only: give the IPv6 subnet (--subnet fd00:…/64)', { field: 'Pool' });
        pool = this.pickPool(taken.map((t) => t.prefix));
      } else {
        pool = parsePrefix(req.pool, 'Pool');
        if (pool.family !== (req.v6 ? 6 : 4)) throw new InvalidConfigError(`Pool ${pool} is not an IPv${req.v6 ? 6 : 4} subnet`, { field: 'Pool', value: req.pool });
        if (pool.network.bits - pool.length < 2) throw new InvalidConfigError(`Pool ${pool} is too small to allocate from`, { field: 'Pool', value: req.pool });
      }
      let subPool: IpPrefix | undefined;
      if (req.subPool !== '') {
        subPool = parsePrefix(req.subPool, 'SubPool');
        if (!pool.contains(subPool.first) || !pool.contains(subPool.last)) {
          throw new InvalidConfigError(`The ip-range ${subPool} is not inside subnet ${pool}`, { field: 'SubPool', value: req.subPool });
        }
      }
      const id = `${space}/${pool}${subPool ? `/${subPool}` : ''}`;
      const key = POOLS + id;
      const shared = this.sharedStore(space);
      if (shared) return this.requestSharedPool(shared, { id, addressSpace: space, pool: String(pool), ...(subPool ? { subPool: String(subPool) } : {}) });
      const clash = taken.find((t) => t.prefix.overlaps(pool));
      if (clash) {
        throw new AlreadyExistsError(`Subnet ${pool} overlaps ${clash.owner} (${clash.prefix})`, { field: 'Pool', value: String(pool) });
      }
      const record: PoolRecord = { id, addressSpace: space, pool: String(pool), ...(subPool ? { subPool: String(subPool) } : {}) };
      await this.deps.store.put(key, record as unknown as JsonValue);
      this.deps.log.info('ipam pool reserved', { pool: id });
      return { poolId: id, pool: String(pool) };
    });
  }

  /** Frees the pool and every address still held in it. An unknown pool is success. */
  releasePool(poolId: string): Promise<void> {
    return this.deps.queue.run(async () => {
      const shared = this.sharedStore(spaceOf(poolId));
      if (shared) return this.releaseSharedPool(shared, poolId);
      const key = POOLS + poolId;
      const entry = await this.deps.store.get(key);
      if (!entry) return;
      const joined = (entry.value as unknown as PoolRecord).cluster;
      if (joined) {
        try {
          await this.releaseSharedPool(this.sharedStore(GLOBAL_ADDRESS_SPACE)!, joined);
        } catch (err) {
          this.deps.log.warn("ipam: could not leave the cluster's pool; it keeps this node as a user", { pool: joined, error: (err as Error).message });
        }
      }
      const network = ipamNetwork(poolId);
      await this.ipam.gc(network, []);
      await this.deps.store.delete(poolKey(network));
      await this.deps.store.delete(key);
      this.deps.log.info('ipam pool released', { pool: poolId });
    });
  }

  /**
   * Hands out an address (RequestAddress): the one asked for, or the next free one (from the
   * ip-range when there is one). A gateway request without an address takes the pool's first
   * host address, as Docker's own IPAM does. Returns CIDR text.
   */
  requestAddress(req: { readonly poolId: string; readonly address: string; readonly options: Readonly<Record<string, string>> }): Promise<string> {
    return this.deps.queue.run(async () => {
      const gateway = req.options['RequestAddressType'] === GATEWAY_REQUEST;
      // The gateway is asked for with the pool, before the network exists: it stays where the pool is.
      const { store, ipam, record } = await this.placeOf(req.poolId, { join: !gateway });
      const pool = IpPrefix.parse(record.pool);
      const sharedGateway = store !== this.deps.store && gateway;
      let wanted: IpAddress | undefined;
      if (req.address !== '') {
        wanted = IpAddress.tryParse(req.address);
        if (!wanted) throw new InvalidConfigError(`Address ${JSON.stringify(req.address)} is not an IP address`, { field: 'Address', value: req.address });
        if (!pool.contains(wanted)) throw new InvalidConfigError(`Address ${wanted} is outside subnet ${pool}`, { field: 'Address', value: req.address });
      } else if (gateway) {
        wanted = pool.first.plus(1n);
      }
      // A specific address may lie anywhere in the pool; others come from the ip-range.
      const from = wanted || !record.subPool ? pool : IpPrefix.parse(record.subPool);
      // Shared pools: every node's bridge holds the one gateway; its holder is the pool itself.
      const [assigned] = await ipam.allocate({
        network: ipamNetwork(record.id),
        containerId: sharedGateway ? SHARED_GATEWAY_HOLDER : `d${randomBytes(12).toString('hex')}`,
        ifname: HOLDER_IFNAME,
        rangeSets: [[rangeOf(pool, from)]],
        ...(wanted ? { requested: [wanted] } : {}),
      });
      if (!assigned) throw new PoolExhaustedError(`Subnet ${pool} has no free address`, { field: 'PoolID', value: req.poolId });
      return `${assigned.address.address}/${pool.length}`;
    });
  }

  /** Frees an address (ReleaseAddress). An address nobody holds is success. */
  releaseAddress(req: { readonly poolId: string; readonly address: string }): Promise<void> {
    return this.deps.queue.run(async () => {
      const ip = IpAddress.tryParse(req.address.includes('/') ? req.address.slice(0, req.address.indexOf('/')) : req.address);
      if (!ip) throw new InvalidConfigError(`Address ${JSON.stringify(req.address)} is not an IP address`, { field: 'Address', value: req.address });
      const release = async (ipam: Ipam, record: PoolRecord): Promise<boolean> => {
        const network = ipamNetwork(record.id);
        const holder = (await ipam.list(network)).find((a) => a.address.address.address.equals(ip));
        // The shared gateway stays while the pool has users: other nodes' bridges hold it.
        if (holder && holder.containerId !== SHARED_GATEWAY_HOLDER) await ipam.release(network, holder.containerId, holder.ifname);
        return holder !== undefined && holder.containerId !== SHARED_GATEWAY_HOLDER;
      };
      const place = await this.placeOf(req.poolId, { join: false });
      if (await release(place.ipam, place.record)) return;
      // A local pool joined to the cluster's: its own gateway is still held here.
      if (place.store !== this.deps.store && spaceOf(req.poolId) !== GLOBAL_ADDRESS_SPACE) await release(this.ipam, await this.requirePool(req.poolId));
    });
  }

  /** Every pool with its addresses in use, for status and tests. */
  async pools(): Promise<{ record: PoolRecord; addresses: string[] }[]> {
    const out = [];
    for (const entry of await this.deps.store.list(POOLS)) {
      const record = entry.value as unknown as PoolRecord;
      const held = await this.ipam.list(ipamNetwork(record.id));
      out.push({ record, addresses: held.map((a) => String(a.address.address.address)) });
    }
    return out;
  }

  /**
   * Where a pool's addresses live, and its record there: the cluster store for the global space
   * in a cluster, and for a local pool joined to the cluster's; else berthd's own. With `join`,
   * a local pool of a cluster network not joined yet joins now.
   */
  private async placeOf(poolId: string, opts: { join: boolean }): Promise<{ store: Store; ipam: Ipam; record: PoolRecord }> {
    const shared = this.sharedStore(spaceOf(poolId));
    if (shared) return { store: shared, ipam: this.clusterIpamOf(shared), record: await this.requirePool(poolId, shared) };
    let record = await this.requirePool(poolId);
    if (!record.cluster && opts.join && this.deps.cluster) record = await this.joinClusterPool(record);
    if (!record.cluster) return { store: this.deps.store, ipam: this.ipam, record };
    const store = this.sharedStore(GLOBAL_ADDRESS_SPACE)!;
    return { store, ipam: this.clusterIpamOf(store), record: await this.requirePool(record.cluster, store) };
  }

  private clusterIpamOf(store: Store): Ipam {
    let ipam = this.clusterIpam.get(store);
    if (!ipam) this.clusterIpam.set(store, (ipam = new Ipam(store)));
    return ipam;
  }

  /**
   * A local pool whose subnet is a berthd network of a cluster driver (Docker asked for it in
   * the local space: see the header) joins the cluster's pool of that subnet, with the
   * network's gateway as the shared one; the local record says so. Other pools as they are.
   */
  private async joinClusterPool(local: PoolRecord): Promise<PoolRecord> {
    const subnet = IpPrefix.parse(local.pool);
    let gateway: string | undefined;
    let found = false;
    for (const entry of await this.deps.store.list(NETWORK_PREFIX)) {
      const n = asNetworkRecord(entry.value);
      if (n.origin !== 'docker' || !CATALOG.find((c) => c.name === n.driver)?.capabilities.needsClusterStore) continue;
      const s = n.subnets.find((x) => IpPrefix.parse(x.subnet).toString() === subnet.toString());
      if (s) {
        found = true;
        gateway = s.gateway;
        break;
      }
    }
    if (!found) return local;
    const store = this.sharedStore(GLOBAL_ADDRESS_SPACE)!;
    const cluster: PoolRecord = {
      id: `${GLOBAL_ADDRESS_SPACE}/${local.pool}${local.subPool ? `/${local.subPool}` : ''}`,
      addressSpace: GLOBAL_ADDRESS_SPACE,
      pool: local.pool,
      ...(local.subPool ? { subPool: local.subPool } : {}),
    };
    await this.requestSharedPool(store, cluster);
    if (gateway) {
      await this.clusterIpamOf(store).allocate({
        network: ipamNetwork(cluster.id),
        containerId: SHARED_GATEWAY_HOLDER,
        ifname: HOLDER_IFNAME,
        rangeSets: [[rangeOf(subnet, subnet)]],
        requested: [IpAddress.parse(gateway)],
      });
    }
    const joined: PoolRecord = { ...local, cluster: cluster.id };
    await this.deps.store.put(POOLS + local.id, joined as unknown as JsonValue);
    return joined;
  }

  /** The cluster store when `space` is the global space and berthd is in a cluster; TryAgainError while etcd is away. */
  private sharedStore(space: string): Store | undefined {
    const cluster = this.deps.cluster;
    if (!cluster || space !== GLOBAL_ADDRESS_SPACE) return undefined;
    const store = cluster.store();
    if (!store) throw new TryAgainError(`The cluster's address space (${GLOBAL_ADDRESS_SPACE}) is in etcd, which is not reachable now`, { field: 'AddressSpace', value: space });
    return store;
  }

  /** The same subnet from another node's engine is the same pool; an overlapping other subnet is refused. */
  private async requestSharedPool(store: Store, want: PoolRecord): Promise<{ poolId: string; pool: string }> {
    const node = this.deps.cluster!.node;
    const pool = IpPrefix.parse(want.pool);
    for (const entry of await store.list(POOLS)) {
      const p = entry.value as unknown as SharedPoolRecord;
      if (p.id !== want.id && IpPrefix.parse(p.pool).overlaps(pool)) {
        throw new AlreadyExistsError(`Subnet ${pool} overlaps the cluster's pool ${p.id} (used by ${(p.users ?? []).join(', ') || 'no node'})`, { field: 'Pool', value: want.pool });
      }
    }
    await store.update(POOLS + want.id, (current) => {
      const have = current as unknown as SharedPoolRecord | undefined;
      const users = [...new Set([...(have?.users ?? []), node])].sort();
      if (have && have.users?.includes(node)) return { value: current, result: undefined };
      return { value: { ...want, users } as unknown as JsonValue, result: undefined };
    });
    this.deps.log.info('ipam pool joined in the cluster', { pool: want.id, node });
    return { poolId: want.id, pool: want.pool };
  }

  /** This node stops using the pool; the last user frees it and its addresses. */
  private async releaseSharedPool(store: Store, poolId: string): Promise<void> {
    const node = this.deps.cluster!.node;
    const left = await store.update(POOLS + poolId, (current) => {
      if (current === undefined) return { value: current, result: -1 };
      const have = current as unknown as SharedPoolRecord;
      const users = (have.users ?? []).filter((u) => u !== node);
      return users.length ? { value: { ...have, users } as unknown as JsonValue, result: users.length } : { value: undefined, result: 0 };
    });
    if (left === 0) {
      await store.delete(poolKey(ipamNetwork(poolId)));
      this.deps.log.info('ipam pool released in the cluster: its last user left', { pool: poolId });
    }
  }

  private async requirePool(poolId: string, store: Store = this.deps.store): Promise<PoolRecord> {
    const entry = await store.get(POOLS + poolId);
    if (!entry) throw new NotFoundError(`Pool ${JSON.stringify(poolId)} is not known to berth IPAM`, { field: 'PoolID', value: poolId });
    return entry.value as unknown as PoolRecord;
  }

  /** Pools of the address space and subnets of berthd networks, which a new pool must not overlap. */
  private async takenPrefixes(space: string): Promise<{ prefix: IpPrefix; owner: string }[]> {
    const taken: { prefix: IpPrefix; owner: string }[] = [];
    for (const entry of await this.deps.store.list(POOLS)) {
      const p = entry.value as unknown as PoolRecord;
      if (p.addressSpace === space) taken.push({ prefix: IpPrefix.parse(p.pool), owner: `berth IPAM pool ${p.id}` });
    }
    for (const entry of await this.deps.store.list(NETWORK_PREFIX)) {
      const n = asNetworkRecord(entry.value);
      for (const s of n.subnets) taken.push({ prefix: IpPrefix.parse(s.subnet), owner: `the subnet of berth network ${n.name}` });
    }
    return taken;
  }

  private pickPool(taken: readonly IpPrefix[]): IpPrefix {
    const step = 1n << BigInt(32 - this.defaultPoolLength);
    for (let v = this.defaultRange.first.value; v <= this.defaultRange.last.value; v += step) {
      const candidate = IpPrefix.of(IpAddress.fromBigInt(4, v), this.defaultPoolLength);
      if (!taken.some((t) => t.overlaps(candidate))) return candidate;
    }
    throw new PoolExhaustedError(`Every /${this.defaultPoolLength} of the default range ${this.defaultRange} is in use: give a subnet (--subnet)`, { field: 'Pool' });
  }
}

/** A pool of the cluster's address space, with the nodes whose engines use it. */
interface SharedPoolRecord extends PoolRecord {
  readonly users?: readonly string[];
}

/** Who holds a shared pool's gateway: the pool itself, for all its nodes. */
const SHARED_GATEWAY_HOLDER = 'gateway';

/** The address space a PoolID was made in (`<space>/<subnet>[/<ip-range>]`). */
function spaceOf(poolId: string): string {
  return poolId.slice(0, Math.max(0, poolId.indexOf('/')));
}

/** The berth IPAM network that holds a Docker pool's addresses. */
function ipamNetwork(poolId: string): string {
  return `docker:${poolId}`;
}

/** The allocatable range of `from` (network and broadcast excluded), labelled with `pool`'s prefix. */
function rangeOf(pool: IpPrefix, from: IpPrefix): IpRange {
  const start = from.first.equals(pool.first) ? from.first.plus(1n) : from.first;
  const end = pool.family === 4 && from.last.equals(pool.last) ? from.last.plus(-1n) : from.last;
  return { subnet: pool, rangeStart: start, rangeEnd: end };
}

function parsePrefix(text: string, field: string): IpPrefix {
  try {
    return IpPrefix.parse(text);
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
    throw new InvalidConfigError(`${field} ${JSON.stringify(text)} is not a subnet in CIDR notation such as 10.1.0.0/24: ${err.message}`, { field, value: text });
  }
}
