/**
 * `berth install --cni-bin-dir DIR`: puts the CNI plugins where a container runtime looks
 * for them, as executables that work in a runtime's bare environment (kubelet and
 * containerd run plugins with a minimal PATH: `node` may not be on it). Each installed file
 * is the plugin's bundle with the absolute path of this Node binary in its `#!` line and
 * the location of berth's own modules (for koffi's native module) in its header.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError, IoError } from '../../core/errors.js';

export const CNI_PLUGINS = ['berth-bridge', 'berth-ipam'] as const;

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
  for (const name of CNI_PLUGINS) {
    const src = join(root, 'dist', 'bin', name);
    let text: string;
    try {
      text = readFileSync(src, 'utf8');
    } catch (err) {
      throw new IoError(`Cannot read ${src}: run "npm run build" first`, { operation: `read ${src}` }, { cause: err });
    }
    const body = text.startsWith('#!') ? text.slice(text.indexOf('\n') + 1) : text;
    const header = `#!${node}\n// Installed by "berth install" from ${root}\nglobalThis.__berthHome = ${JSON.stringify(root)};\n`;
    const dest = join(opts.cniBinDir, name);
    const tmp = `${dest}.berth-tmp-${process.pid}`;
    try {
      writeFileSync(tmp, header + body, { mode: 0o755 });
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
