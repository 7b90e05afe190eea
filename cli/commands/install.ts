/**
 * `berth install --cni-bin-dir DIR`: puts the CNI plugins where a container runtime looks
 * for them, as executables that work in a runtime's bare environment (kubelet and
 * containerd run plugins with a minimal PATH: `node` may not be on it). Each installed file
 * is a small launcher (cni/launcher.ts) with the absolute path of this Node binary in its
 * `#!` line and the absolute paths of berth's home and of the plugin's bundle, which stays in
 * dist/bin: re-run the install after moving berth.
 */
import { accessSync, chmodSync, constants, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError, IoError } from '../../core/errors.js';

export const CNI_PLUGINS = ['berth-bridge', 'berth-ipam', 'berth-nat'] as const;

/** The package root: dist/bin/berth → ../.. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function installPlugins(opts: { cniBinDir: string; nodePath?: string; root?: string }): string[] {
  const root = opts.root ?? packageRoot();
  const node = opts.nodePath ?? process.execPath;
  if (!opts.cniBinDir) throw new InvalidConfigError('--cni-bin-dir is required', { field: '--cni-bin-dir' });
  mkdirSync(opts.cniBinDir, { recursive: true });
  const installed: string[] = [];
  let launcher: string;
  const launcherPath = join(root, 'dist', 'bin', 'launcher.cjs');
  try {
    launcher = readFileSync(launcherPath, 'utf8');
  } catch (err) {
    throw new IoError(`Cannot read ${launcherPath}: run "npm run build" first`, { operation: `read ${launcherPath}` }, { cause: err });
  }
  for (const name of CNI_PLUGINS) {
    const bundle = join(root, 'dist', 'bin', `${name}.bundle.cjs`);
    try {
      accessSync(bundle, constants.R_OK);
    } catch (err) {
      throw new IoError(`Cannot read ${bundle}: run "npm run build" first`, { operation: `read ${bundle}` }, { cause: err });
    }
    const text = `#!${node}\n// Installed by "berth install" from ${root}\nglobalThis.__berthHome = ${JSON.stringify(root)};\nvar __berthBundle = ${JSON.stringify(bundle)};\n${launcher}`;
    const dest = join(opts.cniBinDir, name);
    const tmp = `${dest}.berth-tmp-${process.pid}`;
    try {
      writeFileSync(tmp, text, { mode: 0o755 });
      chmodSync(tmp, 0o755);
      // rename, not overwrite: a runtime may be executing the old file right now.
      renameSync(tmp, dest);
    } catch (err) {
      throw new IoError(`Cannot install ${dest}: ${(err as Error).message}`, { operation: `install ${dest}` }, { cause: err });
    }
    installed.push(dest);
  }
  return installed;
}
