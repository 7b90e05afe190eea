/**
 * berthd put together: the store, the driver registry, the network service and Docker IPAM,
 * reconciled with the host before any socket opens, then the Docker plugin sockets, the gRPC
 * API and the metrics endpoint. `stop()` closes them in reverse order.
 *
 * One berthd per run directory: an flock on `<runDir>/berthd.lock` (released by the kernel if
 * berthd dies), so two agents never reconcile the same host against each other.
 */
import { join } from 'node:path';
import { BerthError } from '../core/errors.js';
import { NftForwardPassage, netnsExists, openNftables } from '../dataplane/linux/index.js';
import type { ForwardPassage } from '../dataplane/linux/ports.js';
import { describeNat } from '../drivers/nat/index.js';
import { lockFileSync, tryLockFile, type FileLock } from '../store/file/file-lock.js';
import { FileStore } from '../store/file/file-store.js';
import type { DaemonConfig } from './config.js';
import { DockerIpam } from './docker-ipam.js';
import { ipamDriverHandlers } from './docker/ipam-driver.js';
import { networkDriverHandlers } from './docker/network-driver.js';
import { startPluginServer, type PluginServer } from './docker/plugin-server.js';
import type { DriverRegistry } from './drivers/binding.js';
import { linuxDriverRegistry } from './drivers/linux-registry.js';
import { startApiServer, type ApiServer } from './grpc/api-server.js';
import type { Log } from './log.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { Metrics } from './metrics.js';
import { NetworkService, type ReconcileReport } from './network-service.js';
import { PolicyAgent } from './policy/policy-agent.js';
import type { PolicyObjectSink, PolicySource } from './policy/policy-source.js';
import { SerialQueue } from './serial-queue.js';
import { startCniServer, type CniServer } from './cni/cni-server.js';
import { PassageKeeper } from './firewall/passage-keeper.js';
import { ClusterAgent } from './cluster/cluster-agent.js';
import { BerthdDhcpClient } from './dhcp/dhcp-client.js';
import { pluginsFor } from '../cni/plugins/index.js';
import { openNetlink } from '../dataplane/linux/index.js';
import type { Netlink } from '../dataplane/linux/ports.js';

/** The name Docker knows berth's IPAM by (`--ipam-driver berth`). */
export const IPAM_PLUGIN = 'berth';
export const VERSION = '0.1.0';
/** The socket name of the managed plugin (`interface.socket` in its config.json), without `.sock`. */
const MANAGED_SOCKET = 'berth';

export interface Daemon {
  readonly service: NetworkService;
  readonly ipam: DockerIpam;
  readonly metrics: Metrics;
  readonly reconcile: ReconcileReport;
  readonly pluginSockets: readonly string[];
  readonly metricsAddress: string | undefined;
  readonly policy: PolicyAgent | undefined;
  readonly firewall: PassageKeeper;
  stop(): Promise<void>;
}

export interface DaemonDeps {
  readonly log: Log;
  /** @default the Linux drivers */
  readonly registry?: DriverRegistry;
  /** @default dataplane/linux netnsExists */
  readonly sandboxExists?: (path: string) => boolean;
  /** @default dataplane/linux openNftables (the policy agent's table) */
  readonly nftables?: typeof openNftables;
  /** @default berth's devices through other owners' forward drops, on dataplane/linux */
  readonly forwardPassage?: ForwardPassage;
  /** How old a firewall re-check may be and still answer /healthz. @default 2000 */
  readonly firewallHealthFreshMs?: number;
}

/** Starts berthd; rejects (after undoing what it started) when any part cannot start. */
export async function startDaemon(config: DaemonConfig, deps: DaemonDeps): Promise<Daemon> {
  const { log } = deps;
  const lock = takeInstanceLock(config.runDir);
  const closers: (() => Promise<void> | void)[] = [() => lock.release({ remove: true })];
  const stop = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        log.warn('stopping: a part did not close cleanly', { error: (err as Error).message });
      }
    }
    closers.length = 0;
  };
  try {
    const store = new FileStore({ dataDir: config.dataDir });
    const swept = store.sweepSync();
    if (swept.tempFiles + swept.lockFiles > 0) log.info('store: removed files left by killed writers', { ...swept });
    // The cluster first: drivers whose networks span hosts are made with it.
    let cluster: ClusterAgent | undefined;
    if (config.cluster) {
      const c = config.cluster;
      cluster = new ClusterAgent(
        {
          endpoints: c.endpoints,
          node: c.nodeName,
          advertiseAddress: c.advertiseAddress,
          ...(c.prefix ? { prefix: c.prefix } : {}),
          nodeTtlSeconds: c.nodeTtlSeconds,
          subnetGraceMs: c.subnetGraceSeconds * 1000,
        },
        { log, runDir: config.runDir, netlink: hostNetlink, version: VERSION },
      );
      const started = cluster;
      closers.push(() => started.stop());
      await started.start();
    }
    // The DHCP client before the drivers, which lease through it; leases recorded before a
    // restart are renewed again from here on (their namespaces checked first).
    const dhcp = new BerthdDhcpClient({ dataDir: config.dataDir, log });
    closers.push(() => dhcp.stop());
    dhcp.resume();
    const registry = deps.registry ?? (await linuxDriverRegistry({ runDir: config.runDir, ...(cluster ? { cluster } : {}), dhcp }));
    const queue = new SerialQueue();
    const service = new NetworkService({ store, registry, queue, log, sandboxExists: deps.sandboxExists ?? netnsExists });
    const agent = cluster;
    const ipam = new DockerIpam(
      { store, queue, log, ...(agent ? { cluster: { node: agent.node, store: () => agent.connectedStore() } } : {}) },
      { defaultRange: config.defaultPoolRange, defaultPoolLength: config.defaultPoolLength },
    );
    const metrics = new Metrics();
    const started = Date.now();
    registerGauges(metrics, service, ipam, started);
    metrics.gauge('berth_dhcp_leases', 'DHCP leases berthd holds and renews.', async () => [{ labels: {}, value: dhcp.size }]);

    const reconcile = await service.reconcile();

    // After reconcile (the devices exist again) and before any socket opens: a Docker that
    // started before berthd dropped forwarded traffic; its chains get berth's accepts now.
    const firewall = new PassageKeeper({
      passage: deps.forwardPassage ?? linuxForwardPassage(config.runDir),
      log,
      intervalMs: config.firewallCheckMs,
      ...(deps.firewallHealthFreshMs !== undefined ? { healthFreshMs: deps.firewallHealthFreshMs } : {}),
      dockerSocket: config.dockerSocket,
    });
    closers.push(() => firewall.stop());
    firewall.start();
    metrics.gauge('berth_firewall_passages', "Other owners' dropping forward chains that hold berth's accept, by owner.", async () => {
      const byOwner = new Map<string, number>();
      for (const p of firewall.last().passages) if (p.present) byOwner.set(p.owner, (byOwner.get(p.owner) ?? 0) + 1);
      return [...byOwner].map(([owner, value]) => ({ labels: { owner }, value }));
    });

    // Before any socket opens: pods recorded while berthd was down are programmed (and
    // opened) first, and policies are in force before new work arrives.
    let policy: PolicyAgent | undefined;
    if (config.policy) {
      const source = config.kubeconfig ? await kubeSourceFactory(config.kubeconfig, log) : undefined;
      policy = new PolicyAgent({ store, runDir: config.runDir, nftables: deps.nftables ?? openNftables, log, metrics, ...(source ? { source } : {}) });
      closers.push(() => policy?.stop());
      const first = await policy.start();
      log.info('policy agent started', { source: policy.mode, ...(first ? { policies: first.policies, pods: first.pods, mode: first.mode } : {}) });
    }

    // The plugin shims' fast path; until it listens they run the in-process plugin.
    let cni: CniServer | undefined;
    if (config.cniSocket) {
      const listenFd = systemdSocket();
      const server = await startCniServer({
        socketPath: config.cniSocket,
        log,
        metrics,
        ...(listenFd !== undefined ? { listenFd } : {}),
        plugins: pluginsFor({ ...(cluster ? { cluster } : {}), dhcp }),
      });
      cni = server;
      closers.push(() => server.close());
    }

    const sockets: string[] = [];
    if (config.docker && config.managedPlugin) {
      const binding = registry.get(config.managedPlugin);
      const server = await startPluginServer({
        name: MANAGED_SOCKET,
        dir: config.pluginDir,
        implements: ['NetworkDriver', 'IpamDriver'],
        handlers: { ...networkDriverHandlers(binding, service), ...ipamDriverHandlers(ipam) },
        log,
        metrics,
      });
      closers.push(() => server.close());
      sockets.push(server.socketPath);
    } else if (config.docker) {
      for (const binding of registry.all()) {
        const server = await startPluginServer({
          name: binding.pluginName,
          dir: config.pluginDir,
          implements: ['NetworkDriver'],
          handlers: networkDriverHandlers(binding, service),
          log,
          metrics,
        });
        closers.push(() => server.close());
        sockets.push(server.socketPath);
      }
      const ipamServer: PluginServer = await startPluginServer({ name: IPAM_PLUGIN, dir: config.pluginDir, implements: ['IpamDriver'], handlers: ipamDriverHandlers(ipam), log, metrics });
      closers.push(() => ipamServer.close());
      sockets.push(ipamServer.socketPath);
    }

    let metricsServer: MetricsServer | undefined;
    if (config.metricsAddress) {
      // Healthy only while berth's traffic passes other owners' forward drops (re-checked per probe).
      metricsServer = await startMetricsServer(config.metricsAddress, metrics, log, () => firewall.problem());
      closers.push(() => metricsServer?.close());
    }

    const api: ApiServer = await startApiServer({
      socketPath: config.apiSocket,
      service,
      registry,
      metrics,
      log,
      describeNat: () => describeNat({ runDir: config.runDir }),
      ...(policy ? { policy } : {}),
      status: () => ({
        version: VERSION,
        startedAt: new Date(started).toISOString(),
        dataDir: config.dataDir,
        apiSocket: config.apiSocket,
        pluginSockets: sockets,
        cniSocket: cni?.socketPath ?? '',
        metricsAddress: metricsServer?.address ?? '',
        reconcile,
        ipamPools: () => ipam.pools(),
        // Re-checked before berthd says it is healthy: an owner may have rewritten its chains.
        firewall: () => firewall.check('status'),
        ...(cluster ? { cluster: () => cluster.status() } : {}),
      }),
    });
    closers.push(() => api.close());

    log.info('berthd started', { version: VERSION, dataDir: config.dataDir, pluginSockets: sockets, cniSocket: cni?.socketPath, apiSocket: config.apiSocket, metrics: metricsServer?.address });
    return { service, ipam, metrics, reconcile, pluginSockets: sockets, metricsAddress: metricsServer?.address, policy, firewall, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The Kubernetes source, loaded only when a kubeconfig is given (client-node is heavy). */
async function kubeSourceFactory(kubeconfigPath: string, log: Log): Promise<(sink: PolicyObjectSink) => Promise<PolicySource>> {
  const { createKubeSource } = await import('./policy/kube-source.js');
  return (sink) => createKubeSource({ kubeconfigPath, sink, logger: log });
}

let netlink: Netlink | undefined;
/** Netlink of berthd's own namespace (the host's), opened on first use. */
function hostNetlink(): Netlink {
  return (netlink ??= openNetlink());
}

/** The first socket systemd passed (LISTEN_FDS, sd_listen_fds(3)), if it passed one to this process. */
function systemdSocket(): number | undefined {
  if (process.env.LISTEN_PID !== String(process.pid) || Number(process.env.LISTEN_FDS ?? 0) < 1) return undefined;
  // Not inherited by anything berthd starts (delegated IPAM plugins).
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_FDNAMES;
  return 3;
}

/** The passage on this host, under the same lock as the drivers' and the CNI plugins' (`<runDir>`). */
function linuxForwardPassage(runDir: string): ForwardPassage {
  return new NftForwardPassage({
    nftables: () => openNftables(),
    withLock: (name, fn) => {
      const lock = lockFileSync(join(runDir, `${name}.lock`));
      try {
        return fn();
      } finally {
        lock.release();
      }
    },
  });
}

function takeInstanceLock(runDir: string): FileLock {
  const path = join(runDir, 'berthd.lock');
  const lock = tryLockFile(path);
  if (!lock) throw new BerthError('exists', `Another berthd is running (it holds ${path}); stop it first or give this one another --run-dir`, { field: '--run-dir', value: runDir });
  return lock;
}

function registerGauges(metrics: Metrics, service: NetworkService, ipam: DockerIpam, started: number): void {
  metrics.gauge('berth_networks', 'Networks berthd manages, by driver.', async () => [...(await service.counts()).networks].map(([driver, value]) => ({ labels: { driver }, value })));
  metrics.gauge('berth_endpoints', 'Endpoints on berthd networks, by driver.', async () => [...(await service.counts()).endpoints].map(([driver, value]) => ({ labels: { driver }, value })));
  metrics.gauge('berth_ipam_pools', 'Docker IPAM pools reserved in berth IPAM.', async () => [{ labels: {}, value: (await ipam.pools()).length }]);
  metrics.gauge('berth_start_time_seconds', 'When berthd started, in seconds since the epoch.', async () => [{ labels: {}, value: started / 1000 }]);
  metrics.gauge('berth_up', 'Always 1 while berthd answers.', async () => [{ labels: {}, value: 1 }]);
}
