/**
 * Exclusive locks on files with flock(2), called through koffi.
 *
 * Why flock and not a lock file whose existence is the lock: the kernel drops a flock when the
 * last descriptor of its open file description closes, which includes the process dying. A CNI
 * plugin SIGKILLed at any point therefore never wedges the next one. flock locks belong to the
 * open file description, so two opens of one file conflict even inside one process.
 *
 * Lock files may be removed by their holder (a deleted key takes its lock file with it). A waiter
 * that then wins the lock holds it on an orphaned inode, so after every acquisition we check that
 * the path still names the inode we locked, and start over if not.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { BerthError, IoError } from '../../core/errors.js';
import { loadKoffi } from '../../core/native.js';

const LOCK_EX = 2;
const LOCK_NB = 4;

/** A held lock. Release it exactly once; the process exiting releases it too. */
export interface FileLock {
  readonly path: string;
  /**
   * Releases the lock. With `remove`, the lock file is unlinked first (while still held), for
   * locks whose subject is gone; waiters notice and retry on a fresh file.
   */
  release(options?: { readonly remove?: boolean }): void;
}

interface Libc {
  readonly flock: (fd: number, operation: number) => number;
  readonly errno: () => number;
  readonly EINTR: number;
  readonly EWOULDBLOCK: number;
}

let libc: Libc | undefined;

/** Binds flock on first use, so importing the store costs nothing until a lock is taken. */
function bindLibc(): Libc {
  if (libc) return libc;
  const koffi = loadKoffi();
  const flock = koffi.load('libc.so.6').func('int flock(int fd, int operation)') as unknown as Libc['flock'];
  const codes = koffi.os.errno;
  libc = { flock, errno: () => koffi.errno(), EINTR: codes.EINTR ?? 4, EWOULDBLOCK: codes.EWOULDBLOCK ?? codes.EAGAIN ?? 11 };
  return libc;
}

/**
 * Lock paths this process holds. A second acquisition of one of them from the same thread
 * would wait for itself forever (flock conflicts between our own descriptors), so the blocking
 * variant refuses instead.
 */
const held = new Set<string>();

/** Takes the lock, waiting as long as it takes. Blocks the thread: for the CNI path. */
export function lockFileSync(path: string): FileLock {
  if (held.has(path)) {
    throw new BerthError('internal', `Cannot lock ${path}: this process already holds it, and waiting would deadlock`, {
      operation: `flock ${path} LOCK_EX`,
    });
  }
  const lock = acquire(path, true);
  if (!lock) throw new BerthError('internal', `flock(LOCK_EX) on ${path} returned without the lock`);
  return lock;
}

/** Takes the lock if nobody holds it, else returns undefined at once. */
export function tryLockFile(path: string): FileLock | undefined {
  return held.has(path) ? undefined : acquire(path, false);
}

/**
 * Takes the lock without blocking the event loop: polls with a growing pause (1 ms up to
 * 25 ms). Never holding a lock across an await is what lets sync and async users share a
 * process; the holders here are CNI processes with sub-millisecond critical sections.
 */
export async function lockFile(path: string): Promise<FileLock> {
  let pause = 1;
  for (;;) {
    const lock = tryLockFile(path);
    if (lock) return lock;
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(pause * 2, 25);
  }
}

function acquire(path: string, wait: boolean): FileLock | undefined {
  const { flock, errno, EINTR, EWOULDBLOCK } = bindLibc();
  for (;;) {
    const fd = openLockFile(path);
    let locked = false;
    try {
      for (;;) {
        if (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) === 0) {
          locked = true;
          break;
        }
        const e = errno();
        if (e === EINTR) continue;
        if (!wait && e === EWOULDBLOCK) break;
        throw new IoError(`Cannot lock ${path}: flock failed with errno ${e}`, { errno: e, operation: `flock ${path} LOCK_EX` });
      }
      if (locked && sameInode(fd, path)) {
        held.add(path);
        return heldLock(path, fd);
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    closeSync(fd);
    if (!locked) return undefined;
    // Locked an inode that was unlinked meanwhile: go round and lock the current file.
  }
}

function heldLock(path: string, fd: number): FileLock {
  let released = false;
  return {
    path,
    release(options = {}) {
      if (released) return;
      released = true;
      held.delete(path);
      try {
        if (options.remove) unlinkSync(path);
      } finally {
        // Closing the last descriptor of the open file description drops the lock.
        closeSync(fd);
      }
    },
  };
}

function openLockFile(path: string): number {
  const flags = constants.O_RDWR | constants.O_CREAT;
  try {
    return openSync(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(path, err);
  }
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return openSync(path, flags, 0o600);
  } catch (err) {
    throw ioError(path, err);
  }
}

function sameInode(fd: number, path: string): boolean {
  const mine = fstatSync(fd);
  try {
    const now = statSync(path);
    return now.ino === mine.ino && now.dev === mine.dev;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(path, err);
  }
}

function ioError(path: string, err: unknown): IoError {
  const e = err as NodeJS.ErrnoException;
  return new IoError(`Cannot open lock file ${path}: ${e.message}`, { ...(e.errno === undefined ? {} : { errno: Math.abs(e.errno) }), operation: `open ${path}` }, { cause: err });
}
