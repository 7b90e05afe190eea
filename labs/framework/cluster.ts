/**
 * A cluster inside a lab: hosts as network namespaces on a fabric bridge in the lab's own
 * namespace, with etcd on the fabric and a berthd per host in the cluster.
 *
 *   fabric (bridge, .1: etcd)      in the lab's namespace
 *     ├─ port h1 ── eth0 .11 in netns h1   (host h1: its own /run/berth)
 *     └─ port h2 ── eth0 .12 in netns h2
 *
 * Each host is held by a keeper: a process in the host's network namespace and in a mount
 * namespace of its own, where the host's folder of the lab's scratch directory is bound over
 * /run/berth (so each berthd has its sockets and runtime state where berth looks for them,
 * and `berth status` on a host asks that host's berthd) and sysfs is mounted again (so
 * /sys/class/net is the host's links). Commands on a host enter the keeper's namespaces. The
 * keeper reads its stdin until EOF, so it goes when the lab does, however the lab ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotAvailableError } from '../../core/errors.js';
import { shellJoin, type LabContext } from './context.js';
import { BERTH, BERTHD, killLeftovers } from './lab-namespace.js';
import { endProcess, hasExited, LAB_PATH, runCommand, waitUntil, type Ran } from './process.js';
import type { StepRecord } from './report.js';

export const ETCD = '/usr/bin/etcd';
const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;

/** What keeps a cluster lab from running here, or undefined. */
export function clusterMissing(): string | undefined {
  if (!existsSync(ETCD)) return `${ETCD} is missing: install the Debian package etcd-server`;
  return undefined;
}

/** The keeper: binds the host's folder over /run/berth, mounts the host's sysfs, waits for EOF. */
const KEEPER_SCRIPT = ['set -e', 'mount --bind "$1" /run/berth', 'mount -t sysfs sysfs /sys', 'echo ready', 'exec cat >/dev/null'].join('\n');

/** A failed set-up command becomes a failed check, then an error that ends the lab. */
function mustSucceed(step: StepRecord, what: string): void {
  if (step.code === 0) return;
  step.succeeded(what);
  throw new Error(`${what}: ${(step.ran.stderr || step.ran.stdout).trim()}`);
}

export class Cluster {
  readonly hosts: ClusterHost[] = [];
  /** The fabric's address: the hosts' gateway, where etcd listens. */
  readonly gateway: string;
  readonly etcdUrl: string;

  private constructor(
    readonly ctx: LabContext,
    /** The underlay's first three octets: the fabric is .1, host i .(10+i). */
    readonly prefix24: string,
    /** The fabric bridge's name. */
    readonly fabric: string,
  ) {
    this.gateway = `${prefix24}.1`;
    this.etcdUrl = `http://${this.gateway}:${ETCD_CLIENT_PORT}`;
  }

  /** The fabric bridge (shown as steps) and etcd on it; their teardown is registered. */
  static async build(ctx: LabContext, prefix24: string, fabric = 'fabric'): Promise<Cluster> {
    const missing = clusterMissing();
    if (missing) throw new NotAvailableError(missing);
    const c = new Cluster(ctx, prefix24, fabric);
    // Last of the teardown: whatever of the lab's processes is still there (named for its directory).
    ctx.defer("the lab's leftover processes", () => killLeftovers(ctx.dir));
    ctx.addPlace({ kind: 'host', name: fabric, role: 'fabric', exec: [], shell: ['sh'], netns: '/proc/self/ns/net' });
    ctx.defer('the fabric', () => runCommand(['ip', 'link', 'del', fabric]));
    const steps: string[][] = [
      ['ip', 'link', 'add', fabric, 'type', 'bridge'],
      ['ip', 'addr', 'add', `${c.gateway}/24`, 'dev', fabric],
      ['ip', 'link', 'set', fabric, 'up'],
    ];
    for (const [n, argv] of steps.entries())
      mustSucceed(
        await ctx.sh(argv, n === 0 ? `The underlay: a bridge "${fabric}" (${prefix24}.0/24) that every host's eth0 is a port of; etcd listens on its ${c.gateway}.` : undefined),
        argv.join(' '),
      );
    await c.#startEtcd();
    return c;
  }

  async #startEtcd(): Promise<void> {
    const peer = `http://${this.gateway}:${ETCD_PEER_PORT}`;
    const argv = [
      ETCD,
      '--name',
      'lab',
      '--data-dir',
      join(this.ctx.dir, 'etcd'),
      '--listen-client-urls',
      this.etcdUrl,
      '--advertise-client-urls',
      this.etcdUrl,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `lab=${peer}`,
      '--log-level',
      'error',
    ];
    const started = await startDaemon(this.ctx, argv, async (proc) => {
      await waitUntil(() => etcdHealthy(this.etcdUrl, proc), 20_000, `etcd on ${this.etcdUrl}`);
    });
    this.ctx.log.open(shellJoin(['etcd', ...argv.slice(1)]) + ' &', started, "The cluster's store: etcd on the fabric, which every host reaches.").succeeded('etcd serves on the fabric');
    if (started.code !== 0) throw new Error(`etcd did not start: ${started.stderr}`);
  }

  /** Host `h<index>`: its namespace, eth0 on the fabric at .(10+index), its keeper (shown as steps). */
  async addHost(index: number): Promise<ClusterHost> {
    const h = new ClusterHost(this, index);
    const { ctx } = this;
    ctx.defer(`host ${h.name}`, async () => {
      await h.stopBerthd();
      if (h.keeper) await endProcess(h.keeper, 'SIGKILL');
      await runCommand(['ip', 'link', 'del', h.name]);
      await runCommand(['ip', 'netns', 'del', h.name]);
    });
    const steps: string[][] = [
      ['ip', 'netns', 'add', h.name],
      ['ip', 'link', 'add', h.name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.name],
      ['ip', 'link', 'set', h.name, 'master', this.fabric, 'up'],
      ['ip', '-n', h.name, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0'],
      ['ip', '-n', h.name, 'link', 'set', 'eth0', 'up'],
      ['ip', '-n', h.name, 'link', 'set', 'lo', 'up'],
      ['ip', '-n', h.name, 'route', 'add', 'default', 'via', this.gateway],
      ['ip', 'netns', 'exec', h.name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=2', 'net.ipv4.conf.default.rp_filter=2'],
    ];
    for (const [n, argv] of steps.entries())
      mustSucceed(
        await ctx.sh(
          argv,
          n === 0 ? `Host ${h.name}: a network namespace, its eth0 (${h.address}) on the fabric; it forwards for its pods (loose reverse-path filtering, as Debian sets it).` : undefined,
        ),
        argv.join(' '),
      );
    mkdirSync(h.dir, { recursive: true });
    h.keeper = await startKeeper(h);
    ctx.addPlace({ kind: 'host', name: h.name, role: 'host', exec: h.enter, shell: [...h.enter, 'sh'], netns: `/run/netns/${h.name}` });
    this.hosts.push(h);
    return h;
  }
}

export class ClusterHost {
  readonly name: string;
  readonly address: string;
  /** Its /run/berth, seen from the lab's namespace. */
  readonly dir: string;
  keeper: ChildProcess | undefined;
  #berthd: ChildProcess | undefined;

  constructor(
    readonly cluster: Cluster,
    readonly index: number,
  ) {
    this.name = `h${index}`;
    this.address = `${cluster.prefix24}.${10 + index}`;
    this.dir = join(cluster.ctx.dir, this.name);
  }

  /** The command that enters the host (its keeper's mount and network namespaces). */
  get enter(): string[] {
    const pid = this.keeper?.pid;
    if (pid === undefined || hasExited(this.keeper!)) throw new Error(`host ${this.name} is not running`);
    return ['nsenter', '--target', String(pid), '--mount', '--net', '--'];
  }

  /** A command on this host as a step, shown as `[h1] CMD`. */
  sh(argv: readonly string[], note?: string, opts: { env?: Record<string, string>; stdin?: string; show?: string } = {}): Promise<StepRecord> {
    return this.cluster.ctx.step(
      { show: `[${this.name}] ${opts.show ?? shellJoin(argv)}`, argv: [...this.enter, ...argv], ...(opts.env ? { env: opts.env } : {}), ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}) },
      note,
    );
  }

  /** `berth ARGS` on this host (against its berthd), as a step. */
  berth(args: readonly string[], note?: string): Promise<StepRecord> {
    return this.sh([process.execPath, BERTH, ...args], note, { show: `berth ${shellJoin(args)}` });
  }

  /**
   * berthd on this host, in the cluster (etcd on the fabric, this host's address and name),
   * CNI only; shown as the command started, once its CNI socket is open.
   */
  async startBerthd(note?: string, extra: readonly string[] = []): Promise<StepRecord> {
    const c = this.cluster;
    const args = [
      '--etcd-endpoints',
      c.etcdUrl,
      '--advertise-address',
      this.address,
      '--node-name',
      this.name,
      '--no-docker',
      '--no-policy',
      '--metrics-address',
      'none',
      '--firewall-check-interval',
      '0',
      '--data-dir',
      join(this.dir, 'state'),
      '--log-file',
      '/run/berth/berthd.log',
      ...extra,
    ];
    const socket = join(this.dir, 'cni.sock');
    const started = await startDaemon(c.ctx, [...this.enter, process.execPath, BERTHD, ...args], async (proc) => {
      this.#berthd = proc;
      await waitUntil(() => existsSync(socket), 20_000, `berthd on ${this.name} to open /run/berth/cni.sock`);
    });
    const log = join(this.dir, 'berthd.log');
    const step = c.ctx.log.open(
      `[${this.name}] berthd ${shellJoin(args)} &`,
      started.code === 0 ? started : { ...started, stderr: `${started.stderr}${existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : ''}` },
      note,
    );
    step.succeeded(`berthd on ${this.name} joins the cluster and serves CNI`);
    if (started.code !== 0) throw new Error(`berthd on ${this.name} did not start: ${started.stderr}`);
    return step;
  }

  async stopBerthd(): Promise<void> {
    if (this.#berthd) await endProcess(this.#berthd, 'SIGTERM', 10_000);
  }
}

/**
 * Starts a long-running `argv` and waits with `ready`; answers it as a command's result (0
 * with its pid, or the reason it did not come up), so it can be shown as a step.
 */
async function startDaemon(ctx: LabContext, argv: readonly string[], ready: (proc: ChildProcess) => Promise<void>): Promise<Ran> {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: LAB_PATH } });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  ctx.defer(`${argv.find((a) => a.endsWith('berthd') || a.endsWith('etcd')) ?? argv[0]}`, () => endProcess(proc, 'SIGTERM', 10_000));
  try {
    await Promise.race([ready(proc), new Promise<never>((_, reject) => proc.once('exit', (code, signal) => reject(new Error(`it exited (${code ?? signal})`))))]);
    return { code: 0, stdout: `started, pid ${proc.pid}`, stderr: '' };
  } catch (err) {
    proc.kill('SIGKILL');
    return { code: 1, stdout: '', stderr: `${(err as Error).message}\n${stderr.trim()}` };
  }
}

async function etcdHealthy(url: string, proc: ChildProcess): Promise<boolean> {
  if (hasExited(proc)) return false;
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

async function startKeeper(h: ClusterHost): Promise<ChildProcess> {
  const args = ['--mount', '--propagation', 'slave', '--', 'nsenter', `--net=/run/netns/${h.name}`, '--', 'sh', '-c', KEEPER_SCRIPT, 'keeper', h.dir];
  // Its stdin stays open (a pipe of this process) for as long as the host should stand.
  const proc = spawn('unshare', args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: LAB_PATH } });
  let said = '';
  proc.stdout!.on('data', (d: Buffer) => (said += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (said += d.toString()));
  try {
    await waitUntil(
      () => {
        if (hasExited(proc)) throw new Error(`it exited (${proc.exitCode ?? proc.signalCode})`);
        return said.includes('ready\n');
      },
      10_000,
      'its mounts',
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`the keeper of host ${h.name} did not start: ${(err as Error).message}: ${said.trim()}`);
  }
  return proc;
}
