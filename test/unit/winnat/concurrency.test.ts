import test from 'ava';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeNat, natStateDir } from '../../../drivers/nat/index.js';

const worker = new URL('./fixtures/publish-worker.js', import.meta.url);

test('32 processes asking for ephemeral ports at once on one state get 64 distinct ports', async (t) => {
  const runDir = mkdtempSync(join(tmpdir(), 'berth-winnat-conc-'));
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const n = 32;
  let ready = 0;
  let allReady: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => (allReady = resolve));
  const got: number[][] = [];
  const children: { child: ChildProcess; exited: Promise<number | null> }[] = Array.from({ length: n }, (_, i) => {
    const child = fork(worker, [natStateDir(runDir), `c${i}`, '2'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    t.teardown(() => {
      child.kill('SIGKILL');
    });
    child.on('message', (m: { ready?: boolean; ports?: number[] }) => {
      if (m.ready && ++ready === n) allReady();
      if (m.ports) got.push(m.ports);
    });
    return { child, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
  });
  await readyPromise;
  for (const c of children) c.child.send('go');
  t.deepEqual(
    await Promise.all(children.map((c) => c.exited)),
    Array.from({ length: n }, () => 0),
  );
  const ports = got.flat();
  t.is(ports.length, 2 * n);
  t.is(new Set(ports).size, 2 * n, 'no port was handed out twice');
  const d = describeNat({ runDir });
  t.is(d.staticMappings.length, 2 * n);
  // Sorted: deepEqual compares a Set's insertion order, which depends on which child finished first.
  t.deepEqual(
    d.staticMappings.map((m) => m.externalPort).sort((a, b) => a - b),
    [...ports].sort((a, b) => a - b),
  );
});
