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
import { KernelError } from '../../../core/errors.js';
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

/** A driver that keeps "host objects" in sets and fails the operations named in `failOn`. */
export class FakeDriver implements Driver<{ readonly color: string }> {
  readonly name = 'bridge' as const;
  readonly capabilities = { addressing: 'ipam', needsClusterStore: false, portMappings: false, ipv6: true } as const;
  readonly networks = new Set<string>();
  readonly endpoints = new Set<string>();
  readonly failOn = new Set<string>();
  readonly lost = new Set<string>();

  async createNetwork(net: NetworkSpec<{ color: string }>): Promise<void> {
    this.fail('createNetwork');
    this.networks.add(net.name);
  }
  async deleteNetwork(net: NetworkSpec<{ color: string }>): Promise<void> {
    this.fail('deleteNetwork');
    this.networks.delete(net.name);
  }
  async createEndpoint(net: NetworkSpec<{ color: string }>, ep: EndpointSpec): Promise<EndpointInfo> {
    this.fail('createEndpoint');
    this.endpoints.add(`${net.name}/${ep.containerId}`);
    return {
      interfaces: [{ name: 'br' }, { name: `bv-${ep.containerId}` }, { name: `bp-${ep.containerId}`, mac: ep.mac ?? '02:00:00:00:00:01' }],
      sandboxInterface: 2,
      addresses: ep.addresses,
      routes: [],
    };
  }
  async deleteEndpoint(net: NetworkSpec<{ color: string }>, ep: EndpointRef): Promise<void> {
    this.fail('deleteEndpoint');
    this.endpoints.delete(`${net.name}/${ep.containerId}`);
  }
  async check(): Promise<void> {}
  join(net: NetworkSpec<{ color: string }>): JoinInfo {
    const gateway4 = net.subnets.find((s) => s.gateway && s.subnet.family === 4)?.gateway;
    return { routes: [], ...(gateway4 ? { gateway4 } : {}) };
  }
  async restore(_net: NetworkSpec<{ color: string }>, ep: EndpointRef): Promise<RestoreOutcome> {
    return this.lost.has(ep.containerId) ? 'lost' : 'ok';
  }
  async gc(net: NetworkSpec<{ color: string }>, valid: readonly AttachmentKey[]): Promise<void> {
    const keep = new Set(valid.map((v) => `${net.name}/${v.containerId}`));
    for (const e of [...this.endpoints]) if (e.startsWith(`${net.name}/`) && !keep.has(e)) this.endpoints.delete(e);
  }
  private fail(op: string): void {
    if (this.failOn.has(op)) throw new KernelError(`${op} failed on purpose`, { operation: op });
  }
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
