/**
 * `berth install --systemd-dir`: berthd's unit starts berthd with an absolute Node of 22 or
 * later (Debian 12's /usr/bin/node is 18) and berth's own folder, and a Node too old, missing
 * or given relative is refused before anything is written.
 */
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkNode, installUnits, renderBerthdService } from '../../../cli/commands/install-units.js';
import { InvalidConfigError } from '../../../core/errors.js';

/** The repository: dist/test/unit/cli/ → ../../../.. */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const TEMPLATE = readFileSync(join(ROOT, 'packaging', 'systemd', 'berthd.service'), 'utf8');

function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A stand-in "node" that prints `version` for --version. */
function fakeNode(dir: string, version: string): string {
  const path = join(dir, `node-${version}`);
  writeFileSync(path, `#!/bin/sh\necho ${version}\n`, { mode: 0o755 });
  return path;
}

function execStart(unit: string): string | undefined {
  return /^ExecStart=(.*)$/m.exec(unit)?.[1];
}

test('the rendered berthd.service starts berthd with the given absolute Node and berth folder, and says the CNI socket is 0600', (t) => {
  const unit = renderBerthdService(TEMPLATE, { node: '/opt/node-v24/bin/node', root: '/opt/berth' });
  t.is(execStart(unit), '/opt/node-v24/bin/node /opt/berth/dist/bin/berthd --plugin-dir /run/docker/plugins --data-dir /var/lib/berth --run-dir /run/berth');
  t.regex(unit, /^Documentation=file:\/opt\/berth\/README\.md$/m);
  t.notRegex(unit, /@[A-Z_]+@/, 'no placeholder left');
  t.regex(unit, /^ProtectHome=yes$/m);
  t.regex(unit, /CNI socket 0600/);
  t.notRegex(TEMPLATE, /^ExecStart=\//m, 'the template names no Node of its own: only the install fills it in');
});

test('berth cloned under /root: the unit keeps the home folders readable (ProtectHome=read-only), or berthd could not start', (t) => {
  const unit = renderBerthdService(TEMPLATE, { node: '/root/berth/.tools/node/bin/node', root: '/root/berth' });
  t.is(execStart(unit)?.split(' ')[0], '/root/berth/.tools/node/bin/node');
  t.regex(unit, /^ProtectHome=read-only$/m);
  t.notRegex(unit, /^ProtectHome=yes$/m);
});

test('paths systemd would split or expand in ExecStart are refused', (t) => {
  for (const paths of [
    { node: '/opt/my node/bin/node', root: '/opt/berth' },
    { node: '/opt/node/bin/node', root: '/opt/berth 100%' },
    { node: 'node', root: '/opt/berth' },
  ]) {
    t.throws(() => renderBerthdService(TEMPLATE, paths), { instanceOf: InvalidConfigError }, JSON.stringify(paths));
  }
});

test('checkNode accepts this Node and one that says v22, and refuses v18, a missing binary and a relative path', (t) => {
  const dir = scratch(t);
  t.is(checkNode(process.execPath), process.version);
  t.is(checkNode(fakeNode(dir, 'v22.0.0')), 'v22.0.0');
  t.throws(() => checkNode(fakeNode(dir, 'v18.19.0')), { instanceOf: InvalidConfigError, message: /is Node\.js v18\.19\.0; berth needs 22 or later/ });
  t.throws(() => checkNode(join(dir, 'no-such-node')), { instanceOf: InvalidConfigError, message: /does not run as Node\.js/ });
  t.throws(() => checkNode('node'), { instanceOf: InvalidConfigError, message: /absolute path/ });
});

test('installUnits writes both units (0644), the service with this Node; with a Node 18 it writes nothing', (t) => {
  const dir = scratch(t);
  const written = installUnits({ systemdDir: dir, root: ROOT });
  t.deepEqual(written, [join(dir, 'berthd.service'), join(dir, 'berthd-cni.socket')]);
  const unit = readFileSync(join(dir, 'berthd.service'), 'utf8');
  t.is(execStart(unit)?.split(' ').slice(0, 2).join(' '), `${process.execPath} ${join(ROOT, 'dist', 'bin', 'berthd')}`);
  t.true(existsSync(execStart(unit)!.split(' ')[1]!), 'the berthd it starts exists');
  t.is(readFileSync(join(dir, 'berthd-cni.socket'), 'utf8'), readFileSync(join(ROOT, 'packaging', 'systemd', 'berthd-cni.socket'), 'utf8'));
  for (const f of written) t.is(statSync(f).mode & 0o777, 0o644);

  const other = scratch(t);
  t.throws(() => installUnits({ systemdDir: other, root: ROOT, nodePath: fakeNode(other, 'v18.19.0') }), { instanceOf: InvalidConfigError });
  t.false(existsSync(join(other, 'berthd.service')));
});

test('berth install --systemd-dir through the CLI, and a too-old --node refused with exit status 2', (t) => {
  const dir = scratch(t);
  const berth = join(ROOT, 'dist', 'bin', 'berth');
  const ok = spawnSync(process.execPath, [berth, 'install', '--systemd-dir', dir], { encoding: 'utf8' });
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /installed .*berthd\.service\ninstalled .*berthd-cni\.socket\nthen: systemctl daemon-reload/);
  t.is(execStart(readFileSync(join(dir, 'berthd.service'), 'utf8'))?.split(' ')[0], process.execPath);
  const old = spawnSync(process.execPath, [berth, 'install', '--systemd-dir', dir, '--node', fakeNode(dir, 'v18.19.0')], { encoding: 'utf8' });
  t.is(old.status, 2);
  t.regex(old.stderr, /is Node\.js v18\.19\.0; berth needs 22 or later/);
  const none = spawnSync(process.execPath, [berth, 'install'], { encoding: 'utf8' });
  t.is(none.status, 2);
  t.regex(none.stderr, /--cni-bin-dir DIR .* or --systemd-dir DIR is required/);
});
