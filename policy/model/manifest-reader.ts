/**
 * Typed reading of plain JSON-like objects (what a YAML or JSON manifest parses to), with the
 * field path tracked and every problem collected rather than thrown, so that one pass reports
 * all of an object's errors as the API server does. Unknown keys are errors (strict field
 * validation); `null` is read as "absent", as Kubernetes' decoder does.
 */
import { type FieldError, unknownField, wrongType } from './field-errors.js';

/** `spec` + `ingress` → `spec.ingress`. */
export function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** `spec.ingress` + 0 → `spec.ingress[0]`. */
export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

export type PlainObject = Readonly<Record<string, unknown>>;

function isPlainObject(v: unknown): v is PlainObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ManifestReader {
  /** Everything found wrong so far, in reading order. */
  readonly errors: FieldError[] = [];

  report(...errors: FieldError[]): void {
    this.errors.push(...errors);
  }

  /**
   * The value as an object, or undefined when it is absent, null or not an object (reported).
   * Keys outside `known` and `accepted` are reported as unknown; `accepted` lists real schema
   * fields that the engine does not interpret.
   */
  object(value: unknown, path: string, known: readonly string[], accepted: readonly string[] = []): PlainObject | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isPlainObject(value)) {
      this.report(wrongType(path || '<root>', value, 'an object'));
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key) && !accepted.includes(key)) this.report(unknownField(child(path, key)));
    }
    return value;
  }

  /** The value as an array (undefined when absent or null). */
  array(value: unknown, path: string): readonly unknown[] | undefined {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.report(wrongType(path, value, 'a list'));
      return undefined;
    }
    return value;
  }

  string(value: unknown, path: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') {
      this.report(wrongType(path, value, 'a string'));
      return undefined;
    }
    return value;
  }

  /** A 32-bit integer, as Kubernetes' int32 fields are. */
  integer(value: unknown, path: string): number | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < -(2 ** 31) || value >= 2 ** 31) {
      this.report(wrongType(path, value, 'a 32-bit integer'));
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.report(wrongType(path, value, 'a boolean'));
      return undefined;
    }
    return value;
  }

  /** A map of strings to strings (labels, annotations). */
  stringMap(value: unknown, path: string): Record<string, string> | undefined {
    if (value === undefined || value === null) return undefined;
    if (!isPlainObject(value)) {
      this.report(wrongType(path, value, 'a map of strings'));
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value)) {
      if (typeof v !== 'string') this.report(wrongType(child(path, k), v, 'a string'));
      else out[k] = v;
    }
    return out;
  }
}

/** The `metadata` keys of ObjectMeta that the engine accepts; only name, namespace and labels matter. */
export const OBJECT_META_FIELDS = [
  'name',
  'namespace',
  'labels',
  'annotations',
  'uid',
  'resourceVersion',
  'generation',
  'generateName',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'ownerReferences',
  'finalizers',
  'managedFields',
  'selfLink',
] as const;
