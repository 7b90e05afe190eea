/**
 * `berth install --systemd-dir DIR`: writes berthd's systemd units (packaging/systemd/) with
 * the absolute paths of a Node binary that can run berthd and of berth's folder. The units
 * cannot name a fixed `/usr/bin/node`: on Debian 12 that is Node 18 (berth needs 22 or later)
 * or absent, and setup brings its Node into berth's own `.tools/node`. So the install records
 * the Node that runs it (or --node), after checking its version, as it does for the plugin
 * shims' fallback.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { InvalidConfigError, IoError } from '../../core/errors.js';
import { installFile } from './install-file.js';

/** The oldest Node.js major berth runs on (package.json `engines`). */
export const MIN_NODE_MAJOR = 22;

/** The units written, from packaging/systemd/. */
export const UNIT_FILES = ['berthd.service', 'berthd-cni.socket'] as const;

/**
 * Checks that `node` is an absolute path to a Node.js binary of MIN_NODE_MAJOR or later, and
 * returns its version ("v24.1.0"). A unit or a shim that records another one would fail only
 * later, when systemd or a runtime starts it.
 */
export function checkNode(node: string): string {
  if (!isAbsolute(node)) throw new InvalidConfigError(`The Node binary must be given as an absolute path, not ${JSON.stringify(node)}`, { field: '--node', value: node });
  let version: string;
  if (node === process.execPath) {
    version = process.version;
  } else {
    const r = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : `exit status ${r.status ?? r.signal}`;
      throw new InvalidConfigError(`${node} does not run as Node.js (${why})`, { field: '--node', value: node }, { cause: r.error });
    }
    version = r.stdout.trim();
  }
  const major = /^v(\d+)\./.exec(version)?.[1];
  if (major === undefined || Number(major) < MIN_NODE_MAJOR) {
    throw new InvalidConfigError(`${node} is Node.js ${version || '(no version)'}; berth needs ${MIN_NODE_MAJOR} or later (scripts/setup.sh brings one into .tools/node)`, {
      field: '--node',
      value: node,
    });
  }
  return version;
}

/** Folders systemd's ProtectHome=yes hides from the service. */
const HOME_DIRS = ['/home', '/root', '/run/user'];

/**
 * berthd.service with its placeholders (@NODE@, @BERTH_ROOT@) filled in. Paths go into
 * ExecStart unquoted, so characters systemd would split or expand there are refused.
 */
export function renderBerthdService(template: string, paths: { node: string; root: string }): string {
  for (const [what, path] of [
    ['--node', paths.node],
    ["berth's folder", paths.root],
  ] as const) {
    if (!isAbsolute(path) || !/^[A-Za-z0-9/._+:,~-]+$/.test(path)) {
      throw new InvalidConfigError(`${what} ${JSON.stringify(path)} cannot go into a systemd unit: it must be an absolute path without spaces, quotes, "%", "$" or "\\"`, {
        field: what,
        value: path,
      });
    }
  }
  let text = template.replaceAll('@NODE@', paths.node).replaceAll('@BERTH_ROOT@', paths.root);
  // berth cloned into a home folder (root's /root, as the README's steps do) must stay
  // readable to the service, or it cannot start at all.
  if ([paths.node, paths.root].some((p) => HOME_DIRS.some((h) => p === h || p.startsWith(`${h}/`)))) {
    text = text.replace(/^ProtectHome=yes$/m, '# berth or its Node is in a home folder: readable, not writable.\nProtectHome=read-only');
  }
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new InvalidConfigError(`The unit template still holds ${left[0]} after rendering`, { field: 'packaging/systemd/berthd.service' });
  return text;
}

/** Writes berthd.service (rendered) and berthd-cni.socket into `systemdDir`; returns their paths. */
export function installUnits(opts: { systemdDir: string; root: string; nodePath?: string }): string[] {
  const node = opts.nodePath ?? process.execPath;
  checkNode(node);
  const berthd = join(opts.root, 'dist', 'bin', 'berthd');
  try {
    statSync(berthd);
  } catch (err) {
    throw new IoError(`Cannot find ${berthd}: run "npm run build" first`, { operation: `read ${berthd}` }, { cause: err });
  }
  try {
    if (!statSync(opts.systemdDir).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new IoError(`Cannot install the systemd units into ${opts.systemdDir}: ${(err as Error).message}`, { operation: `install ${opts.systemdDir}` }, { cause: err });
  }
  const written: string[] = [];
  for (const name of UNIT_FILES) {
    const source = join(opts.root, 'packaging', 'systemd', name);
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (err) {
      throw new IoError(`Cannot read ${source}: ${(err as Error).message}`, { operation: `read ${source}` }, { cause: err });
    }
    if (name === 'berthd.service') text = renderBerthdService(text, { node, root: opts.root });
    const dest = join(opts.systemdDir, name);
    installFile(dest, text, 0o644);
    written.push(dest);
  }
  return written;
}
