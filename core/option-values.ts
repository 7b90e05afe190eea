/**
 * Parsing of `-o key=value` strings (Docker passes every driver option as a string) into
 * typed values, with errors that name the key the user typed.
 */
import { InvalidConfigError } from './errors.js';

/** `true/false`, `1/0`, `yes/no`, `on/off`, any case. */
export function parseBoolOption(key: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new InvalidConfigError(`Option ${key}=${JSON.stringify(value)} is not a boolean (use true or false)`, { field: key, value });
}

export function parseIntOption(key: string, value: string, range: { min: number; max: number }): number {
  const v = value.trim();
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new InvalidConfigError(`Option ${key}=${JSON.stringify(value)} is not an integer from ${range.min} to ${range.max}`, { field: key, value });
  }
  return n;
}

/** Throws for keys not in `known`, listing them so the user sees what is accepted. */
export function rejectUnknownOptions(driver: string, raw: Readonly<Record<string, string>>, known: readonly string[]): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw new InvalidConfigError(`Unknown option ${JSON.stringify(key)} for driver ${driver}; it accepts: ${known.join(', ')}`, { field: key, value: raw[key] ?? '' });
    }
  }
}
