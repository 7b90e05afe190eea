/**
 * Turns an errno from the kernel into berth's error classes. Callers branch on the class
 * (NotFoundError, AlreadyExistsError) for idempotency, so the mapping lives in this one place.
 */
import { AlreadyExistsError, KernelError, NotFoundError } from '../../core/errors.js';
import type { BerthError } from '../../core/errors.js';
import { libc } from './libc.js';

export const ENOENT = 2;
export const ESRCH = 3;
export const EINVAL = 22;
export const EEXIST = 17;
export const ENODEV = 19;
export const EOPNOTSUPP = 95;
export const EADDRNOTAVAIL = 99;

/** What was attempted, for the error message and the `operation` field. */
export interface Operation {
  /** A verb phrase that follows "Cannot": `add link "br0"`. */
  readonly action: string;
  /** The equivalent command: `ip link add br0 type bridge`. */
  readonly command: string;
  /** The operation removes something: EADDRNOTAVAIL then means it is already gone. */
  readonly removes?: boolean;
}

/**
 * The error for `errno` returned while attempting `op`. `detail` is extra text from the
 * kernel (its extended ACK) or from the caller, appended after the errno's text:
 * `Cannot add link "br0" (ip link add br0 type bridge): File exists`.
 */
export function errorFromErrno(errno: number, op: Operation, detail?: string): BerthError {
  const text = `Cannot ${op.action} (${op.command}): ${libc().strerror(errno)}${detail ? `: ${detail}` : ''}`;
  const fields = { errno, operation: op.command, ...(detail ? { details: detail } : {}) };
  switch (errno) {
    case ENODEV:
    case ENOENT:
    case ESRCH:
      return new NotFoundError(text, fields);
    case EADDRNOTAVAIL:
      return op.removes ? new NotFoundError(text, fields) : new KernelError(text, fields);
    case EEXIST:
      return new AlreadyExistsError(text, fields);
    default:
      return new KernelError(text, fields);
  }
}
