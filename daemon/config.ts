/**
 * berthd's command line, parsed once into a validated, readonly config. Defaults live here.
 */
import { parseArgs } from 'node:util';
import { InvalidConfigError } from '../core/errors.js';
import { hostname } from 'node:os';
import { IpAddress, IpParseError, IpPrefix } from '../core/ip.js';
import { DEFAULT_DATA_DIR } from '../store/file/file-store.js';
import type { LogLevel } from './log.js';

export interface DaemonConfig {
  /** Where Docker looks for plugin sockets. @default /run/docker/plugins */
  readonly pluginDir: string;
  /** berthd's state (store). @default /var/lib/berth */
  readonly dataDir: string;
  /** Runtime files: the instance lock, driver locks, the API socket. @default /run/berth */
  readonly runDir: string;
  /** The gRPC API socket. @default <runDir>/berthd.sock */
  readonly apiSocket: string;
  /** `host:port`, `unix:PATH`, or undefined to serve no metrics. @default 127.0.0.1:9613 */
  readonly metricsAddress: string | undefined;
  readonly logLevel: LogLevel;
  /** JSON lines go here instead of stdout. */
  readonly logFile: string | undefined;
  /** Pools berth IPAM picks from when Docker gives no subnet. @default 10.209.0.0/16 */
  readonly defaultPoolRange: IpPrefix;
  /** @default 24 */
  readonly defaultPoolLength: number;
  /** Serve the Docker plugin sockets. @default true */
  readonly docker: boolean;
  /** Run the policy agent (program NetworkPolicies, open pods the plugins record). */
  readonly policy: boolean;
  /**
   * Run as a Docker managed (v2) plugin: one socket, `<pluginDir>/berth.sock`, serving the
   * NetworkDriver of this driver and the IpamDriver together, as a managed plugin's single
   * `interface.socket` must (packaging/docker-plugin/config.json).
   */
  readonly managedPlugin: string | undefined;
  /** Watch Namespaces, Pods and NetworkPolicies of the cluster this kubeconfig names. */
  readonly kubeconfig: string | undefined;
  /** Docker's API socket, watched for engine starts (it rewrites its firewall). @default /var/run/docker.sock */
  readonly dockerSocket: string;
  /** Re-check other owners' forward drops this often; 0 = only on events. @default 10000 */
  readonly firewallCheckMs: number;
  /** Serve CNI requests of the plugin shims here; undefined = do not. @default <runDir>/cni.sock */
  readonly cniSocket: string | undefined;
  /** Join a cluster through etcd (overlay networks); undefined = single host, embedded store only. */
  readonly cluster: ClusterOptions | undefined;
}

export interface ClusterOptions {
  readonly endpoints: readonly string[];
  /** The underlay address: the VXLAN local address, what other nodes send to. */
  readonly advertiseAddress: IpAddress;
  /** @default the host name */
  readonly nodeName: string;
  /** @default '/berth/' */
  readonly prefix: string | undefined;
  /** @default 10 */
  readonly nodeTtlSeconds: number;
  /** @default 3600 */
  readonly subnetGraceSeconds: number;
}

export const USAGE = `Usage: berthd [OPTIONS]

berth's node agent: Docker network and IPAM plugins, and the API of the berth CLI.

Options:
  --plugin-dir DIR          Docker plugin socket directory (default /run/docker/plugins)
  --data-dir DIR            state directory (default ${DEFAULT_DATA_DIR})
  --run-dir DIR             runtime directory: locks and the API socket (default /run/berth)
  --api-socket PATH         gRPC API socket (default <run-dir>/berthd.sock)
  --metrics-address ADDR    Prometheus /metrics on HOST:PORT or unix:PATH, "none" to disable
                            (default 127.0.0.1:9613)
  --log-level LEVEL         error, warn, info or debug (default info)
  --log-file PATH           write JSON log lines to PATH instead of stdout
  --default-pool CIDR       range berth IPAM picks pools from (default 10.209.0.0/16)
  --default-pool-length N   prefix length of picked pools (default 24)
  --no-docker               do not serve the Docker plugin sockets
  --cni-socket PATH         serve the CNI plugins' requests here (default <run-dir>/cni.sock;
                            the plugins look there, or in $BERTH_RUN_DIR/cni.sock)
  --no-cni                  do not serve CNI (the plugins then run in-process)
  --no-policy               do not run the policy agent (no NetworkPolicy enforcement)
  --managed-plugin DRIVER   serve DRIVER's network driver and the IPAM driver on one socket,
                            <plugin-dir>/berth.sock, as a Docker managed plugin
  --kubeconfig FILE         take Namespaces, Pods and NetworkPolicies from the Kubernetes
                            API server that FILE names
  --docker-socket PATH      Docker's API socket, watched so that berth's accepts in Docker's
                            firewall chains are re-checked when the engine restarts
                            (default /var/run/docker.sock)
  --firewall-check-interval SECONDS
                            re-check other firewalls' forward drops this often; 0 = only
                            on start, Docker events and status (default 10)
  --etcd-endpoints URL[,URL...]
                            join a cluster through etcd (overlay networks span its nodes)
  --advertise-address IP    this node's underlay address: the VXLAN local address and where
                            other nodes send (needed with --etcd-endpoints)
  --node-name NAME          this node's name in the cluster (default: the host name)
  --etcd-prefix PREFIX      key prefix in etcd (default /berth/)
  --node-ttl SECONDS        a node silent this long is dropped by the others (default 10)
  --subnet-grace SECONDS    a departed node's block returns to the pool after this (default 3600)
  -h, --help                show this help
`;

/** Parses berthd's arguments; InvalidConfigError names the option at fault. */
export function parseDaemonArgs(argv: readonly string[]): DaemonConfig | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'plugin-dir': { type: 'string' },
        'data-dir': { type: 'string' },
        'run-dir': { type: 'string' },
        'api-socket': { type: 'string' },
        'metrics-address': { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        'default-pool': { type: 'string' },
        'default-pool-length': { type: 'string' },
        'no-docker': { type: 'boolean' },
        'cni-socket': { type: 'string' },
        'no-cni': { type: 'boolean' },
        'no-policy': { type: 'boolean' },
        'managed-plugin': { type: 'string' },
        kubeconfig: { type: 'string' },
        'docker-socket': { type: 'string' },
        'firewall-check-interval': { type: 'string' },
        'etcd-endpoints': { type: 'string' },
        'advertise-address': { type: 'string' },
        'node-name': { type: 'string' },
        'etcd-prefix': { type: 'string' },
        'node-ttl': { type: 'string' },
        'subnet-grace': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new InvalidConfigError(`berthd: ${(err as Error).message}`);
  }
  if (values.help) return 'help';
  const runDir = values['run-dir'] ?? '/run/berth';
  const level = values['log-level'] ?? 'info';
  if (!['error', 'warn', 'info', 'debug'].includes(level)) {
    throw new InvalidConfigError(`--log-level ${JSON.stringify(level)} is not one of error, warn, info, debug`, { field: '--log-level', value: level });
  }
  const metrics = values['metrics-address'] ?? '127.0.0.1:9613';
  if (metrics !== 'none' && !metrics.startsWith('unix:') && !/^[^:]+:\d{1,5}$/.test(metrics) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(metrics)) {
    throw new InvalidConfigError(`--metrics-address ${JSON.stringify(metrics)} is not HOST:PORT, unix:PATH or none`, { field: '--metrics-address', value: metrics });
  }
  let poolRange: IpPrefix;
  const poolText = values['default-pool'] ?? '10.209.0.0/16';
  try {
    poolRange = IpPrefix.parse(poolText);
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
    throw new InvalidConfigError(`--default-pool ${JSON.stringify(poolText)} is not a subnet: ${err.message}`, { field: '--default-pool', value: poolText });
  }
  if (poolRange.family !== 4) throw new InvalidConfigError(`--default-pool ${poolText} must be an IPv4 range`, { field: '--default-pool', value: poolText });
  const lengthText = values['default-pool-length'] ?? '24';
  const poolLength = Number(lengthText);
  if (!/^\d+$/.test(lengthText) || poolLength < poolRange.length || poolLength > 30) {
    throw new InvalidConfigError(`--default-pool-length ${lengthText} must be from ${poolRange.length} to 30`, { field: '--default-pool-length', value: lengthText });
  }
  const checkText = values['firewall-check-interval'] ?? '10';
  if (!/^\d+(\.\d+)?$/.test(checkText)) {
    throw new InvalidConfigError(`--firewall-check-interval ${JSON.stringify(checkText)} is not a number of seconds`, { field: '--firewall-check-interval', value: checkText });
  }
  if (values['docker-socket'] === '') throw new InvalidConfigError('--docker-socket needs a path', { field: '--docker-socket', value: '' });
  if (values.kubeconfig === '') throw new InvalidConfigError('--kubeconfig needs a file name', { field: '--kubeconfig', value: '' });
  return {
    pluginDir: values['plugin-dir'] ?? '/run/docker/plugins',
    dataDir: values['data-dir'] ?? DEFAULT_DATA_DIR,
    runDir,
    apiSocket: values['api-socket'] ?? `${runDir}/berthd.sock`,
    metricsAddress: metrics === 'none' ? undefined : metrics,
    logLevel: level as LogLevel,
    logFile: values['log-file'],
    defaultPoolRange: poolRange,
    defaultPoolLength: poolLength,
    docker: !values['no-docker'],
    policy: !values['no-policy'],
    managedPlugin: values['managed-plugin'],
    kubeconfig: values.kubeconfig,
    dockerSocket: values['docker-socket'] ?? '/var/run/docker.sock',
    firewallCheckMs: Math.round(Number(checkText) * 1000),
    cniSocket: values['no-cni'] ? undefined : (values['cni-socket'] ?? `${runDir}/cni.sock`),
    cluster: parseClusterOptions(values),
  };
}

function parseClusterOptions(values: Record<string, string | boolean | undefined>): ClusterOptions | undefined {
  const text = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const endpointsText = text('etcd-endpoints');
  const clusterOnly = ['advertise-address', 'node-name', 'etcd-prefix', 'node-ttl', 'subnet-grace'].filter((k) => text(k) !== undefined);
  if (endpointsText === undefined) {
    if (clusterOnly.length) throw new InvalidConfigError(`--${clusterOnly[0]} needs --etcd-endpoints: it only means something in a cluster`, { field: `--${clusterOnly[0]}` });
    return undefined;
  }
  const endpoints = endpointsText.split(',').map((e) => e.trim());
  for (const e of endpoints) {
    let url: URL | undefined;
    try {
      url = new URL(e);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.port) {
      throw new InvalidConfigError(`--etcd-endpoints: ${JSON.stringify(e)} is not an etcd client URL such as http://10.0.0.1:2379`, { field: '--etcd-endpoints', value: e });
    }
  }
  const advertiseText = text('advertise-address');
  if (advertiseText === undefined)
    throw new InvalidConfigError("--etcd-endpoints needs --advertise-address IP: the underlay address other nodes send this node's VXLAN packets to", { field: '--advertise-address' });
  const advertiseAddress = IpAddress.tryParse(advertiseText);
  if (!advertiseAddress || advertiseAddress.family !== 4)
    throw new InvalidConfigError(`--advertise-address ${JSON.stringify(advertiseText)} is not an IPv4 address`, { field: '--advertise-address', value: advertiseText });
  const nodeName = text('node-name') ?? hostname();
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/.test(nodeName)) {
    throw new InvalidConfigError(`--node-name ${JSON.stringify(nodeName)} is not a valid node name: letters, digits, '.', '_' and '-'`, { field: '--node-name', value: nodeName });
  }
  const seconds = (flag: string, fallback: number, min: number) => {
    const t = text(flag);
    if (t === undefined) return fallback;
    if (!/^\d+$/.test(t) || Number(t) < min) throw new InvalidConfigError(`--${flag} ${JSON.stringify(t)} must be a whole number of seconds, at least ${min}`, { field: `--${flag}`, value: t });
    return Number(t);
  };
  return {
    endpoints,
    advertiseAddress,
    nodeName,
    prefix: text('etcd-prefix'),
    nodeTtlSeconds: seconds('node-ttl', 10, 2),
    subnetGraceSeconds: seconds('subnet-grace', 3600, 0),
  };
}
