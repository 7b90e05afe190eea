/**
 * Where the lab programs are. cli/ may not import labs/, so the CLI runs them as programs
 * (dist/labs/bin/*.js), found by walking up from this module: from dist/bin/berth (the bundle)
 * and from dist/cli/commands/ alike they sit under dist/labs/bin/.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IoError } from '../../core/errors.js';

/** The path of `dist/labs/bin/<file>`; an IoError when the tree is not built. */
export function labProgram(file: string): string {
  const relative = join('labs', 'bin', file);
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new IoError(`Cannot find ${relative} above ${here}: run "npm run build"`, { operation: `stat ${relative}` });
}
