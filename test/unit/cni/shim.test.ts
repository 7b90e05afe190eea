/**
 * The native CNI shim (cni/shim/main.go) on its own, without berthd: VERSION, and the fallback
 * it runs when no berthd listens, here a shell script standing in for the Node plugin.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withShimSettings } from '../../../cni/shim-settings.js';
import { DIST_BIN, runPlugin } from '../../support/netns.js';
import { until } from '../../support/store-contract.js';

/** A shim whose "Node binary" is /bin/sh and whose fallback is `script`; no berthd listens. */
function shimWith(t: { teardown(fn: () => void): void }, script: string): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-shim-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const launcher = join(dir, 'fallback.sh');
  writeFileSync(launcher, script, { mode: 0o755 });
  const path = join(dir, 'berth-bridge');
  const settings = { plugin: 'berth-bridge', socket: join(dir, 'no-berthd.sock'), node: '/bin/sh', launcher };
  writeFileSync(path, withShimSettings(readFileSync(join(DIST_BIN, 'cni-shim')), settings), { mode: 0o755 });
  return { path, dir };
}

/** Alive, and not a zombie waiting for its reaper. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('VERSION is answered by the shim itself, in the caller`s version when it is one of ours', async (t) => {
  const { path } = shimWith(t, 'exit 99\n');
  const r = await runPlugin(path, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}');
  t.is(r.code, 0);
  const v = JSON.parse(r.stdout) as { cniVersion: string; supportedVersions: string[] };
  t.is(v.cniVersion, '0.4.0');
  t.true(v.supportedVersions.includes('1.1.0'));
});

test('without berthd the fallback gets the same stdin and environment, and its output and exit status are the plugin`s', async (t) => {
  const { path, dir } = shimWith(t, 'cat > "$OUT_DIR/stdin"; echo "$CNI_COMMAND"; exit 7\n');
  const stdin = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'berth-bridge', big: 'x'.repeat(200_000) });
  const r = await runPlugin(path, { CNI_COMMAND: 'ADD', OUT_DIR: dir }, stdin);
  t.is(r.code, 7);
  t.is(r.stdout, 'ADD\n');
  t.is(readFileSync(join(dir, 'stdin'), 'utf8'), stdin);
});

test('a fallback killed by a signal is a CNI error 11 naming it', async (t) => {
  const { path } = shimWith(t, 'kill -9 $$\n');
  const r = await runPlugin(path, { CNI_COMMAND: 'DEL' }, '{"cniVersion":"1.0.0"}');
  t.is(r.code, 1);
  const e = JSON.parse(r.stdout) as { cniVersion: string; code: number; msg: string };
  t.is(e.cniVersion, '1.0.0');
  t.is(e.code, 11);
  t.regex(e.msg, /the fallback plugin .*fallback\.sh was killed by signal 9/);
});

test('a runtime that kills the shim (its timeout) kills the fallback with it', async (t) => {
  const { path, dir } = shimWith(t, 'echo $$ > "$OUT_DIR/pid.tmp"; mv "$OUT_DIR/pid.tmp" "$OUT_DIR/pid"; exec sleep 60\n');
  // Its stdout is not piped here: a surviving fallback would hold the pipe open.
  const shim = spawn(path, [], { env: { PATH: '/usr/bin:/bin', CNI_COMMAND: 'ADD', OUT_DIR: dir }, stdio: ['pipe', 'ignore', 'inherit'] });
  shim.stdin.end('{}');
  const pidFile = join(dir, 'pid');
  await until(() => existsSync(pidFile));
  t.true(existsSync(pidFile), 'the fallback started');
  const fallback = Number(readFileSync(pidFile, 'utf8'));
  t.true(alive(fallback));
  shim.kill('SIGKILL');
  await until(() => !alive(shim.pid!));
  t.false(alive(shim.pid!), 'the shim is gone');
  await until(() => !alive(fallback));
  t.false(alive(fallback), 'the fallback died with the shim');
});
