/**
 * nftables through libnftables' JSON API, bound with koffi (no `nft` process).
 *
 * `run` hands libnftables one `{"nftables":[...]}` document, which it turns into one netlink
 * batch: the kernel applies all of it or none. With NFT_CTX_OUTPUT_JSON set, libnftables
 * parses input as JSON first (1.0.6 has no input flag), and `list` output is JSON.
 */
import { InvalidConfigError, KernelError, NotFoundError } from '../../core/errors.js';
import { loadKoffi } from '../../core/native.js';
import type { NftCommand } from '../nft-commands.js';
import { closeFd, openNetnsFd, withNetnsFd } from './netns.js';
import type { Nftables } from './ports.js';

const NFT_CTX_DEFAULT = 0;
const NFT_CTX_OUTPUT_JSON = 1 << 4;
const LIBRARY = 'libnftables.so.1';

/** The libnftables calls berth makes; the context is an opaque pointer. */
interface LibNftables {
  ctxNew(flags: number): unknown;
  ctxFree(ctx: unknown): void;
  setOutputFlags(ctx: unknown, flags: number): void;
  bufferOutput(ctx: unknown): number;
  bufferError(ctx: unknown): number;
  outputBuffer(ctx: unknown): string | null;
  errorBuffer(ctx: unknown): string | null;
  runCmd(ctx: unknown, buf: string): number;
}

let lib: LibNftables | undefined;

function libnftables(): LibNftables {
  if (lib) return lib;
  const koffi = loadKoffi();
  let handle;
  try {
    handle = koffi.load(LIBRARY);
  } catch (err) {
    throw new KernelError(
      `Cannot load ${LIBRARY}: the nftables package (libnftables) is required (Debian/Ubuntu: apt-get install nftables or libnftables1)`,
      { operation: `dlopen ${LIBRARY}`, details: err instanceof Error ? err.message : String(err) },
      { cause: err },
    );
  }
  lib = {
    ctxNew: handle.func('void *nft_ctx_new(uint32_t flags)'),
    ctxFree: handle.func('void nft_ctx_free(void *ctx)'),
    setOutputFlags: handle.func('void nft_ctx_output_set_flags(void *ctx, uint32_t flags)'),
    bufferOutput: handle.func('int nft_ctx_buffer_output(void *ctx)'),
    bufferError: handle.func('int nft_ctx_buffer_error(void *ctx)'),
    outputBuffer: handle.func('const char *nft_ctx_get_output_buffer(void *ctx)'),
    errorBuffer: handle.func('const char *nft_ctx_get_error_buffer(void *ctx)'),
    runCmd: handle.func('int nft_run_cmd_from_buffer(void *ctx, const char *buf)'),
  };
  return lib;
}

/** "add table inet berth, add chain inet berth fwd (+3 more)" for error messages. */
export function summarizeCommands(commands: readonly NftCommand[]): string {
  const words = commands.slice(0, 3).map((cmd) => {
    // Read defensively: the message about a refused batch must never throw itself.
    const [verb, body] = Object.entries(cmd)[0] ?? ['?', undefined];
    if (typeof body !== 'object' || body === null) return verb;
    const [kind, obj] = Object.entries(body)[0] ?? ['?', undefined];
    const o = (typeof obj === 'object' && obj !== null ? obj : {}) as { family?: unknown; table?: unknown; name?: unknown; chain?: unknown };
    return [verb, kind, o.family, o.table, o.name ?? o.chain].filter((w) => typeof w === 'string').join(' ');
  });
  const more = commands.length > 3 ? ` (+${commands.length - 3} more)` : '';
  return `${words.join(', ')}${more}`;
}

/**
 * nft's error text on one line, without what only repeats the input: the location prefix
 * on JSON input ("internal:0:0-0: "), the echoed JSON document and the caret line under it.
 */
function nftErrorText(text: string): string {
  return text
    .split('\n')
    .map((l) => l.replace(/^internal:\d+:\d+-\d+: /, '').trim())
    .filter((l) => l !== '' && !l.startsWith('{') && !/^[\^~ ]+$/.test(l))
    .join('; ');
}

/**
 * One libnftables context. A context opens its netfilter socket when created, in the
 * creating thread's namespace; for another namespace the context is created, and every call
 * is made, inside it, which holds whether or not a libnftables version opens lazily.
 */
class LibNftablesContext implements Nftables {
  #ctx: unknown;
  readonly #netns: { readonly fd: number; readonly path: string } | undefined;
  readonly #onClose: () => void;

  constructor(netns: { readonly fd: number; readonly path: string } | undefined, onClose: () => void) {
    this.#netns = netns;
    this.#onClose = onClose;
    const l = libnftables();
    this.#ctx = this.#inNamespace(() => l.ctxNew(NFT_CTX_DEFAULT));
    if (!this.#ctx) throw new KernelError('Cannot create an nftables context: nft_ctx_new failed', { operation: 'nft_ctx_new' });
    l.setOutputFlags(this.#ctx, NFT_CTX_OUTPUT_JSON);
    l.bufferOutput(this.#ctx);
    l.bufferError(this.#ctx);
  }

  #inNamespace<T>(fn: () => T): T {
    return this.#netns ? withNetnsFd(this.#netns.fd, this.#netns.path, fn) : fn();
  }

  /** Runs one nft input and collects both buffers, leaving them empty for the next command. */
  #exec(input: string, operation: string): { ok: boolean; output: string; error: string } {
    if (!this.#ctx) throw new KernelError(`Cannot run ${operation}: the nftables context is closed`, { operation });
    const l = libnftables();
    const rc = this.#inNamespace(() => l.runCmd(this.#ctx, input));
    // Reading a buffer also rewinds it, so the next command starts clean.
    const output = l.outputBuffer(this.#ctx) ?? '';
    const error = l.errorBuffer(this.#ctx) ?? '';
    return { ok: rc === 0, output, error };
  }

  /** `nft -j -f -` of `{"nftables":[metainfo, ...commands]}`: one atomic transaction. */
  run(commands: readonly NftCommand[]): void {
    const input = JSON.stringify({ nftables: [{ metainfo: { json_schema_version: 1 } }, ...commands] });
    const operation = 'nft -j -f -';
    const { ok, error } = this.#exec(input, operation);
    if (ok) return;
    const text = nftErrorText(error) || 'libnftables reported a failure without a message';
    throw new KernelError(`Cannot apply nftables transaction [${summarizeCommands(commands)}] (${operation}): ${text}`, {
      operation,
      details: error.trim(),
    });
  }

  /** `nft -j list WHAT` (`ruleset`, `table inet berth`, `set inet berth pods`...): the `nftables` array. */
  list(what: string): object[] {
    // One command only: the text goes to nft's parser, where ';' or a newline would start another.
    if (/[;\n\r{}#]/.test(what)) {
      throw new InvalidConfigError(`Cannot list nftables objects ${JSON.stringify(what)}: expected one object such as "table inet berth"`, { field: 'what', value: what });
    }
    const operation = `nft -j list ${what}`;
    const { ok, output, error } = this.#exec(`list ${what}`, operation);
    if (!ok) {
      const text = `Cannot list nftables ${what} (${operation}): ${nftErrorText(error) || 'unknown error'}`;
      // libnftables reports only text; ENOENT's is the one that means "no such object".
      if (/No such file or directory/.test(error)) throw new NotFoundError(text, { operation, errno: 2, details: error.trim() });
      throw new KernelError(text, { operation, details: error.trim() });
    }
    if (output.trim() === '') return [];
    let doc: unknown;
    try {
      doc = JSON.parse(output);
    } catch (err) {
      throw new KernelError(`Cannot list nftables ${what} (${operation}): libnftables printed invalid JSON`, { operation }, { cause: err });
    }
    const items = (doc as { nftables?: unknown }).nftables;
    return Array.isArray(items) ? (items as object[]) : [];
  }

  /** Frees the context (and the namespace fd). Closing twice is harmless. */
  close(): void {
    if (!this.#ctx) return;
    libnftables().ctxFree(this.#ctx);
    this.#ctx = undefined;
    if (this.#netns) closeFd(this.#netns.fd);
    this.#onClose();
  }
}

let shared: LibNftablesContext | undefined;

/**
 * nftables of the current namespace (one context per process, created on first use), or of
 * the network namespace at `netnsPath` (a context of its own; close it when done).
 * KernelError when libnftables.so.1 is not installed.
 */
export function openNftables(netnsPath?: string): Nftables {
  if (netnsPath === undefined) {
    shared ??= new LibNftablesContext(undefined, () => {
      shared = undefined;
    });
    return shared;
  }
  const fd = openNetnsFd(netnsPath);
  try {
    return new LibNftablesContext({ fd, path: netnsPath }, () => undefined);
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}
