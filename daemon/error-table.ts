/**
 * The one table that maps berth's error codes to what berthd's protocol edges send: the HTTP
 * status of a Docker plugin reply (whose body is always `{"Err": message}`) and the gRPC
 * status of an API reply. Drivers and services throw core/errors classes and never choose a
 * wire status themselves.
 */
import { status } from '@grpc/grpc-js';
import { asBerthError, type BerthError, type ErrorCode } from '../core/errors.js';

interface WireStatus {
  /** HTTP status of the Docker plugin reply. Docker treats every non-200 as failure and shows `Err`. */
  readonly http: number;
  readonly grpc: status;
}

const TABLE: Readonly<Record<ErrorCode, WireStatus>> = {
  'invalid-config': { http: 400, grpc: status.INVALID_ARGUMENT },
  'unsupported-field': { http: 400, grpc: status.INVALID_ARGUMENT },
  decode: { http: 400, grpc: status.INVALID_ARGUMENT },
  env: { http: 500, grpc: status.FAILED_PRECONDITION },
  version: { http: 400, grpc: status.UNIMPLEMENTED },
  io: { http: 500, grpc: status.INTERNAL },
  'container-unknown': { http: 404, grpc: status.NOT_FOUND },
  'pool-exhausted': { http: 500, grpc: status.RESOURCE_EXHAUSTED },
  'address-taken': { http: 409, grpc: status.ALREADY_EXISTS },
  'duplicate-allocation': { http: 409, grpc: status.ALREADY_EXISTS },
  'netns-not-found': { http: 404, grpc: status.NOT_FOUND },
  'invalid-netns': { http: 400, grpc: status.INVALID_ARGUMENT },
  'not-found': { http: 404, grpc: status.NOT_FOUND },
  exists: { http: 409, grpc: status.ALREADY_EXISTS },
  kernel: { http: 500, grpc: status.INTERNAL },
  'try-again': { http: 503, grpc: status.UNAVAILABLE },
  'not-available': { http: 503, grpc: status.UNAVAILABLE },
  'check-failed': { http: 500, grpc: status.FAILED_PRECONDITION },
  'port-conflict': { http: 409, grpc: status.ALREADY_EXISTS },
  internal: { http: 500, grpc: status.INTERNAL },
};

/** The Docker plugin reply for an error: status and `{"Err": ...}` body. */
export function dockerErrorReply(err: unknown): { status: number; body: { Err: string } } {
  const e = asBerthError(err);
  return { status: TABLE[e.code].http, body: { Err: messageOf(e) } };
}

/** The gRPC status code of an error; the CLI gets the berth code in metadata too. */
export function grpcStatusOf(err: unknown): status {
  return TABLE[asBerthError(err).code].grpc;
}

/**
 * The text a person sees: the message, then the longer explanation when there is one.
 * Internal errors (bugs, not user mistakes) say so, so nobody hunts for a typo.
 */
export function messageOf(e: BerthError): string {
  const base = e.code === 'internal' ? `berthd internal error: ${e.message}` : e.message;
  return e.fields.details ? `${base} (${e.fields.details})` : base;
}
