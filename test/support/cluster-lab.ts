/**
 * A cluster lab: several berth "hosts" on one machine, for the tests of what spans hosts
 * (the overlay driver, the etcd store). Used only inside the test run's private namespaces.
 *
 *   fabric bridge fab<prefix> (.1 of the underlay, in the test run's namespace; etcd listens here)
 *     ├─ <prefix>-h1 ── eth0 .11 in netns <prefix>-h1   (host h1: its own /run/berth, /var/lib/berth)
 *     ├─ <prefix>-h2 ── eth0 .12 in netns <prefix>-h2
 *     └─ ...
 *
 * Each host is a network namespace plus a mount namespace held by a "keeper" process, so every
 * berthd in the lab has its own run and state directories at the paths berth uses on a real
 * node. Pods are plain network namespaces made in the test run's namespace; a host's CNI
 * requests (cniclient, run inside the host) attach them to that host.
 *
 * With `docker: true` each host can also run its own Docker engine (host.startDockerd(), the
 * pieces of test/netns/docker/harness.ts): the host then has a /run of its own (a tmpfs, with
 * the run's /run/netns and its own /run/berth bound in), so Docker's plugin directory
 * /run/docker/plugins and containerd's sockets are the host's; and it sees the machine's
 * cgroups (its own sysfs would hide them), where its engine puts containers under a parent of
 * this lab. A berthd started with `{ docker: true }` serves that engine.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DOCKER,
  DOCKERD,
  DockerUnavailableError,
  IMAGE,
  PLUGIN_DIR,
  busyboxImageTar,
  dockerUnavailable,
  dockerdArgs,
  killLeftovers,
  rawPluginRequest,
  removeCgroupParent,
} from '../netns/docker/harness.js';
import { assertPrivateNetns, freePort } from '../netns/store/etcd-server.js';
import { DIST_BIN, REFERENCE_PLUGINS, hostLinks, installedPlugins, requireCniclient, sh, shOk, type Run } from './netns.js';

export interface ClusterLabOptions {
  /** How many hosts: h1 ... hN. */
  readonly hosts: number;
  /** The underlay, an IPv4 subnet; the fabric is .1, host i is .(10+i). @default 192.168.77.0/24 */
  readonly subnet?: string;
  /** Run etcd on the fabric address. @default true */
  readonly etcd?: boolean;
  /** Names the lab's links and namespaces: 1-8 of [a-z0-9]. @default a tag of this process */
  readonly prefix?: string;
  /** Hosts that can run a Docker engine each (own /run, the machine's cgroups): see the header. @default false */
  readonly docker?: boolean;
}

export interface StartBerthdOptions {
  /** Serve the host's Docker engine (host.startDockerd() first): plugin sockets in the host's /run/docker/plugins. @default false */
  readonly docker?: boolean;
}

/** A Docker engine running inside a lab host. */
export interface LabDockerd {
  readonly proc: ChildProcess;
  /** Its API socket (a path the test process sees too). */
  readonly socket: string;
  /** Its data-root, exec-root, log and the CLI's config are under here. */
  readonly dir: string;
  /** The docker CLI inside the host, against this engine; never throws for the command's status. */
  docker(args: string[], opts?: { timeoutMs?: number }): Promise<Run>;
  /** docker(), stdout trimmed; throws with stderr when the command fails. */
  dockerOk(args: string[]): Promise<string>;
  /** The end of its log (dockerd.log). */
  log(): string;
}

export interface ExecOptions {
  /** Added to the minimal environment (PATH only): nothing of the test process leaks in. */
  readonly env?: Record<string, string>;
  readonly stdin?: string;
}

export interface CniRequest {
  readonly conflist: object;
  readonly containerId: string;
  /** @default eth0 */
  readonly ifname?: string;
  /** The pod's netns path (host.addPod's answer). */
  readonly netns: string;
}

/** A berthd running inside a lab host. */
export interface LabBerthd {
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Signals berthd and waits for it to exit (SIGKILL after 15 s). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** stop('SIGKILL'): no clean shutdown. */
  kill(): Promise<void>;
  /** Its log file (/run/berth/berthd.log inside the host). */
  log(): string;
}

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
/** Debian's systemd (50-default.conf) turns loose reverse-path filtering on everywhere; a lab host is no kinder. */
const LOOSE_RP_FILTER = 'echo 2 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 2 > /proc/sys/net/ipv4/conf/default/rp_filter';
const DEFAULT_SUBNET = '192.168.77.0/24';

/** berthd on a lab host: CNI only, everything under the host's own /run/berth. */
const BERTHD_ARGS = [
  '--no-docker',
  '--no-policy',
  '--metrics-address',
  'none',
  '--firewall-check-interval',
  '0',
  '--docker-socket',
  '/run/berth/no-docker.sock',
  '--log-file',
  '/run/berth/berthd.log',
];

/** The directories each host has a copy of: a folder of the lab's scratch dir bound over the real path. */
const HOST_MOUNTS = { run: '/run/berth', lib: '/var/lib/berth' } as const;
const HOST_BINDS = Object.entries(HOST_MOUNTS).map(([dir, path]) => `mount --bind "$1/${dir}" ${path}`);

/**
 * The keeper's script, run as `unshare --mount --propagation slave -- nsenter --net=NS -- sh -c
 * KEEPER_SCRIPT keeper HOSTDIR`. Why so:
 * - slave, not private: `ip netns add` makes /run/netns a shared mount in the test run's
 *   namespace, so pod namespaces added later still appear in the host's /run/netns (cniclient
 *   opens them there), and nothing mounted inside the host propagates back out;
 * - sysfs is mounted again from inside the host's network namespace, as `ip netns exec` does,
 *   so /sys/class/net lists the host's links;
 * - it reads its stdin until EOF: when the test process ends, however it ends, the pipe closes
 *   and the keeper goes.
 */
const KEEPER_SCRIPT = ['set -e', ...HOST_BINDS, 'mount -t sysfs sysfs /sys', 'echo ready', 'exec cat >/dev/null'].join('\n');

/**
 * The keeper's script of a host that can run Docker (`docker: true`). Before its own /run (a
 * tmpfs) hides the run's, /run/netns is bound aside (recursively: the host's own namespace file
 * is a mount in it; a bind of a slave is a slave of the same master, so pods added later still
 * appear) and moved back on top; the same for the machine's cgroups around the new sysfs.
 */
const DOCKER_KEEPER_SCRIPT = [
  'set -e',
  'mkdir -p "$1/.mnt/netns" "$1/.mnt/cgroup"',
  'mount --rbind /run/netns "$1/.mnt/netns"',
  'mount --rbind /sys/fs/cgroup "$1/.mnt/cgroup"',
  'mount -t tmpfs -o mode=755 tmpfs /run',
  `mkdir -p /run/netns ${HOST_MOUNTS.run} ${PLUGIN_DIR}`,
  'mount --move "$1/.mnt/netns" /run/netns',
  ...HOST_BINDS,
  'mount -t sysfs sysfs /sys',
  'mount --move "$1/.mnt/cgroup" /sys/fs/cgroup',
  'echo ready',
  'exec cat >/dev/null',
].join('\n');

/**
 * What labs started and made, for a test process that exits without lab.stop() (an uncaught
 * exception skips teardowns): its processes are killed and scratch directories removed then.
 * Links and namespaces go with the run's private network namespace.
 */
const live = { procs: new Set<ChildProcess>(), dirs: new Set<string>() };

function onExit(): void {
  for (const p of live.procs) p.kill('SIGKILL');
  // containerd's shims of the hosts' engines: their command lines name the lab's directory.
  for (const dir of live.dirs) killLeftovers(dir);
  for (const dir of live.dirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

let onExitInstalled = false;

function installOnExit(): void {
  if (onExitInstalled) return;
  onExitInstalled = true;
  process.once('exit', onExit);
}

function track(proc: ChildProcess): ChildProcess {
  installOnExit();
  live.procs.add(proc);
  proc.once('exit', () => live.procs.delete(proc));
  return proc;
}

function hasExited(proc: ChildProcess): boolean {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function exited(proc: ChildProcess): Promise<void> {
  return hasExited(proc) ? Promise.resolve() : new Promise((resolve) => proc.once('exit', () => resolve()));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mkdirOf(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `p`, or a rejection naming `what` after `ms`. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)));
  return Promise.race([p.finally(() => clearTimeout(timer)), late]);
}

/** Signals `proc` and waits for it; SIGKILL if it is still there after `graceMs`. */
async function end(proc: ChildProcess, signal: NodeJS.Signals, graceMs = 15_000): Promise<void> {
  if (hasExited(proc)) return;
  proc.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)));
  const gone = await Promise.race([exited(proc).then(() => true), late]);
  // A pending timer would hold the test process open for the whole grace period.
  clearTimeout(timer);
  if (!gone) {
    proc.kill('SIGKILL');
    await exited(proc);
  }
}

/**
 * Runs a command to its end. Unlike runProcess (netns.ts), stdin is only a pipe when there is
 * something to write, and a command that exits before reading it is no EPIPE for the test.
 */
function run(cmd: string, args: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    if (p.stdin) {
      p.stdin.on('error', () => undefined);
      p.stdin.end(stdin);
    }
  });
}

/** ip(8) in the test run's namespace; throws with ip's message. */
function ip(...args: string[]): void {
  sh('ip', args);
}

/** The underlay's addresses. */
export class Underlay {
  readonly cidr: string;
  readonly length: number;
  readonly #base: number;

  constructor(cidr: string) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
    const octets = m ? m.slice(1, 5).map(Number) : [];
    const length = Number(m?.[5]);
    if (!m || octets.some((o) => o > 255) || length < 8 || length > 28) throw new Error(`cluster lab: subnet ${cidr} is not an IPv4 subnet from /8 to /28`);
    const mask = (0xffffffff << (32 - length)) >>> 0;
    this.cidr = cidr;
    this.length = length;
    this.#base = (octets.reduce((a, o) => a * 256 + o, 0) & mask) >>> 0;
  }

  /** How many hosts fit: .11 up to the last address before broadcast. */
  get maxHosts(): number {
    return 2 ** (32 - this.length) - 12;
  }

  /** The n-th address of the subnet, dotted. */
  at(n: number): string {
    const v = this.#base + n;
    return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join('.');
  }
}

let labCounter = 0;

function defaultPrefix(): string {
  return `l${(process.pid % 36 ** 4).toString(36)}${(labCounter++).toString(36)}`;
}

/** Throws unless this process's mount namespace is not its ancestors' (the run's `unshare --mount`). */
function assertPrivateMountns(): void {
  const own = readlinkSync('/proc/self/ns/mnt');
  let pid = process.ppid;
  while (pid > 1) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/mnt`) !== own) break;
      pid = Number(
        readFileSync(`/proc/${pid}/stat`, 'utf8')
          .replace(/^.*\) /s, '')
          .split(' ')[1],
      );
    } catch {
      pid = 1;
    }
  }
  if (pid <= 1) throw new Error('cluster lab: run inside a private mount namespace (unshare --net --mount ... scripts/in-private-netns.sh)');
  // Pod and host namespaces are files under /run/netns: it must be the run's own tmpfs.
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  if (!mounts.split('\n').some((l) => l.split(' ')[4] === '/run/netns')) throw new Error('cluster lab: /run/netns is not a mount of this run (scripts/in-private-netns.sh makes it)');
}

/**
 * The mount points the hosts bind over, created when missing. mkdir is not a mount: in the
 * run's private mount namespace it still makes an (empty) directory on the machine's disk.
 * They are left in place: removing one would detach another run's mounts on it.
 */
function ensureMountPoints(): void {
  for (const path of Object.values(HOST_MOUNTS)) if (!existsSync(path)) mkdirSync(path, { recursive: true });
}

/** etcd on the fabric address; stop() and start() keep its ports and data (fault tests). */
export class LabEtcd {
  readonly url: string;
  readonly dataDir: string;
  readonly #peerUrl: string;
  #child: ChildProcess | undefined;
  #log = '';

  private constructor(address: string, clientPort: number, peerPort: number, dataDir: string) {
    this.url = `http://${address}:${clientPort}`;
    this.#peerUrl = `http://${address}:${peerPort}`;
    this.dataDir = dataDir;
  }

  /** A fresh single member listening on `address`. */
  static async launch(address: string, dataDir: string): Promise<LabEtcd> {
    const client = await freePort();
    let peer = await freePort();
    while (peer === client) peer = await freePort();
    const etcd = new LabEtcd(address, client, peer, dataDir);
    await etcd.start();
    return etcd;
  }

  get running(): boolean {
    return this.#child !== undefined && !hasExited(this.#child);
  }

  /** Starts the member (again) and waits until it serves; nothing if it runs. */
  async start(): Promise<void> {
    if (this.running) return;
    const name = 'berth-lab';
    const args = [
      `--name=${name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${this.url}`,
      `--advertise-client-urls=${this.url}`,
      `--listen-peer-urls=${this.#peerUrl}`,
      `--initial-advertise-peer-urls=${this.#peerUrl}`,
      `--initial-cluster=${name}=${this.#peerUrl}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-level=error',
    ];
    this.#log = '';
    const child = track(spawn('/usr/bin/etcd', args, { stdio: ['ignore', 'ignore', 'pipe'], env: ENV }));
    this.#child = child;
    child.stderr?.on('data', (chunk: Buffer) => (this.#log = (this.#log + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !hasExited(child)) {
      if (await this.#healthy()) return;
      await sleep(50);
    }
    await this.stop();
    throw new Error(`cluster lab: etcd did not come up on ${this.url}: ${this.#log}`);
  }

  /** Stops the member (SIGKILL by default: no goodbye to its clients). */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child) await end(child, signal);
  }

  /** Stops it and removes its data. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async #healthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
      return ((await res.json()) as { health?: string }).health === 'true';
    } catch {
      return false;
    }
  }
}

/** One host of the lab: a network namespace, and a mount namespace held by its keeper. */
export class LabHost {
  /** h1, h2, ... */
  readonly name: string;
  readonly index: number;
  /** Its underlay address (eth0), without prefix length. */
  readonly address: string;
  /** Its `ip netns` name (the same name is its fabric port in the test run's namespace). */
  readonly netns: string;
  /** Its port on the fabric bridge: the veth end in the test run's namespace. */
  readonly port: string;
  /** Scratch: run/ is its /run/berth, lib/ its /var/lib/berth; conflists and the CNI cache. */
  readonly dir: string;
  readonly #lab: ClusterLab;
  #keeper: ChildProcess | undefined;
  /** What create() made, so that destroy() removes only that (never a same-named link of someone else). */
  #made = { netns: false, port: false };
  readonly #berthds = new Set<LabBerthd>();
  #dockerd: LabDockerd | undefined;
  #confs = 0;

  constructor(lab: ClusterLab, index: number) {
    this.#lab = lab;
    this.index = index;
    this.name = `h${index}`;
    this.address = lab.underlay.at(10 + index);
    this.netns = `${lab.prefix}-h${index}`;
    this.port = this.netns;
    this.dir = join(lab.dir, this.name);
  }

  get netnsPath(): string {
    return `/run/netns/${this.netns}`;
  }

  /** The keeper's pid: `nsenter --target` it to enter the host. */
  get keeperPid(): number {
    const pid = this.#keeper?.pid;
    if (pid === undefined || hasExited(this.#keeper!)) throw new Error(`cluster lab: host ${this.name} is not running`);
    return pid;
  }

  /** Makes the namespace, its eth0 on the fabric, and the keeper. Called once, by the lab. */
  async create(): Promise<void> {
    const lab = this.#lab;
    ip('netns', 'add', this.netns);
    this.#made.netns = true;
    ip('-n', this.netns, 'link', 'set', 'lo', 'up');
    ip('link', 'add', this.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.netns);
    this.#made.port = true;
    ip('link', 'set', this.port, 'master', lab.fabric, 'up');
    ip('-n', this.netns, 'address', 'add', `${this.address}/${lab.underlay.length}`, 'dev', 'eth0');
    ip('-n', this.netns, 'link', 'set', 'eth0', 'up');
    ip('-n', this.netns, 'route', 'add', 'default', 'via', lab.gateway);
    // A node forwards for its pods. Loose reverse-path filtering, as Debian's systemd sets it.
    sh('ip', ['netns', 'exec', this.netns, 'sh', '-c', `echo 1 > /proc/sys/net/ipv4/ip_forward; ${LOOSE_RP_FILTER}`]);
    for (const dir of Object.keys(HOST_MOUNTS)) mkdirSync(join(this.dir, dir), { recursive: true });
    this.#keeper = await startKeeper(this.netnsPath, this.dir, lab.docker);
  }

  /** Runs a command inside the host (its mount and network namespaces) to the end. */
  async exec(cmd: string, args: string[] = [], opts: ExecOptions = {}): Promise<Run> {
    return run('nsenter', [...this.#enter(), cmd, ...args], { ...ENV, ...opts.env }, opts.stdin);
  }

  /** Starts a long-running command inside the host; lab.stop() kills it if it still runs. */
  spawn(cmd: string, args: string[] = [], opts: SpawnOptions = {}): ChildProcess {
    // nsenter execs the command (no --fork): the child's pid is the command's.
    return this.#lab.adopt(spawn('nsenter', [...this.#enter(), cmd, ...args], { env: ENV, ...opts }));
  }

  /**
   * berthd inside the host, once its CNI socket (/run/berth/cni.sock there) is open; with
   * `docker`, serving the host's engine (started before), once its plugin sockets answer.
   */
  async startBerthd(extraArgs: string[] = [], opts: StartBerthdOptions = {}): Promise<LabBerthd> {
    const socket = join(this.dir, 'run', 'cni.sock');
    const logFile = join(this.dir, 'run', 'berthd.log');
    const started = Date.now();
    let args = BERTHD_ARGS;
    if (opts.docker) {
      if (!this.#dockerd) throw new Error(`cluster lab: start the Docker engine of ${this.name} (host.startDockerd()) before a berthd that serves it`);
      args = BERTHD_ARGS.filter((a) => a !== '--no-docker');
      args[args.indexOf('--docker-socket') + 1] = this.#dockerd.socket;
    }
    const proc = this.spawn(process.execPath, [join(DIST_BIN, 'berthd'), ...args, ...extraArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    const berthd: LabBerthd = {
      pid: proc.pid!,
      proc,
      stop: (signal = 'SIGTERM') => end(proc, signal),
      kill: () => end(proc, 'SIGKILL'),
      log,
    };
    this.#berthds.add(berthd);
    proc.once('exit', () => this.#berthds.delete(berthd));
    // The host's /run/berth is this.dir/run, so the socket is checked from here; a socket
    // left by an earlier, killed berthd is older than this start.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const st = statSync(socket, { throwIfNoEntry: false });
      if (st?.isSocket() && st.ctimeMs >= started && (!opts.docker || (await this.#pluginsAnswer()))) return berthd;
      if (hasExited(proc)) throw new Error(`cluster lab: berthd on ${this.name} exited (${proc.exitCode ?? proc.signalCode}): ${stderr}${log()}`);
      if (Date.now() > deadline) {
        await berthd.kill();
        throw new Error(`cluster lab: berthd on ${this.name} did not open its ${opts.docker ? 'CNI and Docker plugin sockets' : 'CNI socket'} in 20 s: ${stderr}${log()}`);
      }
      await sleep(50);
    }
  }

  /** Whether berthd's IPAM and overlay plugin sockets in the host's /run/docker/plugins answer (seen through the keeper's root). */
  async #pluginsAnswer(): Promise<boolean> {
    const dir = join('/proc', String(this.keeperPid), 'root', PLUGIN_DIR);
    for (const sock of ['berth.sock', 'berth-overlay.sock']) {
      const r = await rawPluginRequest(join(dir, sock), '/Plugin.Activate', '').catch(() => ({ status: 0 }));
      if (r.status !== 200) return false;
    }
    return true;
  }

  /**
   * A Docker engine inside the host (lab started with `docker: true`), started as on a host
   * that just booted (IPv4 forwarding off until dockerd turns it on and sets FORWARD to drop),
   * with the busybox image (IMAGE) imported. dockerd's settings are the Docker tests' own
   * (harness.ts dockerdArgs); everything of it is under `<host dir>/docker`. Throws
   * DockerUnavailableError when the engine cannot run on this machine.
   */
  async startDockerd(): Promise<LabDockerd> {
    if (!this.#lab.docker) throw new Error('cluster lab: start the lab with docker: true to run Docker engines in its hosts');
    if (this.#dockerd) throw new Error(`cluster lab: ${this.name} runs a Docker engine already`);
    const unavailable = dockerUnavailable();
    if (unavailable) throw new DockerUnavailableError(unavailable);
    const dir = join(this.dir, 'docker');
    mkdirSync(dir, { recursive: true });
    const socket = join(dir, 'docker.sock');
    const logFile = join(dir, 'dockerd.log');
    const cgroupParent = this.#cgroupParent();
    await this.#execOk('sh', ['-c', 'echo 0 > /proc/sys/net/ipv4/ip_forward']);
    const logFd = openSync(logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = this.spawn(DOCKERD, dockerdArgs({ dir, socket, cgroupParent }), { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-20).join('\n') : '');
    const docker = (args: string[], o: { timeoutMs?: number } = {}) =>
      withDeadline(this.exec(DOCKER, ['-H', `unix://${socket}`, ...args], { env: { DOCKER_CONFIG: join(dir, 'cli') } }), o.timeoutMs ?? 60_000, `docker ${args.join(' ')} on ${this.name}`);
    const dockerd: LabDockerd = {
      proc,
      socket,
      dir,
      docker,
      dockerOk: async (args) => {
        const r = await docker(args);
        if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${this.name} failed (${r.code}): ${r.stderr.trim()}`);
        return r.stdout.trim();
      },
      log,
    };
    this.#dockerd = dockerd;
    const deadline = Date.now() + 30_000;
    while ((await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).catch(() => ({ code: 1 }))).code !== 0) {
      if (hasExited(proc) || Date.now() > deadline) {
        await this.stopDockerd();
        throw new DockerUnavailableError(
          `dockerd cannot run in ${this.name}: ${hasExited(proc) ? `it exited (${proc.exitCode ?? proc.signalCode})` : 'no answer in 30 s'}; its log ends with:\n${log()}`,
        );
      }
      await sleep(100);
    }
    await dockerd.dockerOk(['import', this.#lab.busyboxTar(), IMAGE]);
    return dockerd;
  }

  /** The host's Docker engine (startDockerd's answer); throws when none runs. */
  get dockerd(): LabDockerd {
    if (!this.#dockerd) throw new Error(`cluster lab: ${this.name} runs no Docker engine`);
    return this.#dockerd;
  }

  /**
   * Removes the engine's containers and networks (while berthd still serves it, so that it
   * cleans up), stops dockerd (SIGTERM), kills its leftovers (containerd's shims) and removes
   * its cgroups. Nothing when no engine runs.
   */
  async stopDockerd(): Promise<void> {
    const d = this.#dockerd;
    if (!d) return;
    this.#dockerd = undefined;
    try {
      if (!hasExited(d.proc)) {
        const ids = (await d.docker(['ps', '-aq'])).stdout.split(/\s+/).filter(Boolean);
        if (ids.length) await d.docker(['rm', '-f', ...ids]);
        const nets = (await d.docker(['network', 'ls', '-q', '--filter', 'type=custom'])).stdout.split(/\s+/).filter(Boolean);
        for (const n of nets) await d.docker(['network', 'rm', n]);
      }
    } finally {
      await end(d.proc, 'SIGTERM', 20_000);
      killLeftovers(d.dir);
      removeCgroupParent(this.#cgroupParent());
    }
  }

  #cgroupParent(): string {
    return `berth-lab-${process.pid}-${this.netns}`;
  }

  async #execOk(cmd: string, args: string[]): Promise<string> {
    const r = await this.exec(cmd, args);
    if (r.code !== 0) throw new Error(`cluster lab: ${cmd} ${args.join(' ')} on ${this.name}: ${r.stderr}`);
    return r.stdout;
  }

  /** The flags that make berthd a member of the lab's cluster (etcd, this host's identity). */
  berthdArgsForCluster(): string[] {
    return ['--etcd-endpoints', this.#lab.etcdUrl, '--advertise-address', this.address, '--node-name', this.name];
  }

  /** The project's libcni client inside the host: the plugin shims there find this host's berthd. */
  cni(op: 'add' | 'del' | 'check', req: CniRequest): Promise<Run> {
    const bin = requireCniclient();
    const conf = join(this.dir, `conf-${req.containerId}-${op}-${this.#confs++}.conflist`);
    writeFileSync(conf, JSON.stringify(req.conflist));
    const env = {
      CNI_PATH: `${this.#lab.cniBin()}:${REFERENCE_PLUGINS}`,
      CNI_CACHE: join(this.dir, 'cni-cache'),
      // The in-process fallback's code cache: in the lab, not the machine's /var/cache/berth.
      BERTH_CACHE_DIR: join(this.#lab.dir, 'v8cache'),
    };
    return this.exec(bin, [op, conf, req.netns, req.containerId, req.ifname ?? 'eth0'], { env });
  }

  /**
   * A pod: a new network namespace named `<prefix>-<host>-<name>`, lo up; answers its path.
   * Made in the test run's namespace, whose /run/netns the keepers see (see KEEPER_SCRIPT).
   */
  addPod(name: string): string {
    return this.#lab.addNetns(`${this.#lab.prefix}-${this.name}-${name}`);
  }

  /** Deletes a pod namespace addPod made. */
  removePod(path: string): void {
    this.#lab.removeNetns(path);
  }

  /** One ping from a pod's namespace (path or `ip netns` name); true when answered. */
  async ping(fromNetns: string, address: string, count = 1): Promise<boolean> {
    const path = fromNetns.startsWith('/') ? fromNetns : `/run/netns/${fromNetns}`;
    const v6 = address.includes(':') ? ['-6'] : [];
    const r = await run('nsenter', [`--net=${path}`, '--', 'ping', ...v6, '-c', String(count), '-W', '1', '-i', '0.2', address], ENV);
    return r.code === 0;
  }

  /** Stops its berthds (SIGTERM: a clean shutdown, while the host still stands). */
  async stopBerthds(): Promise<void> {
    await Promise.all([...this.#berthds].map((b) => b.stop()));
  }

  /** Ends the keeper; deletes its port and namespace. */
  async destroy(): Promise<void> {
    if (this.#keeper) await end(this.#keeper, 'SIGKILL');
    // Deleting the port takes eth0 with it at once; the namespace's own teardown is lazy.
    if (this.#made.port) shOk('ip', ['link', 'del', this.port]);
    if (this.#made.netns) shOk('ip', ['netns', 'del', this.netns]);
    this.#made = { netns: false, port: false };
  }

  #enter(): string[] {
    return ['--target', String(this.keeperPid), '--mount', '--net', '--'];
  }
}

/** Starts a host's keeper and waits until its mounts are in place. */
async function startKeeper(netnsPath: string, hostDir: string, docker: boolean): Promise<ChildProcess> {
  const script = docker ? DOCKER_KEEPER_SCRIPT : KEEPER_SCRIPT;
  const args = ['--mount', '--propagation', 'slave', '--', 'nsenter', `--net=${netnsPath}`, '--', 'sh', '-c', script, 'keeper', hostDir];
  const proc = track(spawn('unshare', args, { stdio: ['pipe', 'pipe', 'pipe'], env: ENV }));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    await end(proc, 'SIGKILL');
    throw new Error(`cluster lab: the keeper of ${netnsPath} did not start: ${err}`);
  }
  return proc;
}

export class ClusterLab {
  readonly prefix: string;
  readonly underlay: Underlay;
  /** The fabric bridge, in the test run's namespace. */
  readonly fabric: string;
  /** The fabric's address (.1): the hosts' default gateway and etcd's address. */
  readonly gateway: string;
  /** The lab's scratch directory: one folder per host, etcd's data, the CNI plugins. */
  readonly dir: string;
  readonly hosts: LabHost[] = [];
  /** Hosts can run Docker engines (ClusterLabOptions.docker). */
  readonly docker: boolean;
  #etcd: LabEtcd | undefined;
  #cniBin: string | undefined;
  #busyboxTar: string | undefined;
  #fabricMade = false;
  readonly #pods = new Set<string>();
  readonly #procs = new Set<ChildProcess>();
  #stopped: Promise<void> | undefined;

  private constructor(opts: ClusterLabOptions) {
    this.prefix = opts.prefix ?? defaultPrefix();
    if (!/^[a-z0-9]{1,8}$/.test(this.prefix)) throw new Error(`cluster lab: prefix ${JSON.stringify(this.prefix)} is not 1-8 of [a-z0-9] (link names have 15 characters)`);
    this.underlay = new Underlay(opts.subnet ?? DEFAULT_SUBNET);
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > Math.min(this.underlay.maxHosts, 999)) throw new Error(`cluster lab: ${opts.hosts} hosts do not fit in ${this.underlay.cidr}`);
    this.fabric = `fab${this.prefix}`;
    this.gateway = this.underlay.at(1);
    this.docker = opts.docker ?? false;
    this.dir = mkdtempSync(join(tmpdir(), `berth-lab-${this.prefix}-`));
    installOnExit();
    live.dirs.add(this.dir);
  }

  /** Builds a lab; on failure, removes what it had made and throws. */
  static async start(opts: ClusterLabOptions): Promise<ClusterLab> {
    assertPrivateNetns();
    assertPrivateMountns();
    const lab = new ClusterLab(opts);
    try {
      await lab.#build(opts.hosts, opts.etcd ?? true);
    } catch (err) {
      await lab.stop().catch(() => undefined);
      throw err;
    }
    return lab;
  }

  async #build(hosts: number, etcd: boolean): Promise<void> {
    ensureMountPoints();
    ip('link', 'add', this.fabric, 'type', 'bridge');
    this.#fabricMade = true;
    ip('address', 'add', `${this.gateway}/${this.underlay.length}`, 'dev', this.fabric);
    ip('link', 'set', this.fabric, 'up');
    for (let i = 1; i <= hosts; i++) {
      const host = new LabHost(this, i);
      this.hosts.push(host);
      await host.create();
    }
    if (etcd) this.#etcd = await LabEtcd.launch(this.gateway, join(this.dir, 'etcd'));
  }

  /** The lab's etcd; throws when the lab was started with `etcd: false`. */
  get etcd(): LabEtcd {
    if (!this.#etcd) throw new Error('cluster lab: started without etcd');
    return this.#etcd;
  }

  /** etcd's client URL on the fabric, which every host reaches. */
  get etcdUrl(): string {
    return this.etcd.url;
  }

  /** A host by name (h1...). */
  host(name: string): LabHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`cluster lab: no host ${name}`);
    return h;
  }

  /** Cuts a host off: its fabric port goes down. */
  partition(host: LabHost): void {
    ip('link', 'set', host.port, 'down');
  }

  /** Undoes partition(). */
  heal(host: LabHost): void {
    ip('link', 'set', host.port, 'up');
  }

  /** berth's CNI plugins installed once for the lab (`berth install --cni-bin-dir`). */
  cniBin(): string {
    return (this.#cniBin ??= installedPlugins(this.dir));
  }

  /** @internal the busybox image's tarball, made once for the lab's engines. */
  busyboxTar(): string {
    return (this.#busyboxTar ??= busyboxImageTar(mkdirOf(join(this.dir, 'image'))));
  }

  /** @internal a process a host started, killed by stop() if still running. */
  adopt(proc: ChildProcess): ChildProcess {
    this.#procs.add(track(proc));
    proc.once('exit', () => this.#procs.delete(proc));
    return proc;
  }

  /** @internal a new network namespace (lo up), deleted by stop(); answers its path. */
  addNetns(name: string): string {
    ip('netns', 'add', name);
    this.#pods.add(name);
    ip('-n', name, 'link', 'set', 'lo', 'up');
    // What a pod namespace inherits on a Debian host (systemd's 50-default.conf).
    sh('ip', ['netns', 'exec', name, 'sh', '-c', LOOSE_RP_FILTER]);
    return `/run/netns/${name}`;
  }

  /** @internal */
  removeNetns(path: string): void {
    const name = path.replace(/^\/run\/netns\//, '');
    if (!this.#pods.delete(name)) throw new Error(`cluster lab: ${path} is not a pod of this lab`);
    ip('netns', 'del', name);
  }

  /** This lab's links and namespaces that exist in the test run's namespace now. */
  leftovers(): string[] {
    const ours = new Set([this.fabric, ...this.hosts.map((h) => h.port)]);
    const links = hostLinks().filter((l) => ours.has(l));
    const namespaces = sh('ip', ['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${this.prefix}-`));
    return [...links.map((l) => `link ${l}`), ...namespaces.map((n) => `netns ${n}`)];
  }

  /**
   * Removes everything: berthds (SIGTERM), other processes, pods, hosts, the fabric, etcd, the
   * scratch directory. Idempotent; every step runs even when one before it failed, and it throws
   * when any of it is left.
   */
  stop(): Promise<void> {
    return (this.#stopped ??= this.#teardown());
  }

  async #teardown(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => unknown) => {
      try {
        await step();
      } catch (err) {
        errors.push(err);
      }
    };
    // Processes first: Docker engines (their containers and networks removed while berthd serves them),
    // berthds cleanly, while their hosts stand; then what they ran in.
    await Promise.all(this.hosts.map((h) => attempt(() => h.stopDockerd())));
    await Promise.all(this.hosts.map((h) => attempt(() => h.stopBerthds())));
    await Promise.all([...this.#procs].map((p) => attempt(() => end(p, 'SIGKILL'))));
    for (const name of this.#pods) await attempt(() => shOk('ip', ['netns', 'del', name]));
    this.#pods.clear();
    await Promise.all(this.hosts.map((h) => attempt(() => h.destroy())));
    if (this.#fabricMade) await attempt(() => shOk('ip', ['link', 'del', this.fabric]));
    await attempt(() => this.#etcd?.remove());
    await attempt(() => rmSync(this.dir, { recursive: true, force: true }));
    live.dirs.delete(this.dir);
    const left = this.leftovers();
    if (left.length) errors.push(new Error(`left behind: ${left.join(', ')}`));
    if (errors.length) throw new AggregateError(errors, `cluster lab: stop failed: ${errors.map(String).join('; ')}`);
  }
}

/** A lab of `hosts` hosts on a fabric, with etcd; call lab.stop() in the test's teardown. */
export function startClusterLab(opts: ClusterLabOptions): Promise<ClusterLab> {
  return ClusterLab.start(opts);
}
