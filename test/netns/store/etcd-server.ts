/**
 * A real etcd (Debian's etcd-server) for the store tests: one member on 127.0.0.1 with free
 * ports and a temporary data directory, inside the test run's private network namespace.
 * It can be killed and started again on the same ports and data, and is removed at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ETCD = '/usr/bin/etcd';

/**
 * Throws unless this process runs in a network namespace that one of its ancestors does not
 * share (the test run's `unshare --net`): etcd listens on 127.0.0.1, which must not be the machine's.
 */
export function assertPrivateNetns(): void {
  const own = readlinkSync('/proc/self/ns/net');
  let pid = process.ppid;
  while (pid > 1) {
    let ns: string;
    let parent: number;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/net`);
      parent = Number(
        readFileSync(`/proc/${pid}/stat`, 'utf8')
          .replace(/^.*\) /s, '')
          .split(' ')[1],
      );
    } catch {
      break;
    }
    if (ns !== own) return;
    pid = parent;
  }
  throw new Error('the etcd store tests start servers: run them inside a private network namespace (unshare --net --mount ... scripts/in-private-netns.sh, as scripts/test.sh does)');
}

/** A TCP port nobody listens on now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise((r) => server.close(r));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export class EtcdServer {
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  private constructor(clientPort: number, peerPort: number, dataDir: string) {
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dataDir = dataDir;
  }

  /** Starts a fresh member and waits until it serves. */
  static async start(): Promise<EtcdServer> {
    assertPrivateNetns();
    if (!existsSync(ETCD)) throw new Error(`${ETCD} is missing: install Debian's etcd-server (bash scripts/setup.sh does)`);
    const server = new EtcdServer(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), 'berth-etcd-')));
    try {
      await server.run();
    } catch (err) {
      await server.remove();
      throw err;
    }
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Kills the member (SIGKILL: no goodbye to its clients) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Starts the killed member again, on the same ports and data. */
  async restart(): Promise<void> {
    await this.kill();
    await this.run();
  }

  /** Kills the member and removes its data. */
  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async run(): Promise<void> {
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name=berth-test',
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${this.endpoint}`,
      `--advertise-client-urls=${this.endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=berth-test=${peer}`,
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-level=error',
    ];
    this.log = '';
    const child = spawn(ETCD, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-4000);
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void this.exited.then(() => (gone = true));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !gone) {
      try {
        const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health === 'true') return;
      } catch {
        // not serving yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.kill();
    throw new Error(`etcd did not come up on ${this.endpoint}${gone ? ' (it exited)' : ''}: ${this.log}`);
  }
}
