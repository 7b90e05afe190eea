/**
 * A Docker host in the lab's namespace: berthd serving Docker's plugin sockets and its API at
 * their usual paths (/run/docker/plugins, /run/berth/berthd.sock) and a real Docker engine
 * (Debian's docker.io) whose data, exec root and config live in the lab's scratch directory,
 * with an image of nothing but the static busybox, tagged `busybox`. Docker's containers go
 * under a cgroup parent named for the lab, removed at teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { NotAvailableError } from '../../core/errors.js';
import type { LabContext } from './context.js';
import { shellJoin } from './context.js';
import { BERTH, BERTHD, killLeftovers, must, removeCgroups } from './lab-namespace.js';
import { endProcess, hasExited, LAB_PATH, runCommand, runOk, waitUntil, type Ran } from './process.js';
import type { StepRecord } from './report.js';

export const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER = '/usr/bin/docker';
export const BUSYBOX = '/bin/busybox';
export const IMAGE = 'busybox';
const DOCKER_SOCKET = '/run/docker.sock';
const BERTHD_SOCKET = '/run/berth/berthd.sock';

/** What keeps a Docker lab from running here, or undefined. */
export function dockerMissing(): string | undefined {
  for (const [path, pkg] of [
    [DOCKERD, 'docker.io'],
    [DOCKER, 'docker.io'],
    [BUSYBOX, 'busybox-static'],
  ] as const) {
    if (!existsSync(path)) return `${path} is missing: install the Debian package ${pkg}`;
  }
  return undefined;
}

export interface DockerHostOptions {
  /** Docker's own default bridge (docker0) as on a stock engine. @default false */
  readonly defaultBridge?: boolean;
  /** berthd's policy agent. @default false */
  readonly policy?: boolean;
}

export class DockerHost {
  readonly cgroupParent: string;
  #berthd: ChildProcess | undefined;
  #dockerd: ChildProcess | undefined;

  private constructor(
    readonly ctx: LabContext,
    readonly opts: DockerHostOptions,
  ) {
    this.cgroupParent = `berth-labrun-${ctx.name}-${process.pid}`;
  }

  /** Starts berthd and dockerd (together), imports the image; registers their teardown. */
  static async start(ctx: LabContext, opts: DockerHostOptions = {}): Promise<DockerHost> {
    const missing = dockerMissing();
    if (missing) throw new NotAvailableError(missing);
    const host = new DockerHost(ctx, opts);
    ctx.defer('the Docker host', () => host.stop());
    ctx.addPlace({ kind: 'host', name: 'host', role: 'host', exec: [], shell: ['sh'], netns: '/proc/self/ns/net' });
    await Promise.all([host.#startBerthd(), host.#startDockerd()]);
    await runOk([DOCKER, 'import', host.#imageTar(), IMAGE], { env: host.env });
    return host;
  }

  /** The docker CLI's environment: the lab's engine, a config directory of the lab's. */
  get env(): Record<string, string> {
    return { DOCKER_HOST: `unix://${DOCKER_SOCKET}`, DOCKER_CONFIG: join(this.ctx.dir, 'docker-cli') };
  }

  /** `docker ARGS` as a step. */
  docker(args: readonly string[], note?: string): Promise<StepRecord> {
    return this.ctx.step({ show: `docker ${shellJoin(args)}`, argv: [DOCKER, ...args], env: this.env }, note);
  }

  /** `berth ARGS` as a step, against the lab's berthd. */
  berth(args: readonly string[], note?: string): Promise<StepRecord> {
    return this.ctx.step({ show: `berth ${shellJoin(args)}`, argv: [process.execPath, BERTH, ...args] }, note);
  }

  /** docker, not shown: for what the lab reads to check or draw. */
  dockerQuiet(args: readonly string[]): Promise<Ran> {
    return runCommand([DOCKER, ...args], { env: this.env });
  }

  /** `docker run -d --name NAME ARGS`, and the container becomes a place of the lab. */
  async run(name: string, args: readonly string[], note?: string): Promise<StepRecord> {
    const s = await this.docker(['run', '-d', '--name', name, ...args], note);
    this.ctx.addPlace({
      kind: 'container',
      name,
      host: 'host',
      exec: ['docker', 'exec', name],
      shell: ['docker', 'exec', '-it', name, 'sh'],
      netns: async () => {
        const pid = (await this.dockerQuiet(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim();
        return /^[1-9]\d*$/.test(pid) ? `/proc/${pid}/ns/net` : undefined;
      },
    });
    return s;
  }

  /** A container's IPv4 address on a network ('' when it has none). */
  async ip(container: string, network: string): Promise<string> {
    const r = await this.dockerQuiet(['inspect', '-f', `{{with index .NetworkSettings.Networks "${network}"}}{{.IPAddress}}{{end}}`, container]);
    return r.code === 0 ? r.stdout.trim() : '';
  }

  /** Ends everything Docker and berthd made: containers, networks, the engine, berthd, shims, cgroups. */
  async stop(): Promise<void> {
    if (this.#dockerd && !hasExited(this.#dockerd)) {
      const ids = (await this.dockerQuiet(['ps', '-aq'])).stdout.split(/\s+/).filter(Boolean);
      if (ids.length) await this.dockerQuiet(['rm', '-f', ...ids]);
      const nets = (await this.dockerQuiet(['network', 'ls', '-q', '--filter', 'type=custom'])).stdout.split(/\s+/).filter(Boolean);
      for (const n of nets) await this.dockerQuiet(['network', 'rm', n]);
    }
    if (this.#berthd) await endProcess(this.#berthd, 'SIGTERM', 10_000);
    if (this.#dockerd) await endProcess(this.#dockerd, 'SIGTERM', 20_000);
    killLeftovers(this.ctx.dir);
    removeCgroups(this.cgroupParent);
  }

  async #startBerthd(): Promise<void> {
    const args = [
      BERTHD,
      '--data-dir',
      join(this.ctx.dir, 'berth-data'),
      '--log-file',
      join(this.ctx.dir, 'berthd.log'),
      '--metrics-address',
      'none',
      '--docker-socket',
      DOCKER_SOCKET,
      ...(this.opts.policy ? [] : ['--no-policy']),
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: LAB_PATH } });
    this.#berthd = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitUntil(
      async () => {
        if (hasExited(proc)) throw new Error(`berthd exited (${proc.exitCode}): ${stderr.trim()}`);
        return (await canConnect(BERTHD_SOCKET)) && (await canConnect('/run/docker/plugins/berth.sock'));
      },
      20_000,
      "berthd's sockets",
    );
  }

  async #startDockerd(): Promise<void> {
    const dir = join(this.ctx.dir, 'docker');
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'daemon.json');
    writeFileSync(config, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
    const args = [
      '--data-root',
      join(dir, 'data'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'dockerd.pid'),
      '-H',
      `unix://${DOCKER_SOCKET}`,
      '--config-file',
      config,
      ...(this.opts.defaultBridge ? [] : ['--bridge=none']),
      '--userland-proxy=false',
      '--storage-driver=vfs',
      '--cgroup-parent',
      `/${this.cgroupParent}`,
      '--log-level=warn',
    ];
    const logPath = join(dir, 'dockerd.log');
    const log = openSync(logPath, 'a');
    try {
      this.#dockerd = spawn(DOCKERD, args, { stdio: ['ignore', log, log], env: { PATH: LAB_PATH } });
    } finally {
      closeSync(log);
    }
    const proc = this.#dockerd;
    const tail = () => readFileSync(logPath, 'utf8').trim().split('\n').slice(-5).join('\n');
    try {
      await waitUntil(
        async () => {
          if (hasExited(proc)) throw new Error(`dockerd exited with status ${proc.exitCode}`);
          return dockerPing();
        },
        30_000,
        'dockerd to answer',
      );
    } catch (err) {
      throw new NotAvailableError(`dockerd cannot run here: ${(err as Error).message}; its log ends with:\n${tail()}`);
    }
  }

  /** A tarball of the static busybox and its applet links. */
  #imageTar(): string {
    const root = join(this.ctx.dir, 'image');
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    for (const applet of ['sh', 'ping', 'ip', 'sleep', 'cat', 'echo', 'httpd', 'wget', 'nc', 'true', 'hostname', 'ifconfig', 'route', 'arp']) symlinkSync('busybox', join(root, 'bin', applet));
    for (const d of ['etc', 'tmp', 'proc', 'sys', 'dev', 'www']) mkdirSync(join(root, d), { recursive: true });
    const tar = join(this.ctx.dir, 'busybox.tar');
    must('tar', ['-C', root, '-cf', tar, '.']);
    return tar;
  }
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(path)) return resolve(false);
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function dockerPing(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: DOCKER_SOCKET, path: '/_ping', method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
