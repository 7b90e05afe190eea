/**
 * The one error hierarchy of berth. Every layer throws these; only the protocol edges
 * (cni/, daemon/, cli/) map them to wire formats, each through one table.
 * Idempotency decisions rest on the class or `code`, never on message text.
 */

/** Stable, documented error codes. They appear in logs, CLI output and API errors. */
export type ErrorCode =
  | 'invalid-config'
  | 'unsupported-field'
  | 'decode'
  | 'env'
  | 'version'
  | 'io'
  | 'container-unknown'
  | 'pool-exhausted'
  | 'address-taken'
  | 'duplicate-allocation'
  | 'netns-not-found'
  | 'invalid-netns'
  | 'not-found'
  | 'exists'
  | 'kernel'
  | 'try-again'
  | 'not-available'
  | 'check-failed'
  | 'port-conflict'
  | 'internal';

/** Structured context carried by an error, for logs and API details. */
export interface ErrorFields {
  /** Config field or parameter the error is about, as a dotted path (`ipam.ranges[0][0].subnet`). */
  readonly field?: string;
  /** The offending value, rendered as text. */
  readonly value?: string;
  /** errno returned by the kernel or libc. */
  readonly errno?: number;
  /** What was attempted, in the words of the equivalent command (`ip link add br0 type bridge`). */
  readonly operation?: string;
  /** Longer explanation, shown as CNI `details`. */
  readonly details?: string;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly fields: ErrorFields;

  constructor(code: ErrorCode, message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.fields = fields;
  }
}

/** Configuration that parses but does not make sense (bad CIDR, range outside subnet, ...). */
export class InvalidConfigError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('invalid-config', message, fields, options);
  }
}

/** A configuration key the component does not know or cannot honour. */
export class UnsupportedFieldError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('unsupported-field', message, fields);
  }
}

/** Input that is not well-formed (JSON syntax, wrong types at the wire level). */
export class DecodeError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('decode', message, fields, options);
  }
}

/** Missing or invalid environment (CNI_* variables). */
export class EnvError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('env', message, fields);
  }
}

/** A protocol version that is not supported, or an operation the version does not have. */
export class VersionError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('version', message, fields);
  }
}

/** Reading or writing local state failed. */
export class IoError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('io', message, fields, options);
  }
}

/** Every address of a pool is in use. */
export class PoolExhaustedError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('pool-exhausted', message, fields);
  }
}

/** A specific address was requested but is held by someone else (or is reserved). */
export class AddressTakenError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('address-taken', message, fields);
  }
}

/** The network namespace path does not exist (any more). */
export class NetnsNotFoundError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('netns-not-found', message, fields, options);
  }
}

/** The namespace given is not usable for the operation (for example, it is the caller's own). */
export class InvalidNetnsError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('invalid-netns', message, fields);
  }
}

/** A kernel object (link, address, route, rule) does not exist. */
export class NotFoundError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('not-found', message, fields, options);
  }
}

/** A kernel object already exists. */
export class AlreadyExistsError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('exists', message, fields, options);
  }
}

/** Any other failure reported by the kernel or a system library. */
export class KernelError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('kernel', message, fields, options);
  }
}

/** A transient condition; the caller should retry later. */
export class TryAgainError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super('try-again', message, fields, options);
  }
}

/** The component cannot serve requests now (STATUS). */
export class NotAvailableError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('not-available', message, fields);
  }
}

/** CHECK found state that differs from what was configured. */
export class CheckFailedError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('check-failed', message, fields);
  }
}

/**
 * A port mapping asks for an external (host) port that another mapping already holds, or
 * one request asks for the same port twice. The message names the holder.
 */
export class PortConflictError extends BerthError {
  constructor(message: string, fields: ErrorFields = {}) {
    super('port-conflict', message, fields);
  }
}

/** One reason an object was rejected: the field path and the reason, as the API server words it. */
export interface FieldProblem {
  /** Dotted path with indexes (`spec.ingress[0].ports[0].endPort`); empty for the whole object. */
  readonly field: string;
  /** The whole line, path included (`spec.ingress[0].ports[0].endPort: Invalid value: 79: ...`). */
  readonly message: string;
}

/**
 * A Kubernetes-style object (NetworkPolicy, Pod, Namespace) that fails validation. The message
 * has the API server's shape (`NetworkPolicy.networking.k8s.io "deny" is invalid: spec...`);
 * `problems` lists every field at fault, `fields.field` names the first. Code `invalid-config`.
 */
export class InvalidObjectError extends InvalidConfigError {
  readonly problems: readonly FieldProblem[];

  constructor(message: string, problems: readonly FieldProblem[], fields: ErrorFields = {}) {
    super(message, { ...(problems[0] ? { field: problems[0].field } : {}), ...fields });
    this.problems = problems;
  }
}

/** Wraps anything that is not a BerthError so that edges see one type. */
export function asBerthError(err: unknown): BerthError {
  if (err instanceof BerthError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BerthError('internal', message, {}, { cause: err });
}
