/**
 * berthd's start-up reconcile: the host brought in line with the records, since Docker never
 * replays what it asked before (docker-remote-and-hns.md, gotchas 6 and 7).
 *
 * Per network: a record left incomplete by a killed create or delete is undone (its
 * endpoints and host objects removed, then the record); a complete one has its host objects
 * re-created (idempotent: a running bridge costs one lookup). Per endpoint: one whose create
 * never finished, or whose sandbox (the container's netns) is gone, is removed; one of a live
 * container is kept and, if its bridge was re-created, put back on it; one not yet joined is
 * kept for Docker to join or delete. Then each driver removes what no record accounts for.
 * Errors are logged and counted; one broken network does not stop the others.
 */
import { asBerthError } from '../core/errors.js';
import { DOCKER_MANAGED, type EndpointRef, type NetworkSpec } from '../drivers/driver.js';
import type { DriverRegistry, ServedDriver } from './drivers/binding.js';
import { errorFields } from './log.js';
import type { Store } from '../store/store.js';
import type { Log } from './log.js';
import { DOCKER_IFNAME, specOf } from './network-spec.js';
import { NETWORK_PREFIX, asEndpointRecord, asNetworkRecord, endpointKey, endpointPrefix, networkKey, type EndpointRecord } from './state/records.js';

/** What reconcile did at start-up. */
/** What reconciling needs (NetworkService's dependencies include these). */
export interface ReconcileDeps {
  readonly store: Store;
  readonly registry: DriverRegistry;
  readonly log: Log;
  /** Whether a sandbox (netns path) still exists; decides which endpoints are kept. */
  readonly sandboxExists: (path: string) => boolean;
}

export interface ReconcileReport {
  readonly networks: number;
  /** Networks whose host objects could not be re-created. */
  readonly failedNetworks: readonly string[];
  /** Endpoints kept (live containers and endpoints not yet joined). */
  readonly endpoints: number;
  /** Endpoints put back on a re-created bridge. */
  readonly reattached: number;
  /** Endpoints removed: their container is gone, or their create never finished. */
  readonly removed: number;
  /** Live endpoints whose interface is gone (the container must be reconnected). */
  readonly lost: readonly string[];
  /** Networks removed because their create or delete never finished. */
  readonly removedNetworks: number;
}

/** Runs the reconcile; the caller makes sure nothing else changes state meanwhile. */
export async function reconcileHost(deps: ReconcileDeps): Promise<ReconcileReport> {
  const { store, log } = deps;
  const report = { networks: 0, failedNetworks: [] as string[], endpoints: 0, reattached: 0, removed: 0, lost: [] as string[], removedNetworks: 0 };
  const networks = (await store.list(NETWORK_PREFIX)).map((e) => asNetworkRecord(e.value));
  const allEndpoints = (await store.list(endpointPrefix())).map((e) => asEndpointRecord(e.value));
  for (const orphan of allEndpoints.filter((e) => !networks.some((n) => n.id === e.networkId))) {
    await store.delete(endpointKey(orphan.networkId, orphan.id));
  }
  for (const network of networks) {
    const binding = deps.registry.find(network.driver);
    if (!binding) {
      log.error('network uses a driver this berthd does not serve; left as it is', { network: network.id, driver: network.driver });
      report.failedNetworks.push(network.name);
      continue;
    }
    try {
      const spec = specOf(binding, network);
      const endpoints = allEndpoints.filter((e) => e.networkId === network.id);
      if (!network.complete) {
        for (const ep of endpoints) await dropEndpoint(deps, binding, spec, ep);
        await binding.impl.deleteNetwork(spec);
        await store.delete(networkKey(network.id));
        report.removedNetworks++;
        log.warn('removed a network whose create or delete never finished', { network: network.id, name: network.name });
        continue;
      }
      await binding.impl.createNetwork(spec);
      report.networks++;
      const kept: EndpointRef[] = [];
      for (const ep of endpoints) {
        const ref: EndpointRef = { containerId: ep.id, ifname: DOCKER_IFNAME, placement: DOCKER_MANAGED };
        const gone = !ep.complete || (ep.sandbox !== '' && !deps.sandboxExists(ep.sandbox));
        if (gone) {
          await dropEndpoint(deps, binding, spec, ep);
          report.removed++;
          log.info('removed an endpoint whose container is gone', { network: network.id, endpoint: ep.id, sandbox: ep.sandbox, complete: ep.complete });
          continue;
        }
        kept.push(ref);
        report.endpoints++;
        // Not joined yet: nothing of it is in use to put back.
        if (ep.sandbox === '') continue;
        const outcome = await binding.impl.restore(spec, ref);
        if (outcome === 'reattached') report.reattached++;
        if (outcome === 'lost') {
          report.lost.push(ep.id);
          log.warn('a live container lost its interface on this network: disconnect and reconnect it', { network: network.id, endpoint: ep.id, sandbox: ep.sandbox });
        }
      }
      await binding.impl.gc(spec, kept);
    } catch (err) {
      const e = asBerthError(err);
      report.failedNetworks.push(network.name);
      log.error('could not restore a network', { network: network.id, name: network.name, ...errorFields(e) });
    }
  }
  log.info('reconciled', { ...report });
  return report;
}

async function dropEndpoint(deps: ReconcileDeps, binding: ServedDriver, spec: NetworkSpec<unknown>, ep: EndpointRecord): Promise<void> {
  const ref: EndpointRef = { containerId: ep.id, ifname: DOCKER_IFNAME, placement: DOCKER_MANAGED };
  await binding.impl.revokeExternalConnectivity?.(spec, ref);
  await binding.impl.deleteEndpoint(spec, ref);
  await deps.store.delete(endpointKey(ep.networkId, ep.id));
}
