/**
 * berthd in a cluster: the node's presence in etcd, its overlay memberships, and the other
 * nodes programmed on this host's VXLAN devices (the `Cluster` drivers ask for,
 * drivers/cluster.ts).
 *
 * - One etcd lease per node (TTL `--node-ttl`) carries every key that says "this node is
 *   here": `cluster/nodes/<node>`, the node's record in each overlay network, the addresses it
 *   announced. When the node dies its keys vanish and every other node drops its entries.
 *   berthd stopping does not revoke the lease: a restart within the TTL changes nothing for
 *   the peers, so traffic keeps flowing across it.
 * - Overlay networks are keyed in etcd by VNI (`overlay/vni-<N>/…`): the VNI is the cluster
 *   network, whatever each node's engine or conflist calls it.
 * - Each joined network has a watch on its node records (and addresses); any change runs one
 *   sync: read the records, plan (drivers/overlay/peer-plan.ts), bring the kernel to the plan
 *   (peer-programmer.ts). Changes during a sync fold into the next one.
 * - etcd unreachable: joins fall back to what this node last recorded (it keeps its block and
 *   its pods get addresses), the kernel keeps its entries, watches come back by themselves and
 *   replay what was missed; berthd connects in the background when etcd was down at start.
 */
import type { BerthError } from '../../core/errors.js';
import { InvalidConfigError, TryAgainError, asBerthError } from '../../core/errors.js';
import type { IpAddress } from '../../core/ip.js';
import { IpPrefix } from '../../core/ip.js';
import type { LinkInfo, Netlink } from '../../dataplane/linux/ports.js';
import type { AnnouncedEndpoint, Cluster, OverlayJoin, OverlayMembership } from '../../drivers/cluster.js';
import { MembershipCache } from '../../drivers/overlay/membership-cache.js';
import { NodeLeases, type NodeLease } from '../../drivers/overlay/node-lease.js';
import { OverlayKeys } from '../../drivers/overlay/lease-record.js';
import { planPeers } from '../../drivers/overlay/peer-plan.js';
import { PeerProgrammer, type PeerTarget } from '../../drivers/overlay/peer-programmer.js';
import type { EtcdStore, EtcdStoreOptions } from '../../store/etcd/etcd-store.js';
import type { JsonValue, Store, Unsubscribe } from '../../store/store.js';
import type { Log } from '../log.js';

export interface ClusterConfig {
  readonly endpoints: readonly string[];
  readonly node: string;
  readonly advertiseAddress: IpAddress;
  /** Key prefix in etcd. @default '/berth/' */
  readonly prefix?: string;
  readonly nodeTtlSeconds: number;
  /** How long a block of a node that left stays its own. */
  readonly subnetGraceMs: number;
}

export interface ClusterAgentDeps {
  readonly log: Log;
  readonly runDir: string;
  /** Netlink of the host namespace. */
  readonly netlink: () => Netlink;
  readonly version: string;
  /** @default store/etcd openEtcdStore (loaded on first use) */
  readonly openStore?: (options: EtcdStoreOptions) => Promise<EtcdStore>;
}

/** What `berth status` shows of the cluster. */
export interface ClusterStatus {
  readonly node: string;
  readonly advertiseAddress: string;
  readonly endpoints: readonly string[];
  readonly etcdHealthy: boolean;
  readonly etcdError: string;
  readonly nodes: readonly { readonly name: string; readonly address: string; readonly version: string; readonly since: string }[];
  readonly overlays: readonly {
    readonly network: string;
    readonly vni: number;
    readonly subnet: string;
    readonly mode: string;
    readonly device: string;
    readonly nodes: readonly { readonly node: string; readonly subnet: string; readonly vtep: string; readonly vtepMac: string; readonly released: boolean }[];
  }[];
}

interface Joined {
  readonly join: OverlayJoin;
  readonly keys: OverlayKeys;
  /** Absent while provisional. */
  readonly leases: NodeLeases | undefined;
  membership: OverlayMembership;
  /** Joined from this node's record while etcd was away: join again once it is back. */
  readonly provisional: boolean;
  unwatch: Unsubscribe[];
  current: Promise<void>;
  pending: Promise<void> | undefined;
  retry: NodeJS.Timeout | undefined;
  lastProblem: string;
}

const RETRY_MS = 2000;

export class ClusterAgent implements Cluster {
  readonly node: string;
  readonly advertiseAddress: IpAddress;
  private store: EtcdStore | undefined;
  private lease: Store | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly joined = new Map<string, Joined>();
  private readonly cache: MembershipCache;
  private readonly programmer: () => PeerProgrammer;
  private lastConnectError = '';

  constructor(
    private readonly config: ClusterConfig,
    private readonly deps: ClusterAgentDeps,
  ) {
    this.node = config.node;
    this.advertiseAddress = config.advertiseAddress;
    this.cache = new MembershipCache(deps.runDir);
    let programmer: PeerProgrammer | undefined;
    this.programmer = () => (programmer ??= new PeerProgrammer(deps.netlink()));
  }

  /** Connects (or keeps trying in the background), announces the node and resumes the networks this host is in. */
  async start(): Promise<void> {
    this.underlay(); // fails now, clearly, when the advertise address is on no interface
    await this.connect();
    const every = Math.max(1000, Math.min(this.config.subnetGraceMs / 2, 60_000));
    this.reclaimTimer = setInterval(() => void this.reclaim(), every);
    this.reclaimTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.reclaimTimer) clearInterval(this.reclaimTimer);
    for (const n of this.joined.values()) this.unwatch(n);
    await Promise.all([...this.joined.values()].map((n) => n.current.catch(() => {})));
    // Not revoked: the keys outlive a restart by up to the TTL, so peers keep their routes.
    (this.lease as { release?: () => void } | undefined)?.release?.();
    this.store?.close();
  }

  /** The cluster store while etcd is connected (the Docker IPAM's global address space lives there). */
  connectedStore(): Store | undefined {
    return this.store;
  }

  // --- Cluster ---

  async joinOverlay(join: OverlayJoin): Promise<OverlayMembership> {
    const known = this.joined.get(join.network);
    if (known && sameJoin(known.join, join) && !known.provisional) return known.membership;
    const store = this.store;
    if (!store) return this.provisionalJoin(join, new TryAgainError(`etcd (${this.config.endpoints.join(', ')}) is not reachable: ${this.lastConnectError}`));
    try {
      return await this.joinWith(store, join);
    } catch (err) {
      if (asBerthError(err).code !== 'try-again') throw err;
      return this.provisionalJoin(join, err as BerthError);
    }
  }

  async overlayReady(network: string): Promise<void> {
    const n = this.joined.get(network);
    if (!n) return;
    try {
      await this.requestSync(n);
    } catch {
      // Logged by the sync; the pod works on this node and the retry brings the peers.
    }
  }

  async leaveOverlay(network: string): Promise<void> {
    const n = this.joined.get(network);
    if (!n) return;
    this.joined.delete(network);
    this.unwatch(n);
    if (n.retry) clearTimeout(n.retry);
    const store = this.store;
    const leases = n.leases;
    if (!store || !leases) return;
    try {
      if (n.join.shared) {
        for (const e of await store.list(`${n.keys.endpointsPrefix}${this.node}/`)) await store.delete(e.key);
        await leases.forget(this.node);
        if ((await leases.list()).length === 0) await store.delete(n.keys.definitionKey);
        this.cache.remove(network);
      } else {
        await leases.release(this.node);
      }
      this.deps.log.info('cluster: left overlay network', { network, vni: n.join.vni });
    } catch (err) {
      this.deps.log.warn('cluster: could not record leaving an overlay network; peers keep their entries until this node comes back or its lease expires', {
        network,
        error: asBerthError(err).message,
      });
    }
  }

  async announceEndpoint(ep: AnnouncedEndpoint): Promise<void> {
    const n = this.joined.get(ep.network);
    const lease = this.lease;
    if (!n || !lease) throw new TryAgainError(`cannot announce ${ep.address} on overlay network ${ep.network}: etcd is not reachable`);
    await lease.put(n.keys.endpointKey(this.node, ep.endpoint), { address: ep.address.toString() });
  }

  async withdrawEndpoint(network: string, endpoint: string): Promise<void> {
    const n = this.joined.get(network);
    if (!n || !this.store) return;
    await this.store.delete(n.keys.endpointKey(this.node, endpoint));
  }

  // --- status ---

  async status(): Promise<ClusterStatus> {
    const base = { node: this.node, advertiseAddress: this.advertiseAddress.toString(), endpoints: [...this.config.endpoints] };
    const store = this.store;
    if (!store) return { ...base, etcdHealthy: false, etcdError: this.lastConnectError || 'connecting', nodes: [], overlays: [] };
    try {
      const nodes = (await store.list('cluster/nodes/')).map((e) => {
        const v = e.value as { node?: string; address?: string; version?: string; since?: string };
        return { name: v.node ?? e.key.slice('cluster/nodes/'.length), address: v.address ?? '', version: v.version ?? '', since: v.since ?? '' };
      });
      const overlays = [];
      for (const n of this.joined.values()) {
        const leases = n.leases ? await n.leases.list() : [];
        overlays.push({
          network: n.join.network,
          vni: n.join.vni,
          subnet: n.join.subnet.toString(),
          mode: n.join.mode,
          device: n.join.device,
          nodes: leases.map((l) => ({ node: l.node, subnet: l.subnet, vtep: l.vtep, vtepMac: l.vtepMac, released: l.releasedAt !== undefined })),
        });
      }
      return { ...base, etcdHealthy: true, etcdError: '', nodes, overlays };
    } catch (err) {
      return { ...base, etcdHealthy: false, etcdError: asBerthError(err).message, nodes: [], overlays: [] };
    }
  }

  // --- connecting ---

  private async connect(): Promise<void> {
    if (this.stopped) return;
    try {
      const open = this.deps.openStore ?? (await import('../../store/etcd/etcd-store.js')).openEtcdStore;
      const store = await open({
        endpoints: this.config.endpoints,
        ...(this.config.prefix ? { prefix: this.config.prefix } : {}),
        onError: (err) => this.deps.log.debug('cluster: etcd', { error: err.message }),
      });
      if (this.stopped) {
        store.close();
        return;
      }
      const lease = store.leaseFor(this.config.nodeTtlSeconds);
      await lease.put(`cluster/nodes/${this.node}`, { node: this.node, address: this.advertiseAddress.toString(), version: this.deps.version, since: new Date().toISOString() });
      this.store = store;
      this.lease = lease;
      this.lastConnectError = '';
      this.deps.log.info('cluster: connected to etcd', { endpoints: this.config.endpoints, node: this.node, advertise: this.advertiseAddress.toString() });
      await this.resume();
    } catch (err) {
      const message = asBerthError(err).message;
      if (message !== this.lastConnectError) this.deps.log.warn('cluster: etcd is not reachable; retrying in the background (pods on blocks this node holds keep working)', { error: message });
      this.lastConnectError = message;
      this.connectTimer = setTimeout(() => void this.connect(), RETRY_MS);
      this.connectTimer.unref();
    }
  }

  /** The networks this host is in (their devices exist), and those joined while etcd was away. */
  private async resume(): Promise<void> {
    const joins = new Map<string, OverlayJoin>();
    for (const name of this.cache.list()) {
      const cached = this.cache.read(name);
      if (cached && this.deps.netlink().getLink(cached.join.device)) joins.set(name, cached.join);
    }
    for (const n of this.joined.values()) joins.set(n.join.network, n.join);
    for (const join of joins.values()) {
      try {
        await this.joinWith(this.store!, join);
        const n = this.joined.get(join.network);
        if (n) void this.requestSync(n).catch(() => {});
      } catch (err) {
        this.deps.log.warn('cluster: could not rejoin an overlay network', { network: join.network, error: asBerthError(err).message });
      }
    }
  }

  // --- joining ---

  private async joinWith(store: EtcdStore, join: OverlayJoin): Promise<OverlayMembership> {
    const keys = new OverlayKeys(`vni-${join.vni}`);
    await this.define(store, keys, join);
    const leases = new NodeLeases(store, keys.network, { nodeStore: this.lease!, graceMs: this.config.subnetGraceMs });
    const request = { subnet: join.subnet.toString(), vtep: this.advertiseAddress.toString(), vtepMac: join.vtepMac };
    const before = this.joined.get(join.network);
    const lease: NodeLease = join.shared ? await leases.announce(this.node, request) : await leases.acquire(this.node, { ...request, subnetLen: join.subnetLen });
    if (join.shared && !before?.leases) {
      // Addresses this node announced before a restart hang on its old etcd lease: put them on this one.
      for (const e of await store.list(`${keys.endpointsPrefix}${this.node}/`)) await this.lease!.put(e.key, e.value);
    }
    const membership: OverlayMembership = { node: this.node, block: IpPrefix.parse(lease.subnet), vtep: this.advertiseAddress };
    const old = this.joined.get(join.network);
    if (old) this.unwatch(old);
    const n: Joined = { join, keys, leases, membership, provisional: false, unwatch: [], current: old?.current ?? Promise.resolve(), pending: undefined, retry: undefined, lastProblem: '' };
    this.joined.set(join.network, n);
    const onChange = () => void this.requestSync(n).catch(() => {});
    n.unwatch.push(store.watch(keys.nodesPrefix, onChange));
    if (join.shared) n.unwatch.push(store.watch(keys.endpointsPrefix, onChange));
    if (!old || old.membership.block.toString() !== membership.block.toString()) {
      this.deps.log.info('cluster: joined overlay network', { network: join.network, vni: join.vni, block: membership.block.toString(), vtep: this.advertiseAddress.toString() });
    }
    return membership;
  }

  /** The first node to join defines the network; a node that means another network by the same VNI is refused. */
  private async define(store: Store, keys: OverlayKeys, join: OverlayJoin): Promise<void> {
    const want = { subnet: join.subnet.toString(), subnetLen: join.subnetLen, shared: join.shared };
    const put = await store.put(keys.definitionKey, want, { expectRevision: 0 });
    if (put.ok || !put.current) return;
    const have = put.current.value as { subnet?: JsonValue; subnetLen?: JsonValue; shared?: JsonValue };
    if (have.subnet === want.subnet && have.subnetLen === want.subnetLen && have.shared === want.shared) return;
    const shape = (d: typeof have) => `subnet ${String(d.subnet)}${d.shared ? ' shared across hosts' : `, a /${String(d.subnetLen)} per node`}`;
    throw new InvalidConfigError(
      `VNI ${join.vni} is already the cluster network with ${shape(have)}; network ${join.network} asks for ${shape(want)}: use the same subnet on every host, or another VNI`,
      { field: 'vni', value: String(join.vni) },
    );
  }

  /** etcd is away: what this node recorded of the same join, or the error. */
  private provisionalJoin(join: OverlayJoin, err: BerthError): OverlayMembership {
    const cached = this.cache.read(join.network);
    if (!cached || cached.node !== this.node || !sameJoin(cached.join, join)) {
      throw new TryAgainError(`overlay network ${join.network}: this node holds no block of it yet and ${err.message}`, { field: 'network', value: join.network });
    }
    const membership: OverlayMembership = { node: cached.node, block: cached.block, vtep: cached.vtep };
    if (!this.joined.has(join.network)) {
      const keys = new OverlayKeys(`vni-${join.vni}`);
      this.joined.set(join.network, {
        join,
        keys,
        leases: undefined, // the real join replaces this entry once etcd is back (resume)
        membership,
        provisional: true,
        unwatch: [],
        current: Promise.resolve(),
        pending: undefined,
        retry: undefined,
        lastProblem: '',
      });
      this.deps.log.warn('cluster: etcd is away; the overlay network runs on the block this node recorded', { network: join.network, block: membership.block.toString() });
    }
    return membership;
  }

  // --- programming peers ---

  /** Runs a sync that starts after this call (one queued sync serves every request made before it starts). */
  private requestSync(n: Joined): Promise<void> {
    if (n.pending) return n.pending;
    const run = n.current
      .catch(() => {})
      .then(() => {
        n.pending = undefined;
        return this.syncOnce(n);
      });
    n.pending = run;
    n.current = run;
    run.catch((err: unknown) => {
      const message = asBerthError(err).message;
      if (message !== n.lastProblem) this.deps.log.warn('cluster: peers of an overlay network not programmed; retrying', { network: n.join.network, error: message });
      n.lastProblem = message;
      if (!n.retry && this.joined.get(n.join.network) === n && !this.stopped) {
        n.retry = setTimeout(() => {
          n.retry = undefined;
          void this.requestSync(n).catch(() => {});
        }, RETRY_MS);
        n.retry.unref();
      }
    });
    return run;
  }

  private async syncOnce(n: Joined): Promise<void> {
    if (!n.leases || this.stopped || this.joined.get(n.join.network) !== n) return;
    const leases = await n.leases.list();
    let endpoints: Map<string, string[]> | undefined;
    if (n.join.shared) {
      endpoints = new Map();
      for (const e of await this.store!.list(n.keys.endpointsPrefix)) {
        const node = e.key.slice(n.keys.endpointsPrefix.length).split('/')[0] ?? '';
        const address = (e.value as { address?: unknown }).address;
        if (typeof address === 'string') endpoints.set(node, [...(endpoints.get(node) ?? []), address]);
      }
    }
    const nl = this.deps.netlink();
    const device = nl.getLink(n.join.device);
    if (!device) return; // not on this host (yet): the driver asks again once it is
    const { link, prefix } = this.underlay();
    const plan = planPeers(this.node, leases, { mode: n.join.mode, underlay: prefix, ...(endpoints ? { endpoints } : {}) });
    const target: PeerTarget = { device, underlay: link, cluster: n.join.subnet };
    const report = this.programmer().apply(target, plan);
    const problems = plan.skipped.map((s) => `${s.node}: ${s.reason}`).join('; ');
    if (problems && problems !== n.lastProblem) this.deps.log.warn('cluster: overlay peers left out', { network: n.join.network, skipped: problems });
    n.lastProblem = problems;
    if (report.add.length || report.remove.length) {
      this.deps.log.info('cluster: overlay peers programmed', { network: n.join.network, peers: plan.peers.map((p) => p.node), added: report.add.length, removed: report.remove.length });
    }
  }

  private unwatch(n: Joined): void {
    for (const stop of n.unwatch) stop();
    n.unwatch = [];
  }

  private async reclaim(): Promise<void> {
    for (const n of this.joined.values()) {
      if (!n.leases || n.join.shared) continue;
      try {
        for (const r of await n.leases.reclaimExpired()) this.deps.log.info('cluster: a block returned to the pool', { network: n.join.network, node: r.node, subnet: r.subnet, reason: r.reason });
      } catch (err) {
        this.deps.log.debug('cluster: reclaim skipped', { error: asBerthError(err).message });
      }
    }
  }

  /** The link holding the advertise address, and that address's prefix (who is on the same underlay subnet). */
  private underlay(): { link: LinkInfo; prefix: IpPrefix } {
    const nl = this.deps.netlink();
    const held = nl.listAddresses({ family: this.advertiseAddress.family }).find((a) => a.address.address.equals(this.advertiseAddress));
    const link = held && nl.getLinkByIndex(held.index);
    if (!held || !link) {
      throw new InvalidConfigError(`--advertise-address ${this.advertiseAddress} is on no interface of this host`, { field: '--advertise-address', value: this.advertiseAddress.toString() });
    }
    return { link, prefix: IpPrefix.of(held.address.address, held.address.length) };
  }
}

function sameJoin(a: OverlayJoin, b: OverlayJoin): boolean {
  return (
    a.vni === b.vni && a.subnet.toString() === b.subnet.toString() && a.subnetLen === b.subnetLen && a.shared === b.shared && a.mode === b.mode && a.device === b.device && a.vtepMac === b.vtepMac
  );
}
