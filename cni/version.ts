/**
 * CNI spec versions: which ones berth speaks and how they compare.
 */
import { VersionError } from '../core/errors.js';

/** Every version a berth plugin accepts in `cniVersion`, oldest first. */
export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: CniVersion = '1.1.0';

export function isSupported(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compares two dotted versions numerically. Throws VersionError on a malformed one. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function parseVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m) throw new VersionError(`Invalid CNI version "${v}": expected MAJOR.MINOR.PATCH`, { field: 'cniVersion', value: v });
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function atLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}
