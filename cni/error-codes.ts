/**
 * The one table from berth's error codes to CNI error codes (spec §"Error codes";
 * 100 and up are berth's own, listed in the README).
 */
import type { BerthError, ErrorCode } from '../core/errors.js';

export const CNI_CODE: Readonly<Record<ErrorCode, number>> = {
  version: 1,
  'unsupported-field': 2,
  'container-unknown': 3,
  env: 4,
  io: 5,
  decode: 6,
  'invalid-config': 7,
  'invalid-netns': 8,
  'try-again': 11,
  'not-available': 50,
  // berth-specific, >= 100
  'pool-exhausted': 100,
  'address-taken': 101,
  'duplicate-allocation': 102,
  'netns-not-found': 103,
  'not-found': 104,
  exists: 105,
  kernel: 106,
  'check-failed': 107,
  'port-conflict': 108,
  internal: 999,
};

/** The CNI error object printed on stdout. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function toCniError(err: BerthError, cniVersion: string): CniErrorJson {
  const out: CniErrorJson = { cniVersion, code: CNI_CODE[err.code], msg: err.message };
  const details = detailsOf(err);
  if (details) out.details = details;
  return out;
}

function detailsOf(err: BerthError): string | undefined {
  const parts: string[] = [];
  if (err.fields.details) parts.push(err.fields.details);
  if (err.fields.operation) parts.push(`operation: ${err.fields.operation}`);
  if (err.fields.errno !== undefined) parts.push(`errno: ${err.fields.errno}`);
  parts.push(`berth code: ${err.code}`);
  return parts.join('; ');
}
