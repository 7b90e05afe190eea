/**
 * Shared pieces of the daemon unit tests: a file store in a scratch directory and a
 * recording in-memory driver. The fake exists for failures the kernel cannot be made to
 * produce on demand (a driver failing half-way); the real bridge driver is exercised by
 * test/netns/docker/.
 */
import type { ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckFailedError, KernelError, NotFoundError } from '../../../core/errors.js';
import type { HostIntercept } from '../../../drivers/driver-module.js';
import { Rollback } from '../../../drivers/rollback.js';
import type { AttachmentKey, Driver, EndpointInfo, EndpointRef, EndpointSpec, JoinInfo, NetworkSpec, RestoreOutcome } from '../../../drivers/driver.js';
import { DriverRegistry, type ServedDriver } from '../../../daemon/drivers/binding.js';
import { rejectUnknownOptions } from '../../../core/option-values.js';
import { SILENT_LOG } from '../../../daemon/log.js';
import { NetworkService } from '../../../daemon/network-service.js';
import { SerialQueue } from '../../../daemon/serial-queue.js';
import { FileStore } from '../../../store/file/file-store.js';

export function tempStore(t: ExecutionContext): FileStore {
  const dir = mkdtempSync(join(tmpdir(), 'berth-daemon-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return new FileStore({ dataDir: dir, fsync: false });
}

/**
 * The fake's host: named objects in sets, changed only through these methods, so that the
 * contract suite can count them as steps and fail any one of them (test/support/host-faults.ts).
 */
export class FakeHost {
  readonly networks = new Set<string>();
  readonly endpoints = new Set<string>();
  /** Endpoints whose network object held them ("bridge ports"). */
  readonly ports = new Set<string>();
  /** Endpoints whose sandbox address is in place. */
  readonly addresses = new Set<string>();

  addNetwork(name: string): void {
    this.networks.add(name);
  }
  deleteNetwork(name: string): void {
    this.networks.delete(name);
    for (const p of [...this.ports]) if (p.startsWith(`${name}/`)) this.ports.delete(p);
  }
  addEndpoint(key: string): void {
    this.endpoints.add(key);
    this.ports.add(key);
  }
  setAddress(key: string): void {
    this.addresses.add(key);
  }
  addPort(key: string): void {
    this.ports.add(key);
  }
  deleteEndpoint(key: string): void {
    this.endpoints.delete(key);
    this.ports.delete(key);
    this.addresses.delete(key);
  }
}

/**
 * A driver that keeps "host objects" in a FakeHost and fails the operations named in `failOn`.
 * It is held to the driver contract like every real driver (test/unit/daemon/fake-driver.test.ts).
 */
export class FakeDriver implements Driver<{ readonly color: string }> {
  readonly name = 'bridge' as const;
  readonly capabilities = { addressing: 'ipam', needsClusterStore: false, portMappings: false, ipv6: true } as const;
  readonly failOn = new Set<string>();
  /** Containers whose endpoint `restore` reports lost (a reboot took their interface). */
  readonly lost = new Set<string>();
  readonly #host: FakeHost;
  readonly #raw: FakeHost;

  constructor(host = new FakeHost(), intercept?: HostIntercept) {
    this.#raw = host;
    this.#host = intercept ? intercept('fake-host', host) : host;
  }

  get networks(): Set<string> {
    return this.#raw.networks;
  }
  get endpoints(): Set<string> {
    return this.#raw.endpoints;
  }

  async createNetwork(net: NetworkSpec<{ color: string }>): Promise<void> {
    this.fail('createNetwork');
    if (!this.#raw.networks.has(net.name)) this.#host.addNetwork(net.name);
  }
  async deleteNetwork(net: NetworkSpec<{ color: string }>): Promise<void> {
    this.fail('deleteNetwork');
    if (this.#raw.networks.has(net.name)) this.#host.deleteNetwork(net.name);
  }
  async createEndpoint(net: NetworkSpec<{ color: string }>, ep: EndpointSpec): Promise<EndpointInfo> {
    this.fail('createEndpoint');
    const key = endpointKey(net, ep);
    return new Rollback().run(async (rb) => {
      if (!this.#raw.networks.has(net.name)) {
        if (!net.followsEndpoints) throw new NotFoundError(`network ${net.name} is not set up`);
        this.#host.addNetwork(net.name);
        rb.push('remove network', () => this.#host.deleteNetwork(net.name));
      }
      this.#host.addEndpoint(key);
      rb.push('remove endpoint', () => this.#host.deleteEndpoint(key));
      if (ep.placement.kind === 'netns') this.#host.setAddress(key);
      return {
        interfaces: [{ name: 'br' }, { name: `bv-${ep.containerId}` }, { name: `bp-${ep.containerId}`, mac: ep.mac ?? '02:00:00:00:00:01' }],
        sandboxInterface: 2,
        addresses: ep.addresses,
        routes: [],
      };
    });
  }
  async deleteEndpoint(net: NetworkSpec<{ color: string }>, ep: EndpointRef): Promise<void> {
    this.fail('deleteEndpoint');
    const key = endpointKey(net, ep);
    if (this.#raw.endpoints.has(key)) this.#host.deleteEndpoint(key);
    if (net.followsEndpoints && ![...this.#raw.endpoints].some((e) => e.startsWith(`${net.name}/`)) && this.#raw.networks.has(net.name)) this.#host.deleteNetwork(net.name);
  }
  async check(net: NetworkSpec<{ color: string }>, ep: EndpointSpec): Promise<void> {
    const key = endpointKey(net, ep);
    if (!this.#raw.networks.has(net.name)) throw new CheckFailedError(`network ${net.name} does not exist`);
    if (!this.#raw.endpoints.has(key) || !this.#raw.ports.has(key)) throw new CheckFailedError(`endpoint ${key} does not exist or is not on its network`);
    if (ep.placement.kind === 'netns' && !this.#raw.addresses.has(key)) throw new CheckFailedError(`endpoint ${key} lacks address ${ep.addresses[0]?.address.address}`);
  }
  join(net: NetworkSpec<{ color: string }>): JoinInfo {
    const gateway4 = net.subnets.find((s) => s.gateway && s.subnet.family === 4)?.gateway;
    return { routes: [], ...(gateway4 ? { gateway4 } : {}) };
  }
  async restore(net: NetworkSpec<{ color: string }>, ep: EndpointRef): Promise<RestoreOutcome> {
    const key = endpointKey(net, ep);
    if (this.lost.has(ep.containerId) || !this.#raw.endpoints.has(key)) return 'lost';
    if (this.#raw.ports.has(key)) return 'ok';
    this.#host.addPort(key);
    return 'reattached';
  }
  async gc(net: NetworkSpec<{ color: string }>, valid: readonly AttachmentKey[]): Promise<void> {
    const keep = new Set(valid.map((v) => endpointKey(net, v)));
    for (const e of [...this.#raw.endpoints]) if (e.startsWith(`${net.name}/`) && !keep.has(e)) this.#host.deleteEndpoint(e);
  }
  private fail(op: string): void {
    if (this.failOn.has(op)) throw new KernelError(`${op} failed on purpose`, { operation: op });
  }
}

function endpointKey(net: NetworkSpec<unknown>, ep: AttachmentKey): string {
  return `${net.name}/${ep.containerId}/${ep.ifname}`;
}

export function fakeBinding(driver: FakeDriver): ServedDriver<{ readonly color: string }> {
  return {
    driver: 'bridge',
    pluginName: 'berth-bridge',
    impl: driver,
    optionKeys: ['color'],
    parseOptions: (raw) => {
      rejectUnknownOptions('berth-bridge', raw, ['color']);
      return { color: raw['color'] ?? 'blue' };
    },
    givesAddresses: () => false,
  };
}

export function fakeService(t: ExecutionContext, opts: { sandboxes?: Set<string> } = {}): { service: NetworkService; driver: FakeDriver; store: FileStore; queue: SerialQueue } {
  const store = tempStore(t);
  const driver = new FakeDriver();
  const registry = new DriverRegistry();
  registry.register(fakeBinding(driver));
  const queue = new SerialQueue();
  const sandboxes = opts.sandboxes ?? new Set<string>();
  const service = new NetworkService({ store, registry, queue, log: SILENT_LOG, sandboxExists: (p) => sandboxes.has(p) });
  return { service, driver, store, queue };
}
