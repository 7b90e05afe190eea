/**
 * `berth`: the command line. Subcommands are loaded only when used.
 */
import { parseArgs } from 'node:util';
import { BerthError, asBerthError } from '../../core/errors.js';

const USAGE = `Usage: berth COMMAND [OPTIONS]

Commands:
  install --cni-bin-dir DIR   Install the CNI plugins (berth-bridge, berth-ipam) into DIR
  version                     Print the version
  help                        Show this help
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
    const e = asBerthError(err);
    process.stderr.write(`berth: ${e.message}\n`);
    process.exitCode = e.code === 'invalid-config' || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
  },
);
