/**
 * The gRPC API (`berth.v1.Berth`) on a unix socket, mode 0660: the CLI's way in. Handlers are
 * one service call each; errors leave through the error table as a gRPC status plus berth's
 * code in metadata, so the CLI can tell "not found" from "invalid" without reading messages.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { IoError, asBerthError } from '../../core/errors.js';
import type { NatDescription } from '../../drivers/nat/index.js';
import type { DockerIpam } from '../docker-ipam.js';
import type { DriverRegistry } from '../drivers/binding.js';
import { grpcStatusOf, messageOf } from '../error-table.js';
import { errorFields, type Log } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { NetworkService, ReconcileReport } from '../network-service.js';
import type { PolicyAgent } from '../policy/policy-agent.js';
import { policyHandlers } from './policy-handlers.js';
import { firewallMessage, natMessage, networkMessage, type CreateNetworkMessage, type NetworkMessage, type StatusMessage } from './messages.js';
import { ERROR_CODE_KEY, loadBerthService } from './proto.js';
import type { ClusterStatus } from '../cluster/cluster-agent.js';
import type { KeeperReport } from '../firewall/passage-keeper.js';

/** Facts for Status that only the daemon's composition knows. */
export interface StatusFacts {
  readonly version: string;
  readonly startedAt: string;
  readonly dataDir: string;
  readonly apiSocket: string;
  readonly pluginSockets: readonly string[];
  /** The CNI socket the plugin shims use; empty when not served. */
  readonly cniSocket: string;
  readonly metricsAddress: string;
  readonly reconcile: ReconcileReport;
  readonly ipamPools: DockerIpam['pools'];
  /** Other owners' forward drops and berth's accepts in them, re-checked now. */
  readonly firewall: () => KeeperReport;
  /** The cluster as this node sees it; absent without --etcd-endpoints. */
  readonly cluster?: () => Promise<ClusterStatus>;
}

export interface ApiServerOptions {
  readonly socketPath: string;
  readonly service: NetworkService;
  readonly registry: DriverRegistry;
  readonly metrics: Metrics;
  readonly log: Log;
  readonly status: () => StatusFacts;
  /** The nat driver's instances and mappings (`berth nat ls`); none when absent. */
  readonly describeNat?: () => NatDescription;
  /** The policy agent (`berth policy` through berthd). */
  readonly policy?: PolicyAgent;
}

export interface ApiServer {
  close(): Promise<void>;
}

type Unary<Req, Res> = (request: Req) => Promise<Res>;

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { service: definition } = loadBerthService();
  const server = new grpc.Server();
  const { service } = opts;
  const handlers: Record<string, Unary<never, unknown>> = {
    CreateNetwork: async (req: CreateNetworkMessage): Promise<NetworkMessage> => {
      const record = await service.createNetwork({
        name: req.name,
        driver: req.driver,
        origin: 'api',
        subnets: req.subnets.map((s) => ({ subnet: s.subnet, ...(s.gateway ? { gateway: s.gateway } : {}) })),
        options: req.options,
        internal: req.internal,
      });
      return networkMessage({ network: record, endpoints: [] });
    },
    ListNetworks: async () => ({ networks: (await service.list()).map(networkMessage) }),
    InspectNetwork: async (req: { network: string }) => networkMessage(await service.inspect(req.network)),
    DeleteNetwork: async (req: { network: string }) => {
      const { network } = await service.inspect(req.network);
      await service.deleteNetwork(network.id, { mustExist: true });
      return { id: network.id };
    },
    ListNat: async () => natMessage(opts.describeNat?.() ?? { nats: [], staticMappings: [] }),
    Status: async (): Promise<StatusMessage> => {
      const facts = opts.status();
      const counts = await service.counts();
      const pools = await facts.ipamPools();
      return {
        version: facts.version,
        started: facts.startedAt,
        uptimeSeconds: (Date.now() - Date.parse(facts.startedAt)) / 1000,
        dataDir: facts.dataDir,
        apiSocket: facts.apiSocket,
        pluginSockets: [...facts.pluginSockets],
        cniSocket: facts.cniSocket,
        metricsAddress: facts.metricsAddress,
        drivers: opts.registry.all().map((b) => ({ driver: b.driver, plugin: b.pluginName, networks: counts.networks.get(b.driver) ?? 0, endpoints: counts.endpoints.get(b.driver) ?? 0 })),
        ipamPools: pools.map((p) => ({ id: p.record.id, pool: p.record.pool, addresses: p.addresses.length })),
        reconciledNetworks: facts.reconcile.networks,
        removedEndpoints: facts.reconcile.removed,
        lostEndpoints: [...facts.reconcile.lost],
        failedNetworks: [...facts.reconcile.failedNetworks],
        ...firewallMessage(facts.firewall()),
        ...(facts.cluster ? { cluster: await facts.cluster() } : {}),
      };
    },
  };
  if (opts.policy) Object.assign(handlers, policyHandlers(opts.policy));
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers)) implementation[lowerFirst(name)] = unary(name, handler, opts);
  server.addService(definition, implementation);

  prepareSocket(opts.socketPath);
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${opts.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  }).catch((err: unknown) => {
    throw new IoError(`Cannot serve the API on ${opts.socketPath}: ${(err as Error).message}`, { operation: `listen ${opts.socketPath}` }, { cause: err });
  });
  chmodSync(opts.socketPath, 0o660);
  opts.log.info('api listening', { socket: opts.socketPath });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          try {
            unlinkSync(opts.socketPath);
          } catch {
            // Already removed.
          }
          resolve();
        });
      }),
  };
}

/** proto-loader names service methods by their proto names; grpc-js accepts either case. */
function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function unary(name: string, handler: Unary<never, unknown>, opts: ApiServerOptions): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    handler(call.request as never).then(
      (reply) => {
        opts.metrics.observeRequest('grpc', name, true, Number(process.hrtime.bigint() - started) / 1e9);
        callback(null, reply);
      },
      (err: unknown) => {
        const e = asBerthError(err);
        opts.metrics.observeRequest('grpc', name, false, Number(process.hrtime.bigint() - started) / 1e9);
        opts.log[e.code === 'internal' ? 'error' : 'warn']('api call failed', { call: name, ...errorFields(e) });
        const metadata = new grpc.Metadata();
        metadata.set(ERROR_CODE_KEY, e.code);
        callback({ code: grpcStatusOf(e), details: messageOf(e), metadata, name: e.name, message: e.message });
      },
    );
  };
}

function prepareSocket(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  try {
    if (!lstatSync(path).isSocket()) throw new IoError(`${path} exists and is not a socket`, { operation: `stat ${path}` });
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
