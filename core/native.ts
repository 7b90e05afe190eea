/**
 * Loads koffi (the FFI library) the fast way.
 *
 * A CNI plugin is a new process per pod, so start-up time matters: importing the `koffi`
 * package entry costs 10-18 ms of platform detection, while loading the prebuilt
 * `koffi.node` of the platform package directly, by absolute path (no package.json lookups),
 * costs about 1 ms and exposes the same API. The package entry stays as the fallback for
 * platforms whose file layout we do not know.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as KoffiModule from 'koffi';

export type Koffi = typeof KoffiModule;

let cached: Koffi | undefined;

/**
 * berth's package root. Installed plugin copies (which sit in a CNI bin directory, away from
 * the package) set `globalThis.__berthHome` in their header; built files live two levels
 * below the root (dist/bin/*, dist/core/*).
 */
export function berthHome(): string {
  const home = (globalThis as { __berthHome?: string }).__berthHome;
  return home ?? fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
}

export function loadKoffi(): Koffi {
  if (cached) return cached;
  const home = berthHome();
  const req = createRequire(`${home}/package.json`);
  const arch = `${process.platform}_${process.arch}`;
  try {
    cached = req(`${home}/node_modules/@koromix/koffi-${process.platform}-${process.arch}/${arch}/koffi.node`) as Koffi;
  } catch {
    cached = req('koffi') as Koffi;
  }
  return cached;
}
