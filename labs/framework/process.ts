/**
 * Running the commands of a lab: each to its end with its output kept, under a clean
 * environment (PATH and what the lab adds), never through a shell.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly stdin?: string;
  /** Killed (SIGKILL) after this long; the result then says so. @default 60000 */
  readonly timeoutMs?: number;
}

export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs argv[0] with the rest as arguments; never throws for the command's status. */
export function runCommand(argv: readonly string[], opts: RunOptions = {}): Promise<Ran> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.resolve({ code: 127, stdout: '', stderr: 'empty command' });
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { PATH: LAB_PATH, ...opts.env }, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const why = late ? `\n(killed after ${opts.timeoutMs ?? 60_000} ms)` : '';
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr: `${stderr}${why}` });
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin);
    }
  });
}

/** runCommand, stdout trimmed; throws with the command and its stderr when it fails (set-up steps). */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await runCommand(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout.trim();
}

export function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

/** Signals `proc`, waits for it, and SIGKILLs it when it is still there after `graceMs`. */
export async function endProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
  if (hasExited(proc)) return;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until true; throws naming `what` after `ms`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}
