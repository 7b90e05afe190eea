/**
 * `berth network create|ls|inspect|rm`: berthd's networks, through its gRPC API, printed the
 * way `docker network` prints them (tables; `inspect` as a JSON array; `--format json`).
 */
import { parseArgs } from 'node:util';
import { InvalidConfigError, asBerthError } from '../../core/errors.js';
import { connectApi, type BerthClient } from '../../daemon/grpc/client.js';
import type { NetworkMessage, SubnetMessage } from '../../daemon/grpc/messages.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { apiSocketPath } from './api-host.js';

export const NETWORK_USAGE = `Usage: berth network COMMAND

Commands:
  create -d DRIVER --subnet CIDR [--gateway IP] [--internal] [-o KEY=VALUE]... NAME
                          Create a network (--subnet and --gateway may repeat, in pairs)
  ls [-q] [--format table|json]
                          List networks
  inspect [--format json] NETWORK...
                          Show networks in detail (JSON)
  rm NETWORK...           Remove networks

NETWORK is a name, an id or a unique id prefix. Every command takes --host SOCKET
(default $BERTH_HOST or /run/berth/berthd.sock).
`;

/** Where the command writes; injected so tests can capture it. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const PROCESS_OUTPUT: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Runs `berth network ...`; returns the exit status. */
export async function networkCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create':
      return withClient(rest, create, io);
    case 'ls':
    case 'list':
      return withClient(rest, list, io);
    case 'inspect':
      return withClient(rest, inspect, io);
    case 'rm':
    case 'remove':
      return withClient(rest, remove, io);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(NETWORK_USAGE);
      return sub === undefined ? EXIT_USAGE : EXIT_OK;
    default:
      io.err(`berth network: unknown command "${sub}"\n\n${NETWORK_USAGE}`);
      return EXIT_USAGE;
  }
}

type Command = (args: readonly string[], client: () => BerthClient, io: Output) => Promise<number>;

/** Parses `--host` out of the arguments and gives the command a lazily connected client. */
async function withClient(argv: readonly string[], command: Command, io: Output): Promise<number> {
  const hostAt = argv.findIndex((a) => a === '--host' || a === '-H');
  const host = hostAt >= 0 ? argv[hostAt + 1] : argv.find((a) => a.startsWith('--host='))?.slice('--host='.length);
  const args = argv.filter((a, i) => !(i === hostAt || (hostAt >= 0 && i === hostAt + 1) || a.startsWith('--host=')));
  let client: BerthClient | undefined;
  try {
    return await command(args, () => (client ??= connectApi(apiSocketPath(host))), io);
  } finally {
    client?.close();
  }
}

const create: Command = async (argv, client, io) => {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      driver: { type: 'string', short: 'd' },
      subnet: { type: 'string', multiple: true },
      gateway: { type: 'string', multiple: true },
      opt: { type: 'string', short: 'o', multiple: true },
      internal: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new InvalidConfigError('berth network create needs exactly one NAME', { field: 'NAME' });
  const name = positionals[0] as string;
  if (!values.driver) throw new InvalidConfigError('berth network create: -d DRIVER is required (for example -d bridge)', { field: '--driver' });
  const subnetsGiven = values.subnet ?? [];
  if (subnetsGiven.length === 0) throw new InvalidConfigError('berth network create: --subnet CIDR is required (for example --subnet 10.20.0.0/24)', { field: '--subnet' });
  const gateways = values.gateway ?? [];
  if (gateways.length > subnetsGiven.length) throw new InvalidConfigError('berth network create: more --gateway than --subnet', { field: '--gateway' });
  // An empty gateway lets berthd take the subnet's first host address, as Docker does.
  const subnets: SubnetMessage[] = subnetsGiven.map((subnet, i) => ({ subnet, gateway: gateways[i] ?? '' }));
  const options: Record<string, string> = {};
  for (const kv of values.opt ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new InvalidConfigError(`-o ${JSON.stringify(kv)} is not KEY=VALUE`, { field: '--opt', value: kv });
    options[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const network = await client().createNetwork({ name, driver: values.driver, subnets, options, internal: values.internal ?? false });
  io.out(`${network.id}\n`);
  return EXIT_OK;
};

const list: Command = async (argv, client, io) => {
  const { values } = parseArgs({ args: [...argv], strict: true, options: { quiet: { type: 'boolean', short: 'q' }, format: { type: 'string' } } });
  const format = checkFormat(values.format, ['table', 'json']);
  const networks = await client().listNetworks();
  if (values.quiet) {
    io.out(networks.map((n) => `${n.id.slice(0, 12)}\n`).join(''));
  } else if (format === 'json') {
    io.out(networks.map((n) => `${JSON.stringify(summary(n))}\n`).join(''));
  } else {
    io.out(
      renderTable(
        ['NETWORK ID', 'NAME', 'DRIVER', 'ORIGIN', 'SUBNET', 'ENDPOINTS'],
        networks.map((n) => [n.id.slice(0, 12), n.name, n.driver, n.origin, n.subnets.map((s) => s.subnet).join(','), String(n.endpoints.length)]),
      ),
    );
  }
  return EXIT_OK;
};

const inspect: Command = async (argv, client, io) => {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { format: { type: 'string', short: 'f' } } });
  checkFormat(values.format, ['json']);
  if (positionals.length === 0) throw new InvalidConfigError('berth network inspect needs at least one NETWORK', { field: 'NETWORK' });
  const found: NetworkMessage[] = [];
  let status = EXIT_OK;
  for (const ref of positionals) {
    try {
      found.push(await client().inspectNetwork(ref));
    } catch (err) {
      io.err(`Error: ${asBerthError(err).message}\n`);
      status = EXIT_FAILED;
    }
  }
  io.out(`${JSON.stringify(found, null, 4)}\n`);
  return status;
};

const remove: Command = async (argv, client, io) => {
  const { positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: {} });
  if (positionals.length === 0) throw new InvalidConfigError('berth network rm needs at least one NETWORK', { field: 'NETWORK' });
  let status = EXIT_OK;
  for (const ref of positionals) {
    try {
      await client().deleteNetwork(ref);
      io.out(`${ref}\n`);
    } catch (err) {
      io.err(`Error: ${asBerthError(err).message}\n`);
      status = EXIT_FAILED;
    }
  }
  return status;
};

/** What `ls --format json` prints per network: one JSON object a line, like docker. */
function summary(n: NetworkMessage): object {
  return { ID: n.id.slice(0, 12), Name: n.name, Driver: n.driver, Plugin: n.plugin, Origin: n.origin, Subnets: n.subnets.map((s) => s.subnet), Endpoints: n.endpoints.length, Internal: n.internal, CreatedAt: n.created };
}

function checkFormat(format: string | undefined, allowed: readonly string[]): string {
  const f = format ?? allowed[0] ?? 'table';
  if (!allowed.includes(f)) throw new InvalidConfigError(`--format ${JSON.stringify(f)} is not supported: use ${allowed.join(' or ')}`, { field: '--format', value: f });
  return f;
}
