/**
 * Field errors worded the way the Kubernetes API server words them
 * (k8s.io/apimachinery `field.Error`), collected while a manifest is read, and turned into
 * one InvalidObjectError per object:
 *
 *     NetworkPolicy.networking.k8s.io "deny" is invalid: spec.ingress[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive
 */
import { InvalidObjectError, type FieldProblem } from '../../core/errors.js';

/** One problem with one field; `message` is the complete line, path first. */
export type FieldError = FieldProblem;

/** How the API server prints a value inside a field error: strings quoted, the rest as JSON. */
function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return JSON.stringify(value) ?? String(value);
}

/** `path: Invalid value: V: detail`. */
export function invalid(field: string, value: unknown, detail: string): FieldError {
  return { field, message: `${field}: Invalid value: ${showValue(value)}: ${detail}` };
}

/** `path: Required value[: detail]`. */
export function required(field: string, detail = ''): FieldError {
  return { field, message: `${field}: Required value${detail ? `: ${detail}` : ''}` };
}

/** `path: Forbidden: detail`. */
export function forbidden(field: string, detail: string): FieldError {
  return { field, message: `${field}: Forbidden: ${detail}` };
}

/** `path: Unsupported value: V: supported values: "A", "B"`. */
export function notSupported(field: string, value: unknown, supported: readonly string[]): FieldError {
  return { field, message: `${field}: Unsupported value: ${showValue(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` };
}

/** A key the object's schema does not have (the API server's strict field validation). */
export function unknownField(field: string): FieldError {
  return { field, message: `unknown field ${JSON.stringify(field)}` };
}

/** A value of the wrong JSON type (what the API server reports as a decoding error). */
export function wrongType(field: string, value: unknown, expected: string): FieldError {
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return { field, message: `${field}: Invalid value: ${showValue(value)}: must be ${expected}, not ${got}` };
}

/**
 * The API server's aggregate: `Kind.group "name" is invalid: <one error>` or
 * `... is invalid: [<error>, <error>]`.
 */
export function invalidObject(qualifiedKind: string, name: string, errors: readonly FieldError[]): InvalidObjectError {
  const list = errors.length === 1 ? errors[0]!.message : `[${errors.map((e) => e.message).join(', ')}]`;
  return new InvalidObjectError(`${qualifiedKind} ${JSON.stringify(name)} is invalid: ${list}`, errors);
}
