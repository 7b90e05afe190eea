/**
 * Loads koffi (the FFI library) the fast way.
 *
 * A CNI plugin is a new process per pod, so start-up time matters: importing the `koffi`
 * package entry costs 10-18 ms of platform detection, while loading the prebuilt
 * `koffi.node` of the platform package directly costs about 1 ms and exposes the same API.
 * The package entry stays as the fallback for platforms whose file layout we do not know.
 */
import { createRequire } from 'node:module';
import type * as KoffiModule from 'koffi';

export type Koffi = typeof KoffiModule;

let cached: Koffi | undefined;

/**
 * Where berth's `node_modules` lives. Installed plugin copies (which sit in a CNI bin
 * directory, away from the package) set `globalThis.__berthHome` in their header.
 */
function requireBase(): string {
  const home = (globalThis as { __berthHome?: string }).__berthHome;
  return home ? `${home}/package.json` : import.meta.url;
}

export function loadKoffi(): Koffi {
  if (cached) return cached;
  const req = createRequire(requireBase());
  const platformDir = `${process.platform}_${process.arch === 'x64' ? 'x64' : process.arch}`;
  try {
    cached = req(`@koromix/koffi-${process.platform}-${process.arch}/${platformDir}/koffi.node`) as Koffi;
  } catch {
    cached = req('koffi') as Koffi;
  }
  return cached;
}
