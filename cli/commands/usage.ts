/**
 * What every `berth` command shares about its usage: the `-h, --help` option, and a strict
 * parseArgs whose failures name the command and point at its help. The help texts themselves
 * live next to the command they describe.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InvalidConfigError } from '../../core/errors.js';
import { EXIT_OK } from '../exit-codes.js';
import type { Output } from '../output/streams.js';

/** `-h, --help`: every command and subcommand takes it, and then only prints its usage. */
export const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** `-H, --host SOCKET`: berthd's API socket (cli/commands/api-host.ts). */
export const HOST = { host: { type: 'string', short: 'H' } } as const;

/** How the usage texts describe `--host`. */
export const HOST_HELP = `  -H, --host SOCKET       berthd's API socket (default $BERTH_HOST, else /run/berth/berthd.sock)
`;

type CommandArgs = Omit<ParseArgsConfig, 'strict' | 'tokens' | 'args'> & { readonly args: readonly string[] };

/**
 * parseArgs, strict, for the command `command` (`berth network create`). A bad argument is an
 * InvalidConfigError (exit status 2) that names it and points at `command --help`.
 */
export function parseCommandArgs<T extends CommandArgs>(command: string, config: T): ReturnType<typeof parseArgs<T & { strict: true }>> {
  const args = [...config.args];
  try {
    return parseArgs({ ...config, args, strict: true }) as ReturnType<typeof parseArgs<T & { strict: true }>>;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw err;
    const see = `(see "${command} --help")`;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const known = config.options ?? {};
      const { tokens } = parseArgs({ ...config, args, strict: false, tokens: true });
      const unknown = (tokens ?? []).find((t) => t.kind === 'option' && !Object.hasOwn(known, t.name));
      const name = unknown?.kind === 'option' ? unknown.rawName : undefined;
      if (name !== undefined) throw new InvalidConfigError(`unknown option ${JSON.stringify(name)} ${see}`, { field: name }, { cause: err });
    }
    throw new InvalidConfigError(`${(err as Error).message} ${see}`, {}, { cause: err });
  }
}

/**
 * `text` as lines no wider than `width` (words are not split), the first line after `first`,
 * the others after `rest`: for descriptions that come from elsewhere (the driver catalog).
 */
export function wrap(text: string, width: number, first: string, rest: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && (lines.length ? rest : first).length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.map((l, i) => `${i === 0 ? first : rest}${l}\n`).join('');
}

/** Prints a usage text on stdout: what `--help` does. */
export function showUsage(io: Output, usage: string): number {
  io.out(usage);
  return EXIT_OK;
}
