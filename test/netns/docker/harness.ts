/**
 * A real Docker engine (Debian `docker.io`) and a real berthd, both inside the test run's
 * private network + mount namespace (scripts/test.sh runs the network tests under
 * `unshare --net --mount`).
 *
 * What keeps the machine untouched:
 * - dockerd gets its own --data-root, --exec-root, --pidfile, -H socket and a --config-file
 *   whose `deprecated-key-path` keeps it from writing /etc/docker/key.json; no default bridge,
 *   no userland proxy; containers go under a cgroup parent of this run, removed at the end.
 * - dockerd starts the way it does on a host that just booted: IPv4 forwarding off, and its
 *   own firewall on (iptables-nft, in this namespace). It then turns forwarding on and sets
 *   `filter FORWARD` to drop, which berth's networks must live with. Its tables are removed
 *   and forwarding put back as it was when the run ends.
 * - A tmpfs is mounted over /run in the private mount namespace: Docker looks for plugins in
 *   /run/docker/plugins (hard-coded in Docker) and containerd's shims put sockets in
 *   /run/containerd; both then live and die with the test. /run/netns is re-created inside.
 * - Teardown removes every container and network, stops dockerd and berthd, ends any process
 *   still running from this run's directories (found by their command lines, killed by pid),
 *   unmounts /run and removes the scratch directory and cgroups.
 */
import { uplink } from '../nat/fixtures.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { DIST_BIN, runProcess, scratch, type Run } from '../../support/netns.js';

export const DOCKERD = '/usr/sbin/dockerd';
/** Debian's CLI, the engine's own version (another `docker` may be first on PATH). */
export const DOCKER = '/usr/bin/docker';
export const BUSYBOX = '/bin/busybox';
export const IMAGE = 'berth-busybox:test';
export const PLUGIN_DIR = '/run/docker/plugins';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
const ENV_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * What keeps the Docker engine from running here (a missing real part: the tests then FAIL
 * with this message, never pass), or undefined when it can run. Checked by DockerEnv.start().
 */
export function dockerUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'the Docker tests need root: run bash scripts/test.sh as root';
  for (const [path, pkg] of [
    [DOCKERD, 'docker.io'],
    [DOCKER, 'docker.io'],
    [BUSYBOX, 'busybox-static'],
  ] as const) {
    if (!existsSync(path)) return `${path} is missing: install the Debian package ${pkg} (bash scripts/setup.sh does)`;
  }
  if (!isStatic(BUSYBOX)) return `${BUSYBOX} is not the static busybox: install the Debian package busybox-static (bash scripts/setup.sh does)`;
  // Never mount over the machine's /run: only inside the private namespaces of scripts/test.sh.
  if (sameNamespace('mnt') || sameNamespace('net'))
    return 'the Docker tests must run in a private network and mount namespace: run them with bash scripts/test.sh (it runs them under unshare --net --mount)';
  return undefined;
}

function sameNamespace(kind: 'mnt' | 'net'): boolean {
  try {
    return statSync(`/proc/1/ns/${kind}`).ino === statSync(`/proc/self/ns/${kind}`).ino;
  } catch {
    return false;
  }
}

function isStatic(path: string): boolean {
  const out = spawnSync('file', ['-L', path], { encoding: 'utf8' });
  // Without `file`, trust the package name check above.
  return out.status !== 0 || /statically linked|static-pie/.test(out.stdout);
}

/** The Docker engine could not run on this machine: the tests that need it fail with this message. */
export class DockerUnavailableError extends Error {}

export interface Berthd {
  readonly proc: ChildProcess;
  readonly dataDir: string;
  readonly runDir: string;
  readonly apiSocket: string;
  readonly metricsSocket: string;
  readonly logFile: string;
}

export class DockerEnv {
  readonly dir: string;
  private readonly cleanupDir: () => void;
  private dockerd: ChildProcess | undefined;
  private runMounted = false;
  private forwardingBefore: string | undefined;
  berthd: Berthd | undefined;
  readonly cgroupParent: string;

  private constructor() {
    const s = scratch('docker');
    this.dir = s.dir;
    this.cleanupDir = s.cleanup;
    this.cgroupParent = `berth-test-${process.pid}`;
  }

  get dockerSocket(): string {
    return join(this.dir, 'docker.sock');
  }

  /** Starts dockerd and berthd, and imports the busybox image. */
  static async start(): Promise<DockerEnv> {
    const unavailable = dockerUnavailable();
    if (unavailable) throw new DockerUnavailableError(unavailable);
    const env = new DockerEnv();
    try {
      env.mountRun();
      await env.startDockerd();
      await env.importImage();
      await env.startBerthd();
      return env;
    } catch (err) {
      await env.stop();
      throw err;
    }
  }

  /** Runs the docker CLI against this engine. */
  docker(args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
    return withTimeout(
      runProcess(DOCKER, ['-H', `unix://${this.dockerSocket}`, ...args], { PATH: ENV_PATH, DOCKER_CONFIG: join(this.dir, 'cli') }),
      opts.timeoutMs ?? 60_000,
      `docker ${args.join(' ')}`,
    );
  }

  /** Runs the docker CLI and returns stdout; throws with stderr when it fails. */
  async dockerOk(args: string[]): Promise<string> {
    const r = await this.docker(args);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  /** The container's IPv4 address on a network. */
  async containerIp(container: string, network: string): Promise<string> {
    return this.dockerOk(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, container]);
  }

  /** Starts berthd with the plugin directory Docker reads (and `extraArgs`); waits for its sockets. */
  async startBerthd(extraArgs: readonly string[] = []): Promise<Berthd> {
    const dataDir = join(this.dir, 'berthd-data');
    const runDir = join(this.dir, 'berthd-run');
    const apiSocket = join(runDir, 'berthd.sock');
    const metricsSocket = join(this.dir, 'metrics.sock');
    const logFile = join(this.dir, 'berthd.log');
    const proc = spawn(
      process.execPath,
      [
        join(DIST_BIN, 'berthd'),
        '--plugin-dir',
        PLUGIN_DIR,
        '--data-dir',
        dataDir,
        '--run-dir',
        runDir,
        '--metrics-address',
        `unix:${metricsSocket}`,
        '--log-level',
        'debug',
        '--log-file',
        logFile,
        '--docker-socket',
        this.dockerSocket,
        ...extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: ENV_PATH } },
    );
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const berthd = { proc, dataDir, runDir, apiSocket, metricsSocket, logFile };
    this.berthd = berthd;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`berthd exited ${proc.exitCode}: ${stderr}`);
        if (!existsSync(apiSocket) || !existsSync(join(PLUGIN_DIR, 'berth.sock'))) return false;
        // Socket files of a killed berthd may still be there: wait for an answer.
        return (await rawPluginRequest(join(PLUGIN_DIR, 'berth-bridge.sock'), '/Plugin.Activate', '').catch(() => ({ status: 0 }))).status === 200;
      },
      20_000,
      'berthd sockets',
    );
    return berthd;
  }

  /** Stops berthd (SIGTERM) and waits for it to exit. */
  async stopBerthd(): Promise<void> {
    const b = this.berthd;
    this.berthd = undefined;
    if (b) await stopProcess(b.proc, 10_000);
  }

  /** Every link name in the test run's namespace (the Docker host's). */
  links(): string[] {
    const out = spawnSync('/usr/sbin/ip', ['-j', 'link', 'show'], { encoding: 'utf8' });
    return (JSON.parse(out.stdout) as { ifname: string }[]).map((l) => l.ifname);
  }

  /** The nftables ruleset as JSON text (empty when there is none). */
  ruleset(): string {
    return spawnSync('/usr/sbin/nft', ['-j', 'list', 'ruleset'], { encoding: 'utf8' }).stdout;
  }

  /** Keys of berthd's store (decoded file names under kv/). */
  storeKeys(): string[] {
    const kv = join(this.berthd?.dataDir ?? join(this.dir, 'berthd-data'), 'kv');
    if (!existsSync(kv)) return [];
    return readdirSync(kv)
      .filter((n) => !n.endsWith('~tmp'))
      .map((n) => decodeURIComponent(n));
  }

  /** Removes everything the tests made; safe to call more than once. */
  async stop(): Promise<void> {
    if (this.dockerd) {
      const ids = (await this.docker(['ps', '-aq'])).stdout.split(/\s+/).filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids]);
      const nets = (await this.docker(['network', 'ls', '-q', '--filter', 'type=custom'])).stdout.split(/\s+/).filter(Boolean);
      for (const n of nets) await this.docker(['network', 'rm', n]);
    }
    await this.stopBerthd();
    if (this.dockerd) await stopProcess(this.dockerd, 20_000);
    this.dockerd = undefined;
    killLeftovers(this.dir);
    // Docker leaves its chains (and FORWARD's drop) behind when it stops, as on a real host.
    for (const table of ['ip filter', 'ip nat', 'ip6 filter', 'ip6 nat']) spawnSync('/usr/sbin/nft', ['delete', 'table', ...table.split(' ')], { stdio: 'ignore' });
    if (this.forwardingBefore !== undefined) writeFileSync(IP_FORWARD, this.forwardingBefore);
    this.forwardingBefore = undefined;
    if (this.runMounted) {
      spawnSync('umount', ['-R', '/run']);
      this.runMounted = false;
    }
    removeCgroupParent(this.cgroupParent);
    this.cleanupDir();
  }

  private mountRun(): void {
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', '/run'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount tmpfs on /run: ${r.stderr}`);
    this.runMounted = true;
    mkdirSync('/run/netns', { recursive: true });
    mkdirSync(PLUGIN_DIR, { recursive: true });
  }

  /** Stops dockerd (SIGTERM, as systemd does) and starts it again with the same settings. */
  async restartDockerd(): Promise<void> {
    if (this.dockerd) await stopProcess(this.dockerd, 20_000);
    this.dockerd = undefined;
    await this.startDockerd({ boot: false });
  }

  private async startDockerd(opts: { boot: boolean } = { boot: true }): Promise<void> {
    if (opts.boot) {
      // A host that just booted: forwarding is off until Docker turns it on (and drops in FORWARD).
      this.forwardingBefore = readFileSync(IP_FORWARD, 'utf8').trim();
      writeFileSync(IP_FORWARD, '0');
    }
    const log = openSync(join(this.dir, 'dockerd.log'), 'a');
    try {
      this.dockerd = spawn(DOCKERD, dockerdArgs({ dir: this.dir, socket: this.dockerSocket, cgroupParent: this.cgroupParent }), { stdio: ['ignore', log, log], env: { PATH: ENV_PATH } });
    } finally {
      closeSync(log);
    }
    const proc = this.dockerd;
    const logTail = () => readFileSync(join(this.dir, 'dockerd.log'), 'utf8').trim().split('\n').slice(-5).join('\n');
    try {
      await waitFor(
        async () => {
          if (proc.exitCode !== null) throw new Error(`dockerd exited with status ${proc.exitCode}`);
          return (await this.docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).catch(() => ({ code: 1 }))).code === 0;
        },
        30_000,
        'dockerd to answer',
      );
    } catch (err) {
      throw new DockerUnavailableError(`dockerd cannot run here: ${(err as Error).message}; its log ends with:\n${logTail()}`);
    }
  }

  /** An image of nothing but the static busybox and its applet links. */
  private async importImage(): Promise<void> {
    const tar = busyboxImageTar(this.dir);
    await this.dockerOk(['import', tar, IMAGE]);
  }
}

/** Polls `check` every 100 ms until it is true; throws after `ms`. */
export async function waitFor(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * dockerd's arguments for an engine kept to `dir`: its data-root, exec-root, pidfile and a
 * config file there (written now; `deprecated-key-path` keeps it from /etc/docker/key.json),
 * the API on `socket`, no default bridge, no userland proxy, containers under `cgroupParent`.
 */
export function dockerdArgs(opts: { dir: string; socket: string; cgroupParent: string }): string[] {
  const config = join(opts.dir, 'daemon.json');
  writeFileSync(config, JSON.stringify({ 'deprecated-key-path': join(opts.dir, 'key.json') }));
  return [
    '--data-root',
    join(opts.dir, 'data'),
    '--exec-root',
    join(opts.dir, 'exec'),
    '--pidfile',
    join(opts.dir, 'dockerd.pid'),
    '-H',
    `unix://${opts.socket}`,
    '--config-file',
    config,
    '--bridge=none',
    '--userland-proxy=false',
    '--storage-driver=vfs',
    '--cgroup-parent',
    `/${opts.cgroupParent}`,
    '--log-level=warn',
  ];
}

/** The tarball of an image of nothing but the static busybox and its applet links, made under `dir`; `docker import` it as IMAGE. */
export function busyboxImageTar(dir: string): string {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
  for (const applet of ['sh', 'ping', 'ip', 'sleep', 'cat', 'httpd', 'wget', 'nc', 'true', 'ifconfig', 'hostname']) symlinkSync('busybox', join(root, 'bin', applet));
  for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
  const tar = join(dir, 'rootfs.tar');
  const t = spawnSync('tar', ['-C', root, '-cf', tar, '.']);
  if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
  return tar;
}

/** Removes the (empty) cgroups dockerd's --cgroup-parent made, in every hierarchy. */
export function removeCgroupParent(cgroupParent: string): void {
  for (const ctl of safeReaddir('/sys/fs/cgroup')) {
    const path = join('/sys/fs/cgroup', ctl, cgroupParent);
    if (existsSync(path)) spawnSync('rmdir', [path]);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]);
}

async function stopProcess(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Processes whose command line names this run's directory (containerd shims, leftovers): killed by pid. */
export function killLeftovers(dir: string): void {
  for (const pid of safeReaddir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(dir)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A raw HTTP request to a unix socket, as Docker's plugin client sends them. */
export function rawPluginRequest(socketPath: string, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let data = '';
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: plugin\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
    sock.on('data', (d) => (data += d.toString()));
    sock.on('error', reject);
    sock.on('end', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/**
 * Serial tests that need the engine: when it could not start (`t.context.unavailable`, set by
 * a before hook that caught DockerUnavailableError), each FAILS with why; a test never passes
 * without having run.
 */
export function dockerTests<C extends { unavailable?: string }>(test: TestFn<C>): (title: string, fn: (t: ExecutionContext<C>) => Promise<void>) => void {
  return (title, fn) =>
    test.serial(title, async (t) => {
      if (t.context.unavailable) throw new DockerUnavailableError(`the Docker engine did not start, so this test cannot run: ${t.context.unavailable}`);
      await fn(t);
    });
}

/** What a Docker test file's tests share: the engine, and an external client's namespace when asked. */
export interface DockerContext {
  env: DockerEnv;
  unavailable?: string;
  up?: ReturnType<typeof uplink>;
}

/**
 * One Docker engine for the file's tests (and, with `uplinkPrefix`, an external client's
 * namespace on `<uplinkPrefix>.0/24`), stopped after the last test; the test function that
 * fails every test when the engine did not start (never a pass without Docker).
 */
export function dockerFile<C extends DockerContext>(test: TestFn<C>, uplinkPrefix?: string): ReturnType<typeof dockerTests<C>> {
  test.before(async (t) => {
    try {
      t.context.env = await DockerEnv.start();
      if (uplinkPrefix) t.context.up = uplink(uplinkPrefix);
    } catch (err) {
      if (!(err instanceof DockerUnavailableError)) throw err;
      t.context.unavailable = err.message;
    }
  });
  test.after.always(async (t) => {
    t.context.up?.cleanup();
    await t.context.env?.stop();
  });
  return dockerTests(test);
}

/** HTTP GET with busybox wget (its -T crashes the static 1.35 build: a spawn timeout instead), from the host or from namespace `netns`; the body or undefined. */
export function httpGet(url: string, netns?: string): string | undefined {
  const cmd = netns ? ['/usr/sbin/ip', 'netns', 'exec', netns, BUSYBOX] : [BUSYBOX];
  const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'wget', '-q', '-O', '-', url], { encoding: 'utf8', timeout: 3000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** busybox httpd serving `banner` as its index page on port 80. */
export const HTTPD = (banner: string) => ['sh', '-c', `echo ${banner} > /tmp/index.html && exec httpd -f -p 80 -h /tmp`];
