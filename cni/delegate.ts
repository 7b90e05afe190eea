/**
 * Running another CNI plugin (the IPAM plugin named in `ipam.type`) the way the spec's
 * delegation works: same environment, identical stdin, its result or error passed on.
 * berth's own IPAM never goes through here: it runs in-process (see ipam-source.ts).
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { BerthError, EnvError, InvalidConfigError, type ErrorCode } from '../core/errors.js';
import { CNI_CODE } from './error-codes.js';

/** Finds `type` on CNI_PATH. */
export function findPlugin(type: string, path: readonly string[]): string {
  if (type.includes('/')) throw new InvalidConfigError(`ipam.type "${type}" must be a plugin name, not a path`, { field: 'ipam.type', value: type });
  if (path.length === 0) throw new EnvError(`required env variables [CNI_PATH] missing (needed to find the IPAM plugin "${type}")`, { field: 'CNI_PATH' });
  for (const dir of path) {
    const candidate = join(dir, type);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new InvalidConfigError(`IPAM plugin "${type}" was not found in CNI_PATH (${path.join(':')})`, { field: 'ipam.type', value: type });
}

/**
 * Executes a delegate with `command`; returns its parsed stdout (undefined when empty).
 * A delegate's CNI error becomes a BerthError carrying the delegate's message.
 */
export async function execDelegate(opts: { type: string; command: string; path: readonly string[]; env: Readonly<Record<string, string | undefined>>; stdin: Buffer }): Promise<unknown> {
  const bin = findPlugin(opts.type, opts.path);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  env.CNI_COMMAND = opts.command;
  // Asynchronous, so berthd serves other requests while a delegate runs.
  const r = await run(bin, env, opts.stdin);
  if (r.error) throw new BerthError('io', `Cannot run IPAM plugin ${bin}: ${r.error.message}`, { operation: `${opts.command} ${bin}` }, { cause: r.error });
  const stdout = r.stdout.toString('utf8').trim();
  if (r.stderr.length) process.stderr.write(r.stderr);
  if (r.status !== 0) {
    let parsed: { code?: number; msg?: string; details?: string } = {};
    try {
      parsed = JSON.parse(stdout) as typeof parsed;
    } catch {
      parsed = { msg: r.stderr.toString('utf8').trim() || `exit status ${r.status}` };
    }
    throw new BerthError(codeFromCni(parsed.code), `IPAM plugin ${opts.type} failed: ${parsed.msg ?? 'unknown error'}`, {
      operation: `${opts.command} ${bin}`,
      ...(parsed.details ? { details: parsed.details } : {}),
    });
  }
  if (!stdout) return undefined;
  try {
    return JSON.parse(stdout);
  } catch (err) {
    throw new BerthError('decode', `IPAM plugin ${opts.type} printed something that is not JSON`, { operation: `${opts.command} ${bin}` }, { cause: err });
  }
}

function codeFromCni(code: number | undefined): ErrorCode {
  for (const [k, v] of Object.entries(CNI_CODE)) if (v === code) return k as ErrorCode;
  return 'internal';
}

async function run(bin: string, env: Record<string, string>, stdin: Buffer): Promise<{ status: number | null; stdout: Buffer; stderr: Buffer; error?: Error }> {
  // Loaded only when delegating: most pods never need it, and it costs milliseconds to load.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let failed: Error | undefined;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => (failed = e));
    // A delegate that exits without reading its stdin closes the pipe; that is its business.
    child.stdin.on('error', () => undefined);
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err), ...(failed ? { error: failed } : {}) }));
    child.stdin.end(stdin);
  });
}
