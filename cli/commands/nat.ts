/**
 * `berth nat ls`: the nat driver's NAT instances and static mappings, the way Get-NetNat and
 * Get-NetNatStaticMapping show them. Asked of berthd; with `--run-dir DIR`, or when berthd
 * cannot be reached, read straight from WinNAT's state under the run directory (no lock, no
 * kernel call), so it also works for CNI-only hosts. `--format hns` and `--format netnat` print
 * the same state as Windows would be given it: HCN documents, or NetNat commands.
 */
import { InvalidConfigError, NotAvailableError } from '../../core/errors.js';
import { connectApi } from '../../daemon/grpc/client.js';
import { natDescriptionOf } from '../../daemon/grpc/messages.js';
import { DEFAULT_RUN_DIR, describeNat, type NatDescription } from '../../drivers/nat/index.js';
import { renderWindowsNatDescription } from '../../winnat/windows/index.js';
import { EXIT_OK, EXIT_USAGE, isPermissionDenied } from '../exit-codes.js';
import { renderTable } from '../output/table.js';
import { apiSocketPath } from './api-host.js';
import { PROCESS_OUTPUT, type Output } from '../output/streams.js';
import { HELP, HOST, HOST_HELP, parseCommandArgs, showUsage } from './usage.js';

const FORMATS = ['table', 'json', 'hns', 'netnat'] as const;
type Format = (typeof FORMATS)[number];

export const NAT_USAGE = `Usage: berth nat COMMAND [OPTIONS]

Commands:
  ls          Show NAT instances and static mappings (also: list)

Every command takes -h, --help: run "berth nat ls --help" for its options.
`;

export const NAT_LS_USAGE = `Usage: berth nat ls [OPTIONS]

Shows NAT instances (like Get-NetNat) and static mappings (like Get-NetNatStaticMapping).
Asks berthd; with --run-dir, or when berthd is not running (and no --host was given), reads
the state under the run directory ($BERTH_RUN_DIR or ${DEFAULT_RUN_DIR}) directly.

Options:
      --format FORMAT     table (default), json, hns or netnat:
                          hns prints the HCN documents Windows would be given (a NAT
                          HostComputeNetwork per instance, a HostComputeEndpoint with
                          PortMapping policies per endpoint holding mappings); netnat prints
                          the equivalent New-NetNat and Add-NetNatStaticMapping commands, one
                          per line. What Windows cannot express is said on stderr.
      --run-dir DIR       Read the state under DIR instead of asking berthd
${HOST_HELP}  -h, --help              Show this help

--host and --run-dir exclude each other.
`;

export async function natCommand(argv: readonly string[], io: Output = PROCESS_OUTPUT): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    io.out(NAT_USAGE);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (sub !== 'ls' && sub !== 'list') {
    io.err(`berth nat: unknown command "${sub}"\n\n${NAT_USAGE}`);
    return EXIT_USAGE;
  }
  const { values } = parseCommandArgs('berth nat ls', { args: rest, options: { ...HOST, format: { type: 'string' }, 'run-dir': { type: 'string' }, ...HELP } });
  if (values.help) return showUsage(io, NAT_LS_USAGE);
  const format = (values.format ?? 'table') as Format;
  if (!FORMATS.includes(format)) throw new InvalidConfigError(`--format ${JSON.stringify(format)} is not supported: use ${FORMATS.join(', ')}`, { field: '--format', value: format });
  if (values.host !== undefined && values['run-dir'] !== undefined) throw new InvalidConfigError('berth nat ls: give --host or --run-dir, not both', { field: '--run-dir' });
  const d = await natDescription(values.host, values['run-dir'], io);
  io.out(renderAs(format, d, io));
  return EXIT_OK;
}

function renderAs(format: Format, d: NatDescription, io: Output): string {
  switch (format) {
    case 'table':
      return renderNat(d);
    case 'json':
      return `${JSON.stringify(d, null, 2)}\n`;
    case 'hns':
    case 'netnat': {
      const w = renderWindowsNatDescription(d);
      for (const note of w.notes) io.err(`berth: on Windows: ${note}\n`);
      if (format === 'netnat') return w.netNat.map((c) => `${c}\n`).join('');
      return `${JSON.stringify({ networks: w.hcn }, null, 2)}\n`;
    }
  }
}

async function natDescription(host: string | undefined, runDir: string | undefined, io: Output): Promise<NatDescription> {
  if (runDir !== undefined) return describeNat({ runDir });
  const client = connectApi(apiSocketPath(host), { timeoutMs: 5000 });
  try {
    return natDescriptionOf(await client.listNat());
  } catch (err) {
    // Only a missing berthd falls back, and only when no socket was named explicitly: a
    // socket this user may not open means berthd runs, and its state is what counts.
    if (!(err instanceof NotAvailableError) || isPermissionDenied(err) || host !== undefined) throw err;
    const dir = process.env.BERTH_RUN_DIR ?? DEFAULT_RUN_DIR;
    io.err(`berth: berthd is not reachable; showing the NAT state under ${dir}\n`);
    return describeNat({ runDir: dir });
  } finally {
    client.close();
  }
}

/** Two tables, instances then mappings; an empty host says so. */
export function renderNat(d: NatDescription): string {
  const nats = renderTable(
    ['NAME', 'INTERNAL PREFIX', 'INTERFACE', 'LOOPBACK', 'STATIC MAPPINGS'],
    d.nats.map((n) => [n.name, n.internalIPInterfaceAddressPrefix, n.internalInterface, String(n.loopback), String(n.staticMappings)]),
  );
  const mappings = renderTable(
    ['ID', 'NAT NAME', 'PROTOCOL', 'EXTERNAL ADDRESS', 'EXTERNAL PORT', 'INTERNAL ADDRESS', 'INTERNAL PORT', 'CONTAINER'],
    d.staticMappings.map((m) => [
      String(m.staticMappingId),
      m.natName,
      m.protocol,
      m.externalIPAddress,
      m.externalPortEnd !== m.externalPort ? `${m.externalPort}-${m.externalPortEnd}` : `${m.externalPort}${m.ephemeral ? ' (ephemeral)' : ''}`,
      m.internalIPAddress,
      m.externalPortEnd !== m.externalPort ? `${m.internalPort}-${m.internalPort + m.externalPortEnd - m.externalPort}` : String(m.internalPort),
      `${m.containerId.slice(0, 12)}/${m.endpoint}`,
    ]),
  );
  return `${nats}\n${mappings}`;
}
