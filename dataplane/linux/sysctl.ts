/**
 * Sysctls through /proc/sys with synchronous fs calls (no `sysctl` process). /proc/sys/net
 * resolves against the calling thread's network namespace, which is why a namespace-bound
 * Sysctl does each access inside `inNetns`.
 */
import { closeSync, openSync, readFileSync, writeSync, constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { InvalidConfigError } from '../../core/errors.js';
import { errorFromErrno } from './kernel-error.js';
import type { Operation } from './kernel-error.js';
import { inNetns } from './netns.js';
import type { Sysctl } from './ports.js';

/**
 * The /proc/sys path of a key, read the way sysctl(8) reads it: a key whose first separator
 * is '/' is already a path; otherwise dots separate components and a '/' stands for a dot
 * inside one, so an interface named `eth0.100` is `net.ipv4.conf.eth0/100.forwarding`
 * (or `net/ipv4/conf/eth0.100/forwarding`).
 */
export function sysctlPath(key: string): string {
  const first = key.search(/[./]/);
  const slashForm = first >= 0 && key[first] === '/';
  const path = slashForm ? key : key.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
  const parts = path.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..') || /[\s\0]/.test(path)) {
    throw new InvalidConfigError(`Cannot use ${JSON.stringify(key)} as a sysctl key: expected names such as net.ipv4.ip_forward`, { field: 'key', value: key });
  }
  return `/proc/sys/${path}`;
}

/** The berth error for a failed fs call, or the original error when it carries no errno. */
function fsError(err: unknown, op: Operation): unknown {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const errno = typeof code === 'string' ? (osConstants.errno as Record<string, number>)[code] : undefined;
  return errno !== undefined ? errorFromErrno(errno, op) : err;
}

function read(key: string): string {
  const path = sysctlPath(key);
  try {
    return readFileSync(path, 'utf8').replace(/\n$/, '');
  } catch (err) {
    throw fsError(err, { action: `read sysctl ${key}`, command: `sysctl ${key}` });
  }
}

function write(key: string, value: string): void {
  const path = sysctlPath(key);
  let fd: number | undefined;
  try {
    // O_WRONLY without O_CREAT: some keys are write-only, and none may be created.
    fd = openSync(path, fsConstants.O_WRONLY);
    writeSync(fd, value);
  } catch (err) {
    throw fsError(err, { action: `set sysctl ${key}`, command: `sysctl -w ${key}=${value}` });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Sysctls of the current namespace (`sysctl KEY`, `sysctl -w KEY=VALUE`). A missing key
 * throws NotFoundError; a refused value throws KernelError.
 */
export const sysctl: Sysctl = { read, write };

/** Sysctls of the network namespace at `netnsPath` (each access switches in and back). */
export function openSysctl(netnsPath?: string): Sysctl {
  if (netnsPath === undefined) return sysctl;
  return {
    read: (key) => inNetns(netnsPath, () => read(key)),
    write: (key, value) => inNetns(netnsPath, () => write(key, value)),
  };
}
