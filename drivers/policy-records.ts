/**
 * Policy bookkeeping as a decorator around any driver, applied where drivers are bound (the
 * CNI plugins, berthd's Docker plugins), so no driver carries it: an endpoint created for a
 * Kubernetes pod is recorded for the policy engine, and closed (guard sets) until the engine
 * has programmed it; deleting the endpoint, or GC, forgets it.
 */
import { mark } from '../core/trace.js';
import { openNftables } from '../dataplane/linux/index.js';
import type { Driver, EndpointSpec, NetworkSpec } from './driver.js';
import { Rollback } from './rollback.js';
import { fileWorkloadRegistry, type WorkloadRegistry } from './workload-registry.js';

/** `driver`, recording its pods in `registry`. */
export function recordingWorkloads<O>(driver: Driver<O>, registry: WorkloadRegistry): Driver<O> {
  const admit = (net: NetworkSpec<O>, ep: EndpointSpec, addresses: EndpointSpec['addresses']) => {
    const w = ep.workload!;
    registry.admit({ namespace: w.namespace, name: w.name, containerId: ep.containerId, ifname: ep.ifname, network: net.name, ips: addresses.map((a) => a.address.address.toString()) });
    mark('workload');
  };
  // Every method delegates explicitly: the driver's own `this` stays the driver.
  const decorated: Driver<O> = {
    name: driver.name,
    capabilities: driver.capabilities,
    createNetwork: (net) => driver.createNetwork(net),
    deleteNetwork: (net) => driver.deleteNetwork(net),
    async createEndpoint(net, ep) {
      if (!ep.workload) return driver.createEndpoint(net, ep);
      const w = ep.workload;
      return new Rollback().run(async (rb) => {
        // Before the pod has an interface: a pod that a policy selects is closed from the start.
        // A driver that picks the addresses itself reports them only once they are on the interface.
        const early = ep.addresses.length > 0;
        if (early) admit(net, ep, ep.addresses);
        rb.push(`forget workload ${w.namespace}/${w.name}`, () => registry.release(ep));
        const info = await driver.createEndpoint(net, ep);
        if (!early) admit(net, ep, info.addresses);
        return info;
      });
    },
    async deleteEndpoint(net, ep) {
      await driver.deleteEndpoint(net, ep);
      registry.release(ep);
    },
    check: (net, ep) => driver.check(net, ep),
    async gc(net, valid) {
      let first: unknown;
      try {
        await driver.gc(net, valid);
      } catch (err) {
        first = err;
      }
      registry.gc(net.name, valid);
      if (first) throw first;
    },
    join: (net, ep, sandbox) => driver.join(net, ep, sandbox),
    restore: (net, ep) => driver.restore(net, ep),
  };
  const program = driver.programExternalConnectivity;
  const revoke = driver.revokeExternalConnectivity;
  if (program) decorated.programExternalConnectivity = (net, ep) => program.call(driver, net, ep);
  if (revoke) decorated.revokeExternalConnectivity = (net, ep) => revoke.call(driver, net, ep);
  return decorated;
}

/** `driver` recording its pods under `runDir` (core/workload.ts's layout), in this host's policy table. */
export function withPolicyRecords<O>(driver: Driver<O>, runDir: string): Driver<O> {
  return recordingWorkloads(driver, fileWorkloadRegistry({ runDir, nftables: () => openNftables() }));
}
