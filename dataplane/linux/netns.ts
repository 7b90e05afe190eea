/**
 * Network namespaces from one Node process.
 *
 * setns(2) moves only the calling thread, and Node runs all JavaScript on its main thread,
 * while fs.promises and koffi's async calls run on pool threads that never switch. So the
 * main thread switches only for a few synchronous calls and switches back before returning:
 * `openNetlink(path)` creates the socket inside the namespace (a socket stays bound to the
 * namespace it was made in) and `inNetns(path, fn)` runs short synchronous work such as
 * /proc/sys/net writes, which resolve against the writing thread's namespace.
 * Nothing is ever awaited while switched.
 */
import { closeSync, fstatSync, openSync, statfsSync, statSync } from 'node:fs';
import { KernelError, NetnsNotFoundError } from '../../core/errors.js';
import type { BerthError } from '../../core/errors.js';
import { errorFromErrno, EINVAL, ENOENT } from './kernel-error.js';
import { CLONE_NEWNET, libc } from './libc.js';
import { NetlinkHandle } from './netlink/handle.js';
import { NetlinkSocket } from './netlink/socket.js';
import type { Netlink } from './ports.js';

/** statfs(2) f_type of nsfs, the filesystem of namespace files (linux/magic.h). */
const NSFS_MAGIC = 0x6e736673;
const OWN_NETNS = '/proc/self/ns/net';

/** An fd of the namespace the process started in, opened before the first switch. */
let homeFd: number | undefined;

/** fds of the namespaces entered by enclosing calls, innermost last, so nesting restores correctly. */
const entered: number[] = [];

function home(): number {
  homeFd ??= openSync(OWN_NETNS, 'r');
  return homeFd;
}

function errnoOf(err: unknown): { code?: string; errno?: number } {
  return typeof err === 'object' && err !== null ? (err as { code?: string; errno?: number }) : {};
}

function openError(path: string, err: unknown): BerthError {
  const { code, errno } = errnoOf(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new NetnsNotFoundError(`Cannot open network namespace "${path}": it does not exist`, { value: path, errno: ENOENT }, { cause: err });
  }
  return new KernelError(`Cannot open network namespace "${path}": ${err instanceof Error ? err.message : String(err)}`, {
    value: path,
    ...(errno !== undefined ? { errno: Math.abs(errno) } : {}),
  });
}

/**
 * Opens an fd of the network namespace file at `path` (`/var/run/netns/NAME`,
 * `/proc/PID/ns/net`), for IFLA_NET_NS_FD. NetnsNotFoundError when the path is missing or
 * is not a namespace file. Close it with closeFd.
 */
export function openNetnsFd(path: string): number {
  let type: number;
  try {
    type = Number(statfsSync(path).type);
  } catch (err) {
    throw openError(path, err);
  }
  if (type !== NSFS_MAGIC) {
    throw new NetnsNotFoundError(`Cannot open network namespace "${path}": it is not a namespace file`, { value: path });
  }
  try {
    return openSync(path, 'r');
  } catch (err) {
    throw openError(path, err);
  }
}

/** Closes an fd from openNetnsFd. */
export function closeFd(fd: number): void {
  closeSync(fd);
}

/**
 * Whether `path` is a namespace file (on nsfs) that can be opened. It does not tell a
 * network namespace from another kind; entering it does (NetnsNotFoundError).
 */
export function netnsExists(path: string): boolean {
  try {
    return Number(statfsSync(path).type) === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * Whether `path` is the network namespace this process runs in (same st_dev and st_ino),
 * for CNI's refusal to configure the plugin's own namespace. NetnsNotFoundError when absent.
 */
export function isOwnNetns(path: string): boolean {
  let target;
  try {
    target = statSync(path);
  } catch (err) {
    throw openError(path, err);
  }
  // While switched, /proc/self/ns/net names the namespace entered, not the process's own.
  const own = entered.length > 0 ? fstatSync(home()) : statSync(OWN_NETNS);
  return target.dev === own.dev && target.ino === own.ino;
}

function enter(fd: number, path: string): void {
  const c = libc();
  if (c.setns(fd, CLONE_NEWNET) === 0) return;
  const errno = c.errno();
  if (errno === EINVAL) {
    throw new NetnsNotFoundError(`Cannot enter network namespace "${path}": it is not a network namespace`, { value: path, errno });
  }
  throw errorFromErrno(errno, { action: `enter network namespace "${path}"`, command: `nsenter --net=${path}` });
}

function leave(back: number): void {
  const c = libc();
  if (c.setns(back, CLONE_NEWNET) === 0) return;
  // The main thread would stay in a foreign namespace and every later call would act there.
  throw new KernelError(`Cannot return to the original network namespace: ${c.strerror(c.errno())}; this process must exit`, {
    errno: c.errno(),
    operation: 'setns(CLONE_NEWNET)',
  });
}

/**
 * Runs `fn` with the main thread inside the namespace of `fd` (labelled `path` in errors),
 * and always switches back, to the enclosing namespace when calls are nested.
 */
export function withNetnsFd<T>(fd: number, path: string, fn: () => T): T {
  const back = entered.at(-1) ?? home();
  enter(fd, path);
  entered.push(fd);
  try {
    return fn();
  } finally {
    entered.pop();
    leave(back);
  }
}

function withNetnsPath<T>(path: string, fn: () => T): T {
  const fd = openNetnsFd(path);
  try {
    return withNetnsFd(fd, path, fn);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs short synchronous work inside the network namespace at `path` and returns its result
 * (`nsenter --net=PATH ...`). `fn` must not be async: its continuation would run after the
 * switch back, in the wrong namespace, so a returned Promise is an error (a TypeError).
 */
export function inNetns<T>(path: string, fn: () => T): T {
  return withNetnsPath(path, () => {
    const result = fn();
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      // Its outcome is unusable either way; keep a later rejection from crashing the process.
      (result as unknown as Promise<unknown>).then(undefined, () => undefined);
      throw new TypeError(`inNetns("${path}") was given an async function: only synchronous work may run while the thread is switched`);
    }
    return result;
  });
}

/**
 * A `Netlink` bound to the network namespace at `netnsPath`, or to the current one when
 * omitted. The namespace is entered only to create the socket; the handle then works from
 * the original namespace. NetnsNotFoundError when the path is missing or not a netns.
 */
export function openNetlink(netnsPath?: string): Netlink {
  const sock = netnsPath === undefined ? NetlinkSocket.open() : withNetnsPath(netnsPath, () => NetlinkSocket.open());
  return new NetlinkHandle(sock);
}
