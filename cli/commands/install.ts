/**
 * `berth install --cni-bin-dir DIR`: puts the CNI plugins where a container runtime looks
 * for them. Each installed file is the native shim (cni/shim): a small static program that
 * hands the request to berthd's CNI socket, and when berthd is not running runs the
 * in-process Node plugin, whose Node binary and launcher (dist/bin/NAME-node) are recorded in
 * the shim at install time as absolute paths. So the file works in a runtime's bare
 * environment (no `node` on PATH) and from any folder it is copied to; re-run the install
 * after moving berth or Node.
 */
import { accessSync, constants, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError, IoError } from '../../core/errors.js';
import { CNI_PLUGIN_NAMES } from '../../drivers/catalog.js';
import { withShimSettings } from '../../cni/shim-settings.js';
import { installFile } from './install-file.js';
import { checkNode } from './install-units.js';

/** The package root: dist/bin/berth → ../.. */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function installPlugins(opts: { cniBinDir: string; nodePath?: string; root?: string; socket?: string }): string[] {
  const root = opts.root ?? packageRoot();
  const node = opts.nodePath ?? process.execPath;
  if (!opts.cniBinDir) throw new InvalidConfigError('--cni-bin-dir is required', { field: '--cni-bin-dir' });
  // The fallback runs on it: a Node older than berth needs would fail only when berthd is down.
  checkNode(node);
  mkdirSync(opts.cniBinDir, { recursive: true });
  const template = readBuilt(join(root, 'dist', 'bin', 'cni-shim'));
  const installed: string[] = [];
  for (const name of CNI_PLUGIN_NAMES) {
    const launcher = join(root, 'dist', 'bin', `${name}-node`);
    readBuilt(launcher);
    const shim = withShimSettings(template, { plugin: name, socket: opts.socket ?? '/run/berth/cni.sock', node, launcher });
    const dest = join(opts.cniBinDir, name);
    installFile(dest, shim, 0o755);
    installed.push(dest);
  }
  return installed;
}

function readBuilt(path: string): Buffer {
  try {
    accessSync(path, constants.R_OK);
    return readFileSync(path);
  } catch (err) {
    throw new IoError(`Cannot read ${path}: run "npm run build" first`, { operation: `read ${path}` }, { cause: err });
  }
}
