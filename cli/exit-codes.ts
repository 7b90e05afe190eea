/**
 * The CLI's one table from berth error codes to exit statuses (DESIGN.md, "Errors": cli/ maps
 * to a message and an exit status).
 *
 *   0   success
 *   1   berthd refused or failed the request (not found, conflict, kernel error, ...)
 *   2   bad usage or invalid input (unknown option, bad subnet, unknown driver option)
 *   69  berthd cannot be reached (EX_UNAVAILABLE)
 */
import { asBerthError, type ErrorCode } from '../core/errors.js';

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

/** The exit status for an error thrown by a command. */
export function exitCodeOf(err: unknown): number {
  if ((err as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) return EXIT_USAGE;
  return BY_CODE[asBerthError(err).code] ?? EXIT_FAILED;
}
