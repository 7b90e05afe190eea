/**
 * berthd's networks and endpoints: the one place where a request from Docker (plugin socket)
 * or from the API (gRPC) becomes driver calls plus persisted records. Protocol adapters parse
 * their wire format into these calls and render the results; they decide nothing.
 *
 * Every change runs in the shared SerialQueue and follows one pattern: validate everything
 * first, write the record marked incomplete, act (driver), mark it complete; a Rollback stack
 * undoes the steps done when a later one fails. A record left incomplete by a killed berthd
 * is undone by `reconcile` (see records.ts).
 */
import { randomBytes } from 'node:crypto';
import { AlreadyExistsError, BerthError, InvalidConfigError, NotFoundError } from '../core/errors.js';
import { IpPrefix, formatIpWithPrefix } from '../core/ip.js';
import type { PortMapping } from '../core/model.js';
import { DOCKER_MANAGED, type EndpointRef, type EndpointSpec } from '../drivers/driver.js';
import { Rollback } from '../drivers/rollback.js';
import { reconcileHost, type ReconcileDeps, type ReconcileReport } from './reconcile.js';
import { DOCKER_IFNAME, assignAddress, assignedOf, checkId, macFromAddresses, parseSubnet, portMappingRecord, specOf } from './network-spec.js';
import { NETWORK_PREFIX, asEndpointRecord, asNetworkRecord, endpointKey, endpointPrefix, networkKey, toJson, type EndpointRecord, type NetworkOrigin, type NetworkRecord } from './state/records.js';
import type { SerialQueue } from './serial-queue.js';

export interface CreateNetworkRequest {
  /** Docker's NetworkID; generated for API networks. */
  readonly id?: string;
  /** API networks: the user's name (unique). Docker networks: the first 12 characters of the id. */
  readonly name?: string;
  /** A berth driver (`bridge`) or plugin name (`berth-bridge`). */
  readonly driver: string;
  readonly origin: NetworkOrigin;
  /** CIDR subnets with optional plain gateway addresses, as the user or Docker wrote them. */
  readonly subnets: readonly { readonly subnet: string; readonly gateway?: string }[];
  readonly options: Readonly<Record<string, string>>;
  readonly internal?: boolean;
}

export interface CreateEndpointRequest {
  readonly networkId: string;
  readonly endpointId: string;
  /** Interface addresses with prefix length (`10.1.0.5/24`), as Docker's IPAM assigned them. */
  readonly addresses: readonly string[];
  /** The MAC Docker asked for (`--mac-address`); absent lets the kernel pick. */
  readonly mac?: string;
  readonly portMappings?: readonly PortMapping[];
}

/** What Join answers: the interface for Docker to move, and the gateways. */
export interface JoinInfo {
  readonly srcName: string;
  readonly gateway4?: string;
  readonly gateway6?: string;
  readonly internal: boolean;
}

/** A network and its endpoints, for inspect and list. */
export interface NetworkView {
  readonly network: NetworkRecord;
  readonly endpoints: readonly EndpointRecord[];
}

export type { ReconcileReport } from './reconcile.js';
export { DOCKER_IFNAME } from './network-spec.js';

export interface NetworkServiceDeps extends ReconcileDeps {
  readonly queue: SerialQueue;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export class NetworkService {
  private readonly now: () => Date;

  constructor(private readonly deps: NetworkServiceDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  // ---- networks ----

  /**
   * Creates a network: validates the subnets (and that they overlap no other berthd
   * network) and the driver options, then creates the driver's host objects. Idempotent for
   * a Docker id that already exists complete. Nothing remains when it fails.
   */
  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.deps.queue.run(async () => {
      const binding = this.deps.registry.get(req.driver);
      const id = req.id ?? randomBytes(32).toString('hex');
      checkId(id, 'NetworkID');
      const existing = await this.findRecord(id);
      if (existing?.complete) return existing;
      const name = req.name ?? id.slice(0, 12);
      const subnets = req.subnets.map((s, i) => parseSubnet(s, `subnets[${i}]`, { defaultGateway: req.origin === 'api' }));
      const record: NetworkRecord = {
        id,
        name,
        driver: binding.driver,
        plugin: binding.pluginName,
        origin: req.origin,
        subnets,
        options: { ...req.options },
        internal: req.internal ?? false,
        created: this.now().toISOString(),
        complete: false,
      };
      await this.checkConflicts(record);
      const spec = specOf(binding, record);
      // No subnet: the driver must lease its endpoints' addresses itself (transparent by DHCP).
      if (subnets.length === 0 && !binding.givesAddresses(spec.options)) {
        throw new InvalidConfigError(`Network ${name} needs at least one subnet: ${binding.pluginName} does not lease addresses itself (only berth-transparent, by DHCP, does)`, {
          field: 'subnets',
        });
      }
      const key = networkKey(id);
      return new Rollback().run(async (rb) => {
        await this.deps.store.put(key, toJson(record));
        rb.push(`forget network ${name}`, async () => void (await this.deps.store.delete(key)));
        await binding.impl.createNetwork(spec);
        rb.push(`delete network ${name}`, () => binding.impl.deleteNetwork(spec));
        const done = { ...record, complete: true };
        await this.deps.store.put(key, toJson(done));
        this.deps.log.info('network created', { network: id, name, driver: binding.driver, origin: req.origin, subnets: subnets.map((s) => s.subnet) });
        return done;
      });
    });
  }

  /**
   * Deletes a network by id, unique id prefix or name. Refuses while it has endpoints.
   * A network that does not exist is success for Docker (idempotent) and NotFoundError for
   * the API (`mustExist`).
   */
  deleteNetwork(ref: string, opts: { readonly mustExist: boolean }): Promise<void> {
    return this.deps.queue.run(async () => {
      const record = await this.resolve(ref, opts.mustExist);
      if (!record) return;
      const endpoints = await this.endpointsOf(record.id);
      if (endpoints.length > 0) {
        throw new BerthError('exists', `Network ${record.name} (${record.id.slice(0, 12)}) has ${endpoints.length} active endpoint(s): disconnect its containers first`, {
          field: 'network',
          value: record.name,
        });
      }
      const binding = this.deps.registry.get(record.driver);
      const key = networkKey(record.id);
      // Marked incomplete first: if berthd dies half-way, reconcile finishes the deletion.
      await this.deps.store.put(key, toJson({ ...record, complete: false }));
      await binding.impl.deleteNetwork(specOf(binding, record));
      await this.deps.store.delete(key);
      this.deps.log.info('network deleted', { network: record.id, name: record.name });
    });
  }

  /** Every network with its endpoints, oldest first. */
  async list(): Promise<NetworkView[]> {
    const networks = (await this.deps.store.list(NETWORK_PREFIX)).map((e) => asNetworkRecord(e.value)).filter((n) => n.complete);
    const endpoints = (await this.deps.store.list(endpointPrefix())).map((e) => asEndpointRecord(e.value)).filter((e) => e.complete);
    return networks.sort((a, b) => a.created.localeCompare(b.created) || a.id.localeCompare(b.id)).map((network) => ({ network, endpoints: endpoints.filter((e) => e.networkId === network.id) }));
  }

  /** One network by id, unique id prefix or name; NotFoundError when there is none. */
  async inspect(ref: string): Promise<NetworkView> {
    const network = (await this.resolve(ref, true)) as NetworkRecord;
    return { network, endpoints: await this.endpointsOf(network.id) };
  }

  // ---- endpoints (Docker) ----

  /**
   * Creates an endpoint's host objects (Docker mode: a veth pair in the host namespace whose
   * container end Docker moves at Join). Idempotent for an endpoint that exists complete.
   */
  createEndpoint(req: CreateEndpointRequest): Promise<EndpointRecord> {
    return this.deps.queue.run(async () => {
      checkId(req.endpointId, 'EndpointID');
      const network = await this.requireNetwork(req.networkId);
      const key = endpointKey(network.id, req.endpointId);
      const existing = (await this.deps.store.get(key))?.value;
      if (existing && asEndpointRecord(existing).complete) return asEndpointRecord(existing);
      const binding = this.deps.registry.get(network.driver);
      const addresses = req.addresses.map((a, i) => assignAddress(network, a, `Interface address ${i + 1}`));
      const mac = req.mac ?? macFromAddresses(addresses);
      const mappings = req.portMappings ?? [];
      if (mappings.length > 0 && !binding.impl.capabilities.portMappings) {
        throw new InvalidConfigError(`Driver ${binding.pluginName} does not publish ports: run the container without -p/-P, or on a berth-nat network`, {
          field: 'com.docker.network.portmap',
        });
      }
      const record: EndpointRecord = {
        id: req.endpointId,
        networkId: network.id,
        addresses: addresses.map((a) => ({ address: formatIpWithPrefix(a.address), ...(a.gateway ? { gateway: a.gateway.toString() } : {}) })),
        ...(mac ? { mac } : {}),
        srcName: '',
        sandbox: '',
        portMappings: mappings.map(portMappingRecord),
        created: this.now().toISOString(),
        complete: false,
      };
      const spec = specOf(binding, network);
      const ref: EndpointRef = { containerId: req.endpointId, ifname: DOCKER_IFNAME, placement: DOCKER_MANAGED };
      return new Rollback().run(async (rb) => {
        await this.deps.store.put(key, toJson(record));
        rb.push(`forget endpoint ${req.endpointId}`, async () => void (await this.deps.store.delete(key)));
        const info = await binding.impl.createEndpoint(spec, { ...ref, addresses, routes: [], ...(mac ? { mac } : {}), portMappings: mappings });
        rb.push(`delete endpoint ${req.endpointId}`, () => binding.impl.deleteEndpoint(spec, ref));
        const iface = info.interfaces[info.sandboxInterface];
        if (!iface) throw new BerthError('internal', `Driver ${binding.driver} returned no sandbox interface for endpoint ${req.endpointId}`);
        // A driver that leases addresses (DHCP) says which; Docker is told them in the reply.
        const leased = binding.givesAddresses(spec.options)
          ? info.addresses.map((a) => ({ address: formatIpWithPrefix(a.address), ...(a.gateway ? { gateway: a.gateway.toString() } : {}) }))
          : undefined;
        const done: EndpointRecord = { ...record, ...(leased ? { addresses: leased } : {}), srcName: iface.name, ...(iface.mac ? { mac: iface.mac } : {}), complete: true };
        await this.deps.store.put(key, toJson(done));
        this.deps.log.info('endpoint created', { network: network.id, endpoint: req.endpointId, interface: iface.name, addresses: done.addresses.map((a) => a.address) });
        return done;
      });
    });
  }

  /** Records the sandbox an endpoint joins and says which interface Docker must move into it. */
  join(networkId: string, endpointId: string, sandbox: string): Promise<JoinInfo> {
    return this.deps.queue.run(async () => {
      const network = await this.requireNetwork(networkId);
      const record = await this.requireEndpoint(network, endpointId);
      await this.deps.store.put(endpointKey(network.id, endpointId), toJson({ ...record, sandbox }));
      const binding = this.deps.registry.get(network.driver);
      const joined = await binding.impl.join(
        specOf(binding, network),
        {
          containerId: endpointId,
          ifname: DOCKER_IFNAME,
          placement: DOCKER_MANAGED,
          addresses: record.addresses.map(assignedOf),
          routes: [],
        },
        sandbox,
      );
      const gateway4 = joined.gateway4?.toString();
      const gateway6 = joined.gateway6?.toString();
      this.deps.log.info('endpoint joined', { network: network.id, endpoint: endpointId, sandbox });
      return { srcName: record.srcName, internal: network.internal, ...(gateway4 ? { gateway4 } : {}), ...(gateway6 ? { gateway6 } : {}) };
    });
  }

  /** Forgets the endpoint's sandbox. An unknown endpoint is success. */
  leave(networkId: string, endpointId: string): Promise<void> {
    return this.deps.queue.run(async () => {
      const key = endpointKey(networkId, endpointId);
      const current = (await this.deps.store.get(key))?.value;
      if (!current) return;
      await this.deps.store.put(key, toJson({ ...asEndpointRecord(current), sandbox: '' }));
      this.deps.log.info('endpoint left', { network: networkId, endpoint: endpointId });
    });
  }

  /** Removes the endpoint's host objects and record. An unknown endpoint or network is success. */
  deleteEndpoint(networkId: string, endpointId: string): Promise<void> {
    return this.deps.queue.run(async () => {
      const network = await this.findRecord(networkId);
      if (!network) return;
      const binding = this.deps.registry.get(network.driver);
      const spec = specOf(binding, network);
      const ref: EndpointRef = { containerId: endpointId, ifname: DOCKER_IFNAME, placement: DOCKER_MANAGED };
      await binding.impl.revokeExternalConnectivity?.(spec, ref);
      await binding.impl.deleteEndpoint(spec, ref);
      await this.deps.store.delete(endpointKey(network.id, endpointId));
      this.deps.log.info('endpoint deleted', { network: network.id, endpoint: endpointId });
    });
  }

  /** An endpoint's record; NotFoundError when unknown. */
  async endpoint(networkId: string, endpointId: string): Promise<EndpointRecord> {
    return this.requireEndpoint(await this.requireNetwork(networkId), endpointId);
  }

  /**
   * Publishes the endpoint's ports (Docker's ProgramExternalConnectivity). With no mappings
   * there is nothing to do for any driver; with some, the driver must publish ports.
   */
  programExternalConnectivity(networkId: string, endpointId: string, mappings: readonly PortMapping[]): Promise<void> {
    return this.deps.queue.run(async () => {
      const network = await this.requireNetwork(networkId);
      const record = await this.requireEndpoint(network, endpointId);
      const binding = this.deps.registry.get(network.driver);
      if (mappings.length === 0) return;
      const program = binding.impl.programExternalConnectivity?.bind(binding.impl);
      if (!program || !binding.impl.capabilities.portMappings) {
        throw new InvalidConfigError(`Driver ${binding.pluginName} does not publish ports: run the container without -p/-P, or on a berth-nat network`, {
          field: 'com.docker.network.portmap',
        });
      }
      const spec: EndpointSpec = {
        containerId: endpointId,
        ifname: DOCKER_IFNAME,
        placement: DOCKER_MANAGED,
        addresses: record.addresses.map(assignedOf),
        routes: [],
        ...(record.mac ? { mac: record.mac } : {}),
        portMappings: mappings,
      };
      const applied = await program(specOf(binding, network), spec);
      await this.deps.store.put(endpointKey(network.id, endpointId), toJson({ ...record, portMappings: applied.map(portMappingRecord) }));
    });
  }

  /** Withdraws the endpoint's published ports. Unknown endpoints are success. */
  revokeExternalConnectivity(networkId: string, endpointId: string): Promise<void> {
    return this.deps.queue.run(async () => {
      const network = await this.findRecord(networkId);
      if (!network) return;
      const binding = this.deps.registry.get(network.driver);
      await binding.impl.revokeExternalConnectivity?.(specOf(binding, network), { containerId: endpointId, ifname: DOCKER_IFNAME, placement: DOCKER_MANAGED });
      const key = endpointKey(network.id, endpointId);
      const current = (await this.deps.store.get(key))?.value;
      if (current) await this.deps.store.put(key, toJson({ ...asEndpointRecord(current), portMappings: [] }));
    });
  }

  // ---- start-up ----

  /**
   * Brings the host in line with the records after a (re)start (see reconcile.ts). Runs in
   * the queue, so no request interleaves with it.
   */
  reconcile(): Promise<ReconcileReport> {
    return this.deps.queue.run(() => reconcileHost(this.deps));
  }

  /** Counts for metrics and status: complete networks and endpoints per driver. */
  async counts(): Promise<{ networks: Map<string, number>; endpoints: Map<string, number> }> {
    const networks = new Map<string, number>();
    const endpoints = new Map<string, number>();
    for (const { network, endpoints: eps } of await this.list()) {
      networks.set(network.driver, (networks.get(network.driver) ?? 0) + 1);
      endpoints.set(network.driver, (endpoints.get(network.driver) ?? 0) + eps.length);
    }
    return { networks, endpoints };
  }

  // ---- internals ----

  private async findRecord(id: string): Promise<NetworkRecord | undefined> {
    const entry = await this.deps.store.get(networkKey(id));
    return entry ? asNetworkRecord(entry.value) : undefined;
  }

  private async requireNetwork(id: string): Promise<NetworkRecord> {
    const record = await this.findRecord(id);
    if (!record || !record.complete) {
      throw new NotFoundError(`Network ${id.slice(0, 12)} is not known to berthd (was it created while berthd's state directory was a different one?)`, {
        field: 'NetworkID',
        value: id,
      });
    }
    return record;
  }

  private async requireEndpoint(network: NetworkRecord, endpointId: string): Promise<EndpointRecord> {
    const entry = await this.deps.store.get(endpointKey(network.id, endpointId));
    const record = entry ? asEndpointRecord(entry.value) : undefined;
    if (!record || !record.complete) {
      throw new NotFoundError(`Endpoint ${endpointId.slice(0, 12)} of network ${network.name} is not known to berthd`, { field: 'EndpointID', value: endpointId });
    }
    return record;
  }

  private async endpointsOf(networkId: string): Promise<EndpointRecord[]> {
    return (await this.deps.store.list(endpointPrefix(networkId))).map((e) => asEndpointRecord(e.value));
  }

  /** By exact id, then exact name, then unique id prefix (as `docker network` resolves). */
  private async resolve(ref: string, mustExist: boolean): Promise<NetworkRecord | undefined> {
    const exact = await this.findRecord(ref);
    if (exact) return exact;
    const all = (await this.deps.store.list(NETWORK_PREFIX)).map((e) => asNetworkRecord(e.value));
    const byName = all.filter((n) => n.name === ref);
    if (byName.length === 1) return byName[0];
    const byPrefix = ref.length > 0 ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0];
    if (byName.length + byPrefix.length > 1) {
      throw new InvalidConfigError(`${JSON.stringify(ref)} matches several networks: use the full id`, { field: 'network', value: ref });
    }
    if (mustExist) throw new NotFoundError(`No such network: ${ref}`, { field: 'network', value: ref });
    return undefined;
  }

  /** Names are unique; subnets overlap no other network's. */
  private async checkConflicts(record: NetworkRecord): Promise<void> {
    const others = (await this.deps.store.list(NETWORK_PREFIX)).map((e) => asNetworkRecord(e.value)).filter((n) => n.id !== record.id);
    const sameName = others.find((n) => n.name === record.name);
    if (sameName) throw new AlreadyExistsError(`A network named ${record.name} already exists (id ${sameName.id.slice(0, 12)})`, { field: 'name', value: record.name });
    const mine = record.subnets.map((s) => IpPrefix.parse(s.subnet));
    mine.forEach((a, i) => {
      const twin = mine.slice(0, i).find((b) => a.overlaps(b));
      if (twin) throw new InvalidConfigError(`Subnet ${a} overlaps subnet ${twin} of the same network`, { field: 'subnet', value: String(a) });
    });
    for (const other of others) {
      for (const s of other.subnets) {
        const theirs = IpPrefix.parse(s.subnet);
        const hit = mine.find((m) => m.overlaps(theirs));
        if (hit) {
          const owner = other.origin === 'docker' ? `Docker network ${other.id.slice(0, 12)}` : `network ${other.name} (${other.id.slice(0, 12)})`;
          throw new InvalidConfigError(`Subnet ${hit} overlaps subnet ${theirs} of ${owner}, driver ${other.plugin}`, {
            field: 'subnet',
            value: String(hit),
          });
        }
      }
    }
  }
}
