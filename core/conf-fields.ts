/**
 * Typed reads of plugin configuration keys, each error naming the key and the value,
 * as the spec asks for invalid configuration (code 7) and unsupported fields (code 2).
 */
import { DecodeError, InvalidConfigError } from './errors.js';

export type Conf = Readonly<Record<string, unknown>>;

export function optBool(conf: Conf, key: string, prefix = ''): boolean | undefined {
  const v = conf[key];
  if (v === undefined || v === null) return undefined;
  // libcni accepts "true"/"false" strings for booleans in some places; so do we.
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (typeof v !== 'boolean') throw new DecodeError(`${prefix}${key} must be true or false, not ${JSON.stringify(v)}`, { field: prefix + key, value: JSON.stringify(v) });
  return v;
}

export function optInt(conf: Conf, key: string, range: { min: number; max: number }, prefix = ''): number | undefined {
  const v = conf[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new DecodeError(`${prefix}${key} must be an integer, not ${JSON.stringify(v)}`, { field: prefix + key, value: JSON.stringify(v) });
  if (v < range.min || v > range.max) throw new InvalidConfigError(`${prefix}${key} ${v} is out of range (${range.min}-${range.max})`, { field: prefix + key, value: String(v) });
  return v;
}

export function optString(conf: Conf, key: string, prefix = ''): string | undefined {
  const v = conf[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DecodeError(`${prefix}${key} must be a string, not ${JSON.stringify(v)}`, { field: prefix + key, value: JSON.stringify(v) });
  return v;
}

export function optObject(conf: Conf, key: string, prefix = ''): Conf | undefined {
  const v = conf[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new DecodeError(`${prefix}${key} must be an object`, { field: prefix + key });
  return v as Conf;
}
