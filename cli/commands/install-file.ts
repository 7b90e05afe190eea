import { chmodSync, renameSync, writeFileSync } from 'node:fs';
import { IoError } from '../../core/errors.js';

/**
 * Writes `dest` with `mode` through a temporary file renamed over it: a runtime may be
 * executing the old plugin, or systemd reading the old unit, right now.
 */
export function installFile(dest: string, data: string | Uint8Array, mode: number): void {
  const tmp = `${dest}.berth-tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode });
    // Past the umask, which writeFileSync's mode is subject to.
    chmodSync(tmp, mode);
    renameSync(tmp, dest);
  } catch (err) {
    throw new IoError(`Cannot install ${dest}: ${(err as Error).message}`, { operation: `install ${dest}` }, { cause: err });
  }
}
