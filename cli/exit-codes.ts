/**
 * The CLI's one table from berth error codes to exit statuses (cli/ maps each error
 * to a message and an exit status).
 *
 *   0   success
 *   1   berthd refused or failed the request (not found, conflict, kernel error, ...), or its
 *       socket may not be opened by this user (EACCES, EPERM)
 *   2   bad usage or invalid input (unknown option, bad subnet, unknown driver option)
 *   69  berthd cannot be reached (EX_UNAVAILABLE): no socket (ENOENT), nobody listening
 *       (ECONNREFUSED)
 */
import { asBerthError, BerthError, type ErrorCode } from '../core/errors.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNAVAILABLE = 69;

const BY_CODE: Partial<Record<ErrorCode, number>> = {
  'invalid-config': EXIT_USAGE,
  'unsupported-field': EXIT_USAGE,
  decode: EXIT_USAGE,
  'not-available': EXIT_UNAVAILABLE,
};

/** errnos of a connect to berthd's socket that mean "you may not", not "nobody is there". */
const DENIED = new Set(['EACCES', 'EPERM']);

/**
 * The errno of a failed connect to berthd's socket, if `err` (or an error it wraps) is one: a
 * Node system error (`code` and `syscall: 'connect'`), or the NotAvailableError the API client
 * makes of gRPC's UNAVAILABLE (code `not-available`), which carries only the text of the
 * underlying error ("... connect EACCES /run/berth/berthd.sock ...").
 */
export function connectErrno(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, syscall, message } = e as { code?: unknown; syscall?: unknown; message?: unknown };
    if (syscall === 'connect' && typeof code === 'string') return code;
    const inText = code === 'not-available' && typeof message === 'string' ? /\bconnect (E[A-Z]+)\b/.exec(message) : null;
    if (inText) return inText[1];
  }
  return undefined;
}

/** Whether `err` is berthd's socket refusing this user (EACCES or EPERM on connect). */
export function isPermissionDenied(err: unknown): boolean {
  const errno = connectErrno(err);
  return errno !== undefined && DENIED.has(errno);
}

/** The socket a connect error is about: the API client's NotAvailableError names it in `value`. */
function socketOf(err: unknown): string | undefined {
  if (err instanceof BerthError && err.fields.value) return err.fields.value;
  const address = (err as { address?: unknown } | null)?.address;
  return typeof address === 'string' ? address : undefined;
}

/** The exit status for an error thrown by a command. */
export function exitCodeOf(err: unknown): number {
  if ((err as { code?: unknown } | null)?.code?.toString().startsWith('ERR_PARSE_ARGS')) return EXIT_USAGE;
  const errno = connectErrno(err);
  if (errno !== undefined && DENIED.has(errno)) return EXIT_FAILED;
  if (errno === 'ENOENT' || errno === 'ECONNREFUSED') return EXIT_UNAVAILABLE;
  return BY_CODE[asBerthError(err).code] ?? EXIT_FAILED;
}

/** What `berth` prints (after "berth: ") and the status it exits with, for an error a command threw. */
export function describeFailure(err: unknown): { readonly message: string; readonly exitCode: number } {
  const exitCode = exitCodeOf(err);
  const errno = connectErrno(err);
  const socket = socketOf(err) ?? "berthd's socket";
  if (errno !== undefined && DENIED.has(errno)) {
    return { message: `permission denied on ${socket}: run as root (or as a member of the socket's group)`, exitCode };
  }
  if (!(err instanceof BerthError) && (errno === 'ENOENT' || errno === 'ECONNREFUSED')) {
    return { message: `Cannot reach berthd at ${socket}: is it running? (${errno})`, exitCode };
  }
  return { message: asBerthError(err).message, exitCode };
}
