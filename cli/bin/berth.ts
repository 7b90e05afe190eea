/**
 * `berth`: the command line. Subcommands are loaded only when used.
 */
import { parseArgs } from 'node:util';
import { BerthError, asBerthError } from '../../core/errors.js';
import { exitCodeOf } from '../exit-codes.js';

const USAGE = `Usage: berth COMMAND [OPTIONS]

Commands:
  network                     Manage berthd's networks (create, ls, inspect, rm)
  status                      Show what berthd serves and manages
  ps                          Show containers on berth's networks, their addresses and
                              published ports (what docker ps cannot show for plugins)
  nat ls                      Show NAT instances and static mappings (berthd or the state)
  policy                      NetworkPolicies in the store: apply, delete, ls, matrix, explain
  install --cni-bin-dir DIR   Install the CNI plugins (berth-bridge, berth-ipam) into DIR
  version                     Print the version
  help                        Show this help

Commands that talk to berthd take --host SOCKET (default $BERTH_HOST or
/run/berth/berthd.sock). Exit status: 0 done, 1 refused or failed, 2 bad usage or
invalid input, 69 berthd unreachable.
`;

/** Commands served by berthd's API, loaded only when used. */
const API_COMMANDS: Readonly<Record<string, (argv: readonly string[]) => Promise<number>>> = {
  network: (argv) => import('../commands/network.js').then((m) => m.networkCommand(argv)),
  status: (argv) => import('../commands/status.js').then((m) => m.statusCommand(argv)),
  nat: (argv) => import('../commands/nat.js').then((m) => m.natCommand(argv)),
  ps: (argv) => import('../commands/ps.js').then((m) => m.psCommand(argv)),
  policy: (argv) => import('../commands/policy.js').then((m) => m.policyCommand(argv)),
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const apiCommand = command !== undefined && Object.hasOwn(API_COMMANDS, command) ? API_COMMANDS[command] : undefined;
  if (apiCommand) return apiCommand(rest);
  switch (command) {
    case 'install': {
      const { values } = parseArgs({ args: rest, options: { 'cni-bin-dir': { type: 'string' }, node: { type: 'string' } }, strict: true });
      const { installPlugins } = await import('../commands/install.js');
      const dir = values['cni-bin-dir'];
      if (!dir) throw new BerthError('invalid-config', 'berth install: --cni-bin-dir DIR is required (for example /opt/cni/bin)', { field: '--cni-bin-dir' });
      for (const path of installPlugins({ cniBinDir: dir, ...(values.node ? { nodePath: values.node } : {}) })) process.stdout.write(`installed ${path}\n`);
      return 0;
    }
    case 'version':
    case '--version':
      process.stdout.write('berth 0.1.0\n');
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`berth: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`berth: ${asBerthError(err).message}\n`);
    process.exitCode = exitCodeOf(err);
  },
);
