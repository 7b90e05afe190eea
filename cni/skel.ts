/**
 * The CNI protocol edge: environment + stdin in, result or error JSON out.
 * Handlers receive a typed request and never see process globals, so they can be
 * unit-tested without a process. Spec: CNI 1.1.0 §"Parameters", §"Result", §"Error".
 */
import { statSync } from 'node:fs';
import { BerthError, DecodeError, EnvError, InvalidConfigError, InvalidNetnsError, VersionError, asBerthError } from '../core/errors.js';
import { parseCniArgs, type CniArgs } from './cni-args.js';
import { mark } from '../core/trace.js';
import { toCniError } from './error-codes.js';
import { shouldLog, type OperationRecord } from './plugin-log.js';
import { parseResult, renderResult, type Result } from './result.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, atLeast, isSupported, parseVersion } from './version.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'VERSION' | 'GC';

/** Everything a command handler gets, decoded and validated. */
export interface CniRequest {
  readonly command: CniCommand;
  /** Empty for STATUS and GC. */
  readonly containerId: string;
  /** Empty when the runtime gave none (allowed for DEL). */
  readonly netns: string;
  readonly ifname: string;
  readonly args: CniArgs;
  /** CNI_PATH split on ':'. */
  readonly path: readonly string[];
  /** The version selected by the runtime (the config's `cniVersion`). */
  readonly cniVersion: string;
  /** The network name. */
  readonly name: string;
  /** The whole plugin configuration object, as received. */
  readonly conf: Readonly<Record<string, unknown>>;
  readonly runtimeConfig: Readonly<Record<string, unknown>>;
  readonly prevResult?: Result;
  /** stdin bytes, for delegating to another plugin with the identical input. */
  readonly stdin: Buffer;
  /** The environment, for delegation. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** GC: the attachments still in use. */
  readonly validAttachments?: readonly { containerId: string; ifname: string }[];
}

export interface PluginHandlers {
  /** The executable's name, for logs. */
  readonly name: string;
  /** Shown when the binary is run without CNI_COMMAND. */
  readonly about: string;
  add(req: CniRequest): Promise<Result>;
  del(req: CniRequest): Promise<void>;
  check(req: CniRequest): Promise<void>;
  status(req: CniRequest): Promise<void>;
  gc(req: CniRequest): Promise<void>;
}

export interface PluginIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readStdin(): Buffer;
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  /** Records an operation in the log (a JSON line); absent means no logging. */
  log?(record: OperationRecord): void;
}

const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'VERSION', 'GC'];
const REQUIRED_ENV: Readonly<Record<CniCommand, readonly string[]>> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME'],
  STATUS: [],
  VERSION: [],
  GC: [],
};
/** Oldest config version in which each command exists. */
const MIN_VERSION: Partial<Record<CniCommand, string>> = { CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' };
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Runs one plugin invocation; returns the process exit code. */
export async function runPlugin(handlers: PluginHandlers, io: PluginIo): Promise<number> {
  // hrtime, not performance.now(): the `performance` global loads perf_hooks (~3 ms).
  const started = process.hrtime.bigint();
  let failure: BerthError | undefined;
  try {
    return await dispatch(handlers, io, (e) => (failure = e));
  } finally {
    if (io.log && shouldLog(io.env, failure !== undefined)) {
      const env = io.env;
      io.log({
        plugin: handlers.name,
        command: env.CNI_COMMAND ?? '',
        ...(env.CNI_CONTAINERID ? { containerId: env.CNI_CONTAINERID } : {}),
        ...(env.CNI_IFNAME ? { ifname: env.CNI_IFNAME } : {}),
        ...(env.CNI_NETNS ? { netns: env.CNI_NETNS } : {}),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        ...(failure ? { error: failure } : {}),
      });
    }
  }
}

async function dispatch(handlers: PluginHandlers, io: PluginIo, onError: (e: BerthError) => void): Promise<number> {
  let version: string = CURRENT_VERSION;
  try {
    const command = io.env.CNI_COMMAND;
    if (command === undefined || command === '') {
      io.writeStderr(`${handlers.about}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n`);
      throw new EnvError('required env variables [CNI_COMMAND] missing', { field: 'CNI_COMMAND' });
    }
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new EnvError(`unknown CNI_COMMAND: ${command}`, { field: 'CNI_COMMAND', value: command });
    }
    const cmd = command as CniCommand;
    if (cmd === 'VERSION') {
      io.writeStdout(JSON.stringify(versionReply(io)) + '\n');
      return 0;
    }
    mark('bootstrap');
    const req = decodeRequest(cmd, io);
    mark('decode');
    version = req.cniVersion;
    switch (cmd) {
      case 'ADD': {
        const result = await handlers.add(req);
        io.writeStdout(JSON.stringify(renderResult(result, version)) + '\n');
        mark('result');
        return 0;
      }
      case 'DEL':
        await handlers.del(req);
        return 0;
      case 'CHECK':
        await handlers.check(req);
        return 0;
      case 'STATUS':
        await handlers.status(req);
        return 0;
      case 'GC':
        await handlers.gc(req);
        return 0;
    }
  } catch (err) {
    const e = asBerthError(err);
    onError(e);
    io.writeStdout(JSON.stringify(toCniError(e, version)) + '\n');
    if (!(err instanceof BerthError) && err instanceof Error && err.stack) io.writeStderr(`${err.stack}\n`);
    return 1;
  }
  return 1;
}

function versionReply(io: PluginIo): { cniVersion: string; supportedVersions: string[] } {
  // The spec asks to echo the caller's cniVersion; fall back to ours when stdin is empty or bad.
  let cniVersion: string = CURRENT_VERSION;
  try {
    const parsed = JSON.parse(io.readStdin().toString('utf8')) as { cniVersion?: unknown };
    if (typeof parsed.cniVersion === 'string' && isSupported(parsed.cniVersion)) cniVersion = parsed.cniVersion;
  } catch {
    // An unreadable VERSION stdin is not an error: libcni's probe sends a minimal one.
  }
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

function decodeRequest(command: CniCommand, io: PluginIo): CniRequest {
  const env = io.env;
  const missing = REQUIRED_ENV[command].filter((k) => !env[k]);
  if (missing.length) throw new EnvError(`required env variables [${missing.join(' ')}] missing`, { field: missing.join(',') });

  let stdin: Buffer;
  try {
    stdin = io.readStdin();
  } catch (err) {
    throw new BerthError('io', `Cannot read the network configuration from stdin: ${(err as Error).message}`, {}, { cause: err });
  }
  let conf: unknown;
  try {
    conf = JSON.parse(stdin.toString('utf8'));
  } catch (err) {
    throw new DecodeError(`Cannot parse the network configuration on stdin: ${(err as Error).message}`, { field: 'stdin' }, { cause: err });
  }
  if (conf === null || typeof conf !== 'object' || Array.isArray(conf)) throw new DecodeError('The network configuration on stdin must be a JSON object');
  const c = conf as Record<string, unknown>;

  const cniVersion = c.cniVersion === undefined || c.cniVersion === '' ? '0.1.0' : c.cniVersion;
  if (typeof cniVersion !== 'string') throw new DecodeError('cniVersion must be a string', { field: 'cniVersion' });
  parseVersion(cniVersion);
  if (!isSupported(cniVersion)) {
    throw new VersionError('incompatible CNI versions', {
      field: 'cniVersion',
      value: cniVersion,
      details: `config is "${cniVersion}", plugin supports [${SUPPORTED_VERSIONS.join(' ')}]`,
    });
  }
  const min = MIN_VERSION[command];
  if (min && !atLeast(cniVersion, min)) {
    throw new VersionError(`config version "${cniVersion}" does not allow ${command}: it needs ${min} or later`, { field: 'cniVersion', value: cniVersion });
  }

  const name = c.name;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InvalidConfigError(`network name ${JSON.stringify(name ?? '')} is invalid: it must start with a letter or digit and hold only letters, digits, "_", "." and "-"`, {
      field: 'name',
      value: String(name),
    });
  }
  if (typeof c.type !== 'string' || c.type === '') throw new InvalidConfigError('type must name the plugin', { field: 'type' });

  const containerId = env.CNI_CONTAINERID ?? '';
  if (containerId && !NAME_RE.test(containerId)) {
    throw new EnvError(`CNI_CONTAINERID ${JSON.stringify(containerId)} is invalid: it must start with a letter or digit and hold only letters, digits, "_", "." and "-"`, {
      field: 'CNI_CONTAINERID',
      value: containerId,
    });
  }
  const ifname = env.CNI_IFNAME ?? '';
  if (ifname) validateIfname(ifname);
  const netns = env.CNI_NETNS ?? '';
  if ((command === 'ADD' || command === 'CHECK') && netns && isOwnNetns(netns) && !truthy(env.CNI_NETNS_OVERRIDE)) {
    throw new InvalidNetnsError(`CNI_NETNS ${netns} is the plugin's own network namespace; refusing to configure the host (set CNI_NETNS_OVERRIDE=1 to force)`, { field: 'CNI_NETNS', value: netns });
  }

  const runtimeConfig = c.runtimeConfig;
  if (runtimeConfig !== undefined && (runtimeConfig === null || typeof runtimeConfig !== 'object' || Array.isArray(runtimeConfig))) {
    throw new DecodeError('runtimeConfig must be an object', { field: 'runtimeConfig' });
  }
  const req: CniRequest = {
    command,
    containerId,
    netns,
    ifname,
    args: parseCniArgs(env.CNI_ARGS),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
    cniVersion,
    name,
    conf: c,
    runtimeConfig: (runtimeConfig as Record<string, unknown> | undefined) ?? {},
    stdin,
    env,
    ...(c.prevResult !== undefined && c.prevResult !== null ? { prevResult: parseResult(c.prevResult) } : {}),
    ...(command === 'GC' ? { validAttachments: parseAttachments(c) } : {}),
  };
  return req;
}

/** Interface-name rules of the reference runtime library (ValidateInterfaceName). */
function validateIfname(name: string): void {
  const bad = (why: string) => new EnvError(`CNI_IFNAME ${JSON.stringify(name)} is invalid: ${why}`, { field: 'CNI_IFNAME', value: name });
  if (Buffer.byteLength(name) > 15) throw bad('longer than 15 bytes');
  if (name === '.' || name === '..') throw bad('"." and ".." are not interface names');
  if (/[/:\s]/.test(name)) throw bad('it may not contain "/", ":" or whitespace');
}

function parseAttachments(c: Record<string, unknown>): { containerId: string; ifname: string }[] {
  // libcni sends both keys (the spec renamed the first to the second); accept either.
  const raw = c['cni.dev/valid-attachments'] ?? c['cni.dev/attachments'] ?? [];
  if (!Array.isArray(raw)) throw new DecodeError('cni.dev/valid-attachments must be an array', { field: 'cni.dev/valid-attachments' });
  return raw.map((a, i) => {
    const o = a as Record<string, unknown> | null;
    if (!o || typeof o.containerID !== 'string' || typeof o.ifname !== 'string') {
      throw new DecodeError(`cni.dev/valid-attachments[${i}] must have string containerID and ifname`, { field: `cni.dev/valid-attachments[${i}]` });
    }
    return { containerId: o.containerID, ifname: o.ifname };
  });
}

function isOwnNetns(path: string): boolean {
  try {
    const a = statSync(path);
    const b = statSync('/proc/self/ns/net');
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

function truthy(v: string | undefined): boolean {
  return v === '1' || v?.toLowerCase() === 'true';
}
