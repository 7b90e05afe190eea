/**
 * `berth`: the command line. Subcommands are loaded only when used.
 */
import { CATALOG, CNI_PLUGIN_NAMES, IPAM_PLUGIN } from '../../drivers/catalog.js';
import { BerthError } from '../../core/errors.js';
import { describeFailure, EXIT_OK, EXIT_USAGE } from '../exit-codes.js';
import type { Output } from '../output/streams.js';
import { HELP, parseCommandArgs, showUsage, wrap } from '../commands/usage.js';

const COLUMN = ' '.repeat(30);

/** The drivers and plugins berth ships, from the catalog: a new entry shows up here by itself. */
function driversSection(): string {
  const name = Math.max(...CATALOG.map((e) => e.name.length));
  const plugin = Math.max(...CATALOG.map((e) => e.plugin.length));
  const rows = CATALOG.map((e) => {
    const head = `  ${e.name.padEnd(name)}  ${e.plugin.padEnd(plugin)}  `;
    return wrap(e.summary, 94, head, ' '.repeat(head.length));
  });
  return `Drivers (berth network create -d DRIVER), each with its CNI plugin and Docker plugin:
${rows.join('')}IPAM plugin: ${IPAM_PLUGIN} (CNI)
`;
}

const USAGE = `Usage: berth COMMAND [OPTIONS]

Commands:
  network                     Manage berthd's networks (create, ls, inspect, rm)
  status                      Show what berthd serves and manages
  ps                          Show containers on berth's networks, their addresses and
                              published ports (what docker ps cannot show for plugins)
  nat ls                      Show NAT instances and static mappings (berthd or the state)
  policy                      NetworkPolicies in the store: apply, delete, ls, matrix,
                              explain, sync
  lab                         Runnable, self-checking labs (ls, run NAME, shell, down)
  render --os windows         The HCN documents a network and endpoint of any driver mean
                              on Windows (or Microsoft's CNI conf of it), offline
${wrap(`Install the CNI plugins (${CNI_PLUGIN_NAMES.join(', ')}) into DIR`, 94, '  install --cni-bin-dir DIR   ', COLUMN)}  version                     Print the version
  help [COMMAND [SUBCOMMAND]] Show this help, or a command's (same as COMMAND --help)

${driversSection()}
Every command and subcommand takes -h, --help. Commands that talk to berthd take
-H, --host SOCKET (default $BERTH_HOST or /run/berth/berthd.sock). Exit status: 0 done,
1 refused or failed (also: berthd's socket may not be opened by this user), 2 bad usage or
invalid input, 69 berthd unreachable.
`;

const INSTALL_USAGE = `Usage: berth install [--cni-bin-dir DIR] [--systemd-dir DIR] [OPTIONS]

${wrap(
  `Installs berth's CNI plugins (${CNI_PLUGIN_NAMES.join(', ')}) into DIR, where a container runtime looks for them (for example /opt/cni/bin). Each is a small native program that hands the request to berthd's CNI socket, and runs the plugin in-process with Node when berthd is not running. With --systemd-dir, also writes berthd's systemd units (berthd.service, berthd-cni.socket), which start berthd with that Node. Re-run the install after moving berth or Node.`,
  94,
  '',
  '',
)}
Options:
      --cni-bin-dir DIR   Where to install the plugins
      --systemd-dir DIR   Where to write berthd's systemd units (for example
                          /etc/systemd/system; then systemctl daemon-reload)
      --node PATH         The Node binary (22 or later) the plugins run with when berthd is
                          not running, and the units run berthd with (default: the one
                          running this command)
  -h, --help              Show this help
`;

const VERSION_USAGE = `Usage: berth version

Prints berth's version (also: berth --version).

Options:
  -h, --help              Show this help
`;

/** Commands served by berthd's API, loaded only when used. */
const API_COMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  network: (argv) => import('../commands/network.js').then((m) => m.networkCommand(argv)),
  status: (argv) => import('../commands/status.js').then((m) => m.statusCommand(argv)),
  nat: (argv) => import('../commands/nat.js').then((m) => m.natCommand(argv)),
  ps: (argv) => import('../commands/ps.js').then((m) => m.psCommand(argv)),
  policy: (argv) => import('../commands/policy.js').then((m) => m.policyCommand(argv)),
};

const io: Output = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const apiCommand = command !== undefined && Object.hasOwn(API_COMMANDS, command) ? API_COMMANDS[command] : undefined;
  if (apiCommand) return apiCommand(rest);
  switch (command) {
    case 'install': {
      const { values } = parseCommandArgs('berth install', {
        args: rest,
        options: { 'cni-bin-dir': { type: 'string' }, 'systemd-dir': { type: 'string' }, node: { type: 'string' }, ...HELP },
      });
      if (values.help) return showUsage(io, INSTALL_USAGE);
      const { installPlugins, packageRoot } = await import('../commands/install.js');
      const dir = values['cni-bin-dir'];
      const systemdDir = values['systemd-dir'];
      if (!dir && !systemdDir) throw new BerthError('invalid-config', 'berth install: --cni-bin-dir DIR (for example /opt/cni/bin) or --systemd-dir DIR is required', { field: '--cni-bin-dir' });
      const node = values.node ? { nodePath: values.node } : {};
      if (dir) for (const path of installPlugins({ cniBinDir: dir, ...node })) io.out(`installed ${path}\n`);
      if (systemdDir) {
        const { installUnits } = await import('../commands/install-units.js');
        for (const path of installUnits({ systemdDir, root: packageRoot(), ...node })) io.out(`installed ${path}\n`);
        io.out('then: systemctl daemon-reload && systemctl enable --now berthd-cni.socket berthd\n');
      }
      return EXIT_OK;
    }
    case 'lab': {
      const { labCommand } = await import('../commands/lab.js');
      return labCommand(rest, io);
    }
    case 'render': {
      const { renderCommand } = await import('../commands/render.js');
      return renderCommand(rest, io);
    }
    case 'version':
    case '--version': {
      const { values } = parseCommandArgs('berth version', { args: rest, options: { ...HELP } });
      if (values.help) return showUsage(io, VERSION_USAGE);
      io.out('berth 0.1.0\n');
      return EXIT_OK;
    }
    case 'help':
      // `berth help network create` is `berth network create --help`.
      return rest.length ? main([...rest, '--help']) : showUsage(io, USAGE);
    case undefined:
    case '--help':
    case '-h':
      return showUsage(io, USAGE);
    default:
      io.err(`berth: unknown command "${command}"\n\n${USAGE}`);
      return EXIT_USAGE;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const { message, exitCode } = describeFailure(err);
    process.stderr.write(`berth: ${message}\n`);
    process.exitCode = exitCode;
  },
);
