/**
 * `berth ps`: the endpoints on berthd's networks with their addresses and published ports,
 * one line each, like the PORTS column of `docker ps`. Docker cannot show a remote driver's
 * port mappings (`docker port` and that column stay empty for every plugin network: Docker
 * checks the driver's answer against its own type), so this is the place to see them.
 *
 * Names come from the Docker engine when its API socket answers (`--docker-socket`,
 * $DOCKER_HOST as unix://PATH, or /var/run/docker.sock): container and network names
 * instead of endpoint and network IDs. Without Docker the IDs are shown.
 */
import { request } from 'node:http';
import { InvalidConfigError } from '../../core/errors.js';
import { connectApi } from '../../daemon/grpc/client.js';
import type { ListNatMessage, NetworkMessage } from '../../daemon/grpc/messages.js';
import { EXIT_OK } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { apiSocketPath } from './api-host.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { HELP, HOST, HOST_HELP, parseCommandArgs, showUsage } from './usage.js';

export const PS_USAGE = `Usage: berth ps [OPTIONS]

Shows the endpoints on berthd's networks, one a line: container, network, addresses and
published ports (docker ps cannot show a plugin network's ports). Container and network names
come from the Docker engine when it answers, else IDs are shown.

Options:
      --format FORMAT     table (default) or json
      --docker-socket PATH
                          The Docker engine's socket for names (default: $DOCKER_HOST when
                          unix://PATH, else /var/run/docker.sock)
${HOST_HELP}  -h, --help              Show this help
`;

export interface PsRow {
  readonly container: string;
  readonly network: string;
  readonly endpoint: string;
  readonly addresses: readonly string[];
  /** Docker's notation: `0.0.0.0:8080->80/tcp`. */
  readonly ports: readonly string[];
}

/** What Docker says about its containers' endpoints: endpoint ID → container and network names. */
export type DockerNames = ReadonlyMap<string, { readonly container: string; readonly network: string }>;

export async function psCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const { values } = parseCommandArgs('berth ps', { args: argv, options: { ...HOST, 'docker-socket': { type: 'string' }, format: { type: 'string' }, ...HELP } });
  if (values.help) return showUsage(io, PS_USAGE);
  const format = values.format ?? 'table';
  if (format !== 'table' && format !== 'json') throw new InvalidConfigError(`--format ${JSON.stringify(format)} is not supported: use table or json`, { field: '--format', value: format });
  const client = connectApi(apiSocketPath(values.host), { timeoutMs: 5000 });
  let networks: NetworkMessage[];
  let nat: ListNatMessage;
  try {
    [networks, nat] = await Promise.all([client.listNetworks(), client.listNat()]);
  } finally {
    client.close();
  }
  const names = await dockerNames(values['docker-socket'] ?? dockerSocketFromEnv());
  const rows = psRows(networks, nat, names);
  if (format === 'json') io.out(`${JSON.stringify(rows, null, 2)}\n`);
  else
    io.out(
      renderTable(
        ['CONTAINER', 'NETWORK', 'ADDRESSES', 'PORTS'],
        rows.map((r) => [r.container, r.network, r.addresses.join(', '), r.ports.join(', ')]),
      ),
    );
  return EXIT_OK;
}

/** One row per endpoint, ports from the NAT mappings it owns; sorted by container, then network. */
export function psRows(networks: readonly NetworkMessage[], nat: ListNatMessage, names: DockerNames): PsRow[] {
  const rows: PsRow[] = [];
  for (const n of networks) {
    for (const e of n.endpoints) {
      const docker = names.get(e.id);
      const ports = nat.staticMappings
        .filter((m) => m.containerId === e.id)
        .map((m) => {
          const external = m.externalPortEnd !== m.externalPort ? `${m.externalPort}-${m.externalPortEnd}` : String(m.externalPort);
          const internal = m.externalPortEnd !== m.externalPort ? `${m.internalPort}-${m.internalPort + m.externalPortEnd - m.externalPort}` : String(m.internalPort);
          return `${m.externalAddress || '0.0.0.0'}:${external}->${internal}/${m.protocol.toLowerCase()}`;
        });
      rows.push({ container: docker?.container ?? e.id.slice(0, 12), network: docker?.network ?? n.name, endpoint: e.id, addresses: e.addresses, ports });
    }
  }
  return rows.sort((a, b) => (a.container !== b.container ? (a.container < b.container ? -1 : 1) : a.network < b.network ? -1 : a.network > b.network ? 1 : 0));
}

function dockerSocketFromEnv(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

interface DockerContainer {
  Names?: string[];
  NetworkSettings?: { Networks?: Record<string, { EndpointID?: string }> };
}

/** Endpoint names from the engine's container list; empty when no engine answers. */
async function dockerNames(socketPath: string): Promise<DockerNames> {
  const containers = await new Promise<DockerContainer[]>((resolve) => {
    const req = request({ socketPath, path: '/containers/json', method: 'GET', headers: { Host: 'docker' }, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as DockerContainer[]) : []);
        } catch {
          resolve([]);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve([]));
    req.end();
  });
  const names = new Map<string, { container: string; network: string }>();
  for (const c of containers) {
    const container = (c.Names?.[0] ?? '').replace(/^\//, '');
    for (const [network, settings] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      if (settings.EndpointID) names.set(settings.EndpointID, { container, network });
    }
  }
  return names;
}
