/**
 * Test-only helpers for network namespaces and for running CNI plugins the way a runtime
 * does. These spawn `ip` and the plugins: that is fine in tests, never in the product.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..', '..');
export const DIST_BIN = join(ROOT, 'dist', 'bin');
export const REFERENCE_PLUGINS = '/usr/lib/cni';

/** The project's libcni client, built by scripts/setup.sh from test/tools/cniclient; the only one the tests use. */
export function cniclientPath(): string {
  return join(ROOT, '.tools', 'cniclient');
}

/** The libcni client, or an error that says how to build it: a test that needs it fails without it. */
export function requireCniclient(): string {
  const bin = cniclientPath();
  if (!existsSync(bin)) throw new Error(`the libcni test client ${bin} is missing: run bash scripts/setup.sh (it builds test/tools/cniclient into .tools/cniclient)`);
  return bin;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function shOk(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

let counter = 0;
/** Creates `ip netns` namespaces with a unique prefix; returns names and a cleanup. */
export function makeNetns(prefix: string, n = 1): { names: string[]; paths: string[]; cleanup: () => void } {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${prefix}-${process.pid}-${counter++}`;
    sh('ip', ['netns', 'add', name]);
    sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    names.push(name);
  }
  return {
    names,
    paths: names.map((x) => `/run/netns/${x}`),
    cleanup: () => {
      for (const x of names) spawnSync('ip', ['netns', 'del', x], { stdio: 'ignore' });
    },
  };
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A scratch directory for one test: CNI cache, berth data and lock dirs, conflists. */
export function scratch(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `berth-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A CNI bin dir with berth's plugins installed by `berth install`. */
export function installedPlugins(dir: string): string {
  const bin = join(dir, 'bin');
  sh(process.execPath, [join(DIST_BIN, 'berth'), 'install', '--cni-bin-dir', bin]);
  return bin;
}

/** Runs cniclient (libcni) for one container. */
export function cniclient(
  op: 'add' | 'check' | 'del',
  opts: { conflist: object; netns: string; containerId: string; ifname?: string; cniPath: string; cache: string; caps?: object; args?: string; env?: Record<string, string> },
): Promise<Run> {
  const bin = requireCniclient();
  const confFile = join(opts.cache, `conf-${opts.containerId}-${op}-${counter++}.conflist`);
  writeFileSync(confFile, JSON.stringify(opts.conflist));
  const env: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_PATH: opts.cniPath, CNI_CACHE: join(opts.cache, 'cni-cache'), ...(opts.env ?? {}) };
  if (opts.caps) env.CNI_CAPS = JSON.stringify(opts.caps);
  if (opts.args) env.CNI_EXTRA_ARGS = opts.args;
  return runProcess(bin, [op, confFile, opts.netns, opts.containerId, opts.ifname ?? 'eth0'], env);
}

/** Runs a plugin binary directly with CNI_* variables, like a runtime. */
export function runPlugin(bin: string, env: Record<string, string>, stdin: string): Promise<Run> {
  return runProcess(bin, [], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env }, stdin);
}

export function runProcess(bin: string, args: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const p = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(stdin);
  });
}

export function ping(netns: string, address: string, count = 1): boolean {
  const v6 = address.includes(':');
  return shOk('ip', ['netns', 'exec', netns, 'ping', ...(v6 ? ['-6'] : []), '-c', String(count), '-W', '1', '-i', '0.2', address]);
}

/** Names of links in the test run's own namespace (the "host" of the tests). */
export function hostLinks(): string[] {
  return (JSON.parse(sh('ip', ['-j', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
}

export function nftTables(): string[] {
  const text = sh('/usr/sbin/nft', ['-j', 'list', 'tables']).trim();
  if (!text) return [];
  const out = JSON.parse(text) as { nftables: { table?: { family: string; name: string } }[] };
  return out.nftables.filter((x) => x.table).map((x) => `${x.table!.family} ${x.table!.name}`);
}
