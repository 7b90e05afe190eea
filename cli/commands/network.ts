/**
 * `berth network create|ls|inspect|rm`: berthd's networks, through its gRPC API, printed the
 * way `docker network` prints them (tables; `inspect` as a JSON array; `--format json`).
 */
import { InvalidConfigError, NotAvailableError, asBerthError } from '../../core/errors.js';
import { connectApi, type BerthClient } from '../../daemon/grpc/client.js';
import type { NetworkMessage, SubnetMessage } from '../../daemon/grpc/messages.js';
import { CATALOG } from '../../drivers/catalog.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, isPermissionDenied } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { apiSocketPath } from './api-host.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { HELP, HOST, HOST_HELP, parseCommandArgs, showUsage, wrap } from './usage.js';

export const NETWORK_USAGE = `Usage: berth network COMMAND [OPTIONS]

Commands:
  create      Create a network
  ls          List networks (also: list)
  inspect     Show networks in detail (JSON)
  rm          Remove networks (also: remove)

NETWORK is a name, an id or a unique id prefix. Every command takes -H, --host SOCKET
(default $BERTH_HOST or /run/berth/berthd.sock) and -h, --help.
Run "berth network COMMAND --help" for a command's options.
`;

/** The drivers `-d` accepts, from the catalog, one a line under `indent`. */
function driverList(indent: string): string {
  const width = Math.max(...CATALOG.map((e) => e.name.length));
  return CATALOG.map((e) => wrap(e.summary, 94, `${indent}${e.name.padEnd(width)}  `, `${indent}${' '.repeat(width + 2)}`)).join('');
}

export const CREATE_USAGE = `Usage: berth network create -d DRIVER [--subnet CIDR] [OPTIONS] NAME

Creates the network NAME on berthd and prints its id.

Options:
  -d, --driver DRIVER     The driver (required), one of:
${driverList('                            ')}      --subnet CIDR       A subnet (repeat for several, IPv4 and IPv6); required except for
                          transparent, whose containers then lease addresses by DHCP
      --gateway IP        The gateway of the subnet given in the same position (repeatable;
                          default: the subnet's first host address)
  -o, --opt KEY=VALUE     A driver option (repeatable)
      --internal          No connectivity outside the network
${HOST_HELP}  -h, --help              Show this help
`;

export const LS_USAGE = `Usage: berth network ls [OPTIONS]

Lists berthd's networks (alias: list).

Options:
  -q, --quiet             Print only the network ids
      --format FORMAT     table (default) or json (one object a line)
${HOST_HELP}  -h, --help              Show this help
`;

export const INSPECT_USAGE = `Usage: berth network inspect [OPTIONS] NETWORK...

Shows networks in detail, as a JSON array.

Options:
  -f, --format FORMAT     json (the only format)
${HOST_HELP}  -h, --help              Show this help
`;

export const RM_USAGE = `Usage: berth network rm [OPTIONS] NETWORK...

Removes networks and prints each removed one (alias: remove).

Options:
${HOST_HELP}  -h, --help              Show this help
`;

/** Where the command writes; injected so tests can capture it. */

/** Runs `berth network ...`; returns the exit status. */
export async function networkCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'create':
      return create(rest, io);
    case 'ls':
    case 'list':
      return list(rest, io);
    case 'inspect':
      return inspect(rest, io);
    case 'rm':
    case 'remove':
      return remove(rest, io);
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

/** Runs `fn` with a lazily connected client of the berthd at `host`, and closes it. */
async function withClient(host: string | undefined, fn: (client: () => BerthClient) => Promise<number>): Promise<number> {
  let client: BerthClient | undefined;
  try {
    return await fn(() => (client ??= connectApi(apiSocketPath(host))));
  } finally {
    client?.close();
  }
}

/** An error that is about berthd as a whole (unreachable, or its socket refused): no use going on. */
function aboutBerthd(err: unknown): boolean {
  return err instanceof NotAvailableError || isPermissionDenied(err);
}

async function create(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth network create', {
    args: argv,
    allowPositionals: true,
    options: {
      driver: { type: 'string', short: 'd' },
      subnet: { type: 'string', multiple: true },
      gateway: { type: 'string', multiple: true },
      opt: { type: 'string', short: 'o', multiple: true },
      internal: { type: 'boolean' },
      ...HOST,
      ...HELP,
    },
  });
  if (values.help) return showUsage(io, CREATE_USAGE);
  if (positionals.length !== 1) throw new InvalidConfigError('berth network create needs exactly one NAME', { field: 'NAME' });
  const name = positionals[0] as string;
  if (!values.driver) throw new InvalidConfigError('berth network create: -d DRIVER is required (for example -d bridge)', { field: '--driver' });
  const driver = values.driver;
  const subnetsGiven = values.subnet ?? [];
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
  return withClient(values.host, async (client) => {
    const network = await client().createNetwork({ name, driver, subnets, options, internal: values.internal ?? false });
    io.out(`${network.id}\n`);
    return EXIT_OK;
  });
}

async function list(argv: readonly string[], io: Output): Promise<number> {
  const { values } = parseCommandArgs('berth network ls', { args: argv, options: { quiet: { type: 'boolean', short: 'q' }, format: { type: 'string' }, ...HOST, ...HELP } });
  if (values.help) return showUsage(io, LS_USAGE);
  const format = checkFormat(values.format, ['table', 'json']);
  return withClient(values.host, async (client) => {
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
  });
}

async function inspect(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth network inspect', { args: argv, allowPositionals: true, options: { format: { type: 'string', short: 'f' }, ...HOST, ...HELP } });
  if (values.help) return showUsage(io, INSPECT_USAGE);
  checkFormat(values.format, ['json']);
  if (positionals.length === 0) throw new InvalidConfigError('berth network inspect needs at least one NETWORK', { field: 'NETWORK' });
  return withClient(values.host, async (client) => {
    const found: NetworkMessage[] = [];
    let status = EXIT_OK;
    for (const ref of positionals) {
      try {
        found.push(await client().inspectNetwork(ref));
      } catch (err) {
        if (aboutBerthd(err)) throw err;
        io.err(`Error: ${asBerthError(err).message}\n`);
        status = EXIT_FAILED;
      }
    }
    io.out(`${JSON.stringify(found, null, 4)}\n`);
    return status;
  });
}

async function remove(argv: readonly string[], io: Output): Promise<number> {
  const { values, positionals } = parseCommandArgs('berth network rm', { args: argv, allowPositionals: true, options: { ...HOST, ...HELP } });
  if (values.help) return showUsage(io, RM_USAGE);
  if (positionals.length === 0) throw new InvalidConfigError('berth network rm needs at least one NETWORK', { field: 'NETWORK' });
  return withClient(values.host, async (client) => {
    let status = EXIT_OK;
    for (const ref of positionals) {
      try {
        await client().deleteNetwork(ref);
        io.out(`${ref}\n`);
      } catch (err) {
        if (aboutBerthd(err)) throw err;
        io.err(`Error: ${asBerthError(err).message}\n`);
        status = EXIT_FAILED;
      }
    }
    return status;
  });
}

/** What `ls --format json` prints per network: one JSON object a line, like docker. */
function summary(n: NetworkMessage): object {
  return {
    ID: n.id.slice(0, 12),
    Name: n.name,
    Driver: n.driver,
    Plugin: n.plugin,
    Origin: n.origin,
    Subnets: n.subnets.map((s) => s.subnet),
    Endpoints: n.endpoints.length,
    Internal: n.internal,
    CreatedAt: n.created,
  };
}

function checkFormat(format: string | undefined, allowed: readonly string[]): string {
  const f = format ?? allowed[0] ?? 'table';
  if (!allowed.includes(f)) throw new InvalidConfigError(`--format ${JSON.stringify(f)} is not supported: use ${allowed.join(' or ')}`, { field: '--format', value: f });
  return f;
}
