/**
 * The namespace a lab runs in. `berth lab run` starts the lab program under `unshare --net
 * --mount`: the lab's network namespace is the lab's "host", and its mount namespace gets a
 * /run of its own (a tmpfs), so berthd's and Docker's sockets, `ip netns` namespaces and
 * runtime state at their usual paths are the lab's and vanish with it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotAvailableError } from '../../core/errors.js';

/** dist/: this module is dist/labs/framework/lab-namespace.js. */
export const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BERTH = join(DIST, 'bin', 'berth');
export const BERTHD = join(DIST, 'bin', 'berthd');

/**
 * Refuses to run in a namespace the lab was not made for: its network and mount namespaces
 * must differ from its parent's (`unshare` execs, so the parent is the CLI) and from pid 1's.
 */
export function assertLabNamespace(): void {
  if (process.getuid?.() !== 0) throw new NotAvailableError('labs need root (they make namespaces, bridges and containers)');
  for (const kind of ['net', 'mnt'] as const) {
    const ns = (pid: string) => readlinkSync(`/proc/${pid}/ns/${kind}`);
    const own = ns('self');
    let init: string | undefined;
    try {
      init = ns('1');
    } catch {
      init = undefined;
    }
    if (own === ns(String(process.ppid)) || own === init) {
      throw new NotAvailableError(
        `a lab runs only in a ${kind === 'net' ? 'network' : 'mount'} namespace made for it (berth lab run starts it under unshare --net --mount); it will not touch this machine's`,
      );
    }
  }
}

/** `cmd` with its stderr in the error when it fails: set-up only. */
export function must(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

/**
 * Makes the lab's own /run: a tmpfs (private to the lab's mount namespace) with the
 * directories berth and Docker use, loopback up. Answers the lab's scratch directory, named so
 * that the command lines of everything it starts name it (leftover processes are found so).
 */
export function prepareLabRun(lab: string): string {
  must('mount', ['--make-rprivate', '/']);
  must('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'tmpfs', '/run']);
  const dir = `/run/berth-labrun-${lab}-${process.pid}`;
  for (const d of ['/run/netns', '/run/berth', '/run/docker/plugins', dir]) mkdirSync(d, { recursive: true });
  must('ip', ['link', 'set', 'lo', 'up']);
  return dir;
}

/**
 * Kills what is left of the lab's processes (containerd's shims, a container's process): those
 * whose command line names the lab's directory and whose network namespace is the lab's or one
 * of the lab's containers'. Never a process of the machine's namespace.
 */
export function killLeftovers(dir: string): void {
  const machineNet = (() => {
    try {
      return readlinkSync('/proc/1/ns/net');
    } catch {
      return undefined;
    }
  })();
  for (const pid of safeReaddir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) continue;
      if (machineNet !== undefined && readlinkSync(`/proc/${pid}/ns/net`) === machineNet) continue;
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Gone already, or not ours to read.
    }
  }
}

/** Removes the (empty) cgroups named `name` that Docker made under every hierarchy's root. */
export function removeCgroups(name: string): void {
  for (const ctl of safeReaddir('/sys/fs/cgroup')) {
    const path = join('/sys/fs/cgroup', ctl, name);
    if (!existsSync(path) || !statSync(path).isDirectory()) continue;
    // Children first (a container's own cgroup), then the parent.
    for (const child of safeReaddir(path)) {
      const sub = join(path, child);
      if (statSync(sub).isDirectory()) spawnSync('rmdir', [sub]);
    }
    spawnSync('rmdir', [path]);
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
