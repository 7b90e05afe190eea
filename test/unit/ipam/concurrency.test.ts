import test, { type ExecutionContext } from 'ava';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpamSync } from '../../../ipam/allocator.js';
import { parseIpamConfig } from '../../../ipam/config.js';
import { FileStore } from '../../../store/file/file-store.js';

const worker = new URL('./fixtures/allocate-worker.js', import.meta.url);

type Message = { ready?: true; cid?: string; address?: string; released?: string; done?: number };

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipam-conc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function start(t: ExecutionContext, args: string[], onMessage: (m: Message) => void): { child: ChildProcess; exited: Promise<NodeJS.Signals | number | null> } {
  const child = fork(worker, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  child.on('message', (m) => onMessage(m as Message));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  return { child, exited };
}

test('64 processes allocating at once from one data dir get 64 distinct addresses', async (t) => {
  const dir = tempDir(t);
  const subnet = '10.64.0.0/24';
  let ready = 0;
  let allReady: () => void = () => {};
  const readyPromise = new Promise<void>((resolve) => (allReady = resolve));
  const got = new Map<string, string>();
  const workers = Array.from({ length: 64 }, (_, i) =>
    start(t, ['once', dir, 'conc', subnet, `ctr-${i}`], (m) => {
      if (m.ready && ++ready === 64) allReady();
      if (m.cid && m.address) got.set(m.cid, m.address);
    }),
  );
  await readyPromise;
  for (const w of workers) w.child.send('go');
  t.deepEqual(
    await Promise.all(workers.map((w) => w.exited)),
    Array.from({ length: 64 }, () => 0),
  );

  t.is(got.size, 64);
  t.is(new Set(got.values()).size, 64, 'no address was handed out twice');
  const ipam = new IpamSync(new FileStore({ dataDir: dir }));
  const held = ipam.list('conc');
  t.is(held.length, 64);
  for (const h of held) t.is(got.get(h.containerId), String(h.address.address.address));
  const { rangeSets } = parseIpamConfig({ ipam: { ranges: [[{ subnet }]] } });
  t.is(ipam.usage('conc', rangeSets).used, 64);
});

test('processes SIGKILLed while allocating leave a whole document; gc with the survivors as valid recovers every leaked address', async (t) => {
  const dir = tempDir(t);
  const subnet = '10.65.0.0/21';
  const { rangeSets } = parseIpamConfig({ ipam: { ranges: [[{ subnet }]] } });
  const store = new FileStore({ dataDir: dir });
  const ipam = new IpamSync(store);
  /** What surviving workers hold, as they reported it: cid -> address. */
  const survivorsHold = new Map<string, string>();
  let killed = 0;

  for (let round = 0; round < 3; round++) {
    const workers = Array.from({ length: 10 }, (_, i) => {
      const reports: Message[] = [];
      let firstAllocation: () => void = () => {};
      const allocating = new Promise<void>((resolve) => (firstAllocation = resolve));
      const w = start(t, ['loop', dir, 'kill-net', subnet, `r${round}w${i}`, '60'], (m) => {
        reports.push(m);
        if (m.address) firstAllocation();
      });
      return { ...w, reports, allocating, victim: i % 2 === 0 };
    });
    await Promise.all(
      workers.map(async (w) => {
        await Promise.race([w.allocating, w.exited]);
        await new Promise((r) => setTimeout(r, Math.random() * 80));
        if (w.victim) {
          w.child.kill('SIGKILL');
          killed++;
        } else {
          w.child.send('stop');
        }
        const how = await w.exited;
        if (w.victim) return;
        t.is(how, 0);
        t.true(
          w.reports.some((m) => m.done !== undefined),
          'a survivor reports everything before it exits',
        );
        for (const m of w.reports) {
          if (m.cid && m.address) survivorsHold.set(m.cid, m.address);
          if (m.released) survivorsHold.delete(m.released);
        }
      }),
    );

    // After every round: the document reads whole, no address has two holders, no owner two addresses.
    const held = ipam.list('kill-net');
    t.is(new Set(held.map((h) => String(h.address.address.address))).size, held.length);
    t.is(new Set(held.map((h) => h.containerId)).size, held.length);
  }
  t.true(killed >= 15);

  const before = ipam.list('kill-net');
  for (const [cid, address] of survivorsHold) {
    t.is(String(before.find((h) => h.containerId === cid)?.address.address.address), address, `${cid} holds what it reported`);
  }
  const valid = [...survivorsHold.keys()].map((containerId) => ({ containerId, ifname: 'eth0' }));
  const released = ipam.gc('kill-net', valid);
  t.is(released.length, before.length - survivorsHold.size);
  t.true(released.every((r) => !survivorsHold.has(r.containerId)));
  const after = ipam.list('kill-net');
  const sorted = (entries: Iterable<[string, string]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : 1));
  t.deepEqual(sorted(after.map((h) => [h.containerId, String(h.address.address.address)])), sorted(survivorsHold));
  t.is(ipam.usage('kill-net', rangeSets).used, survivorsHold.size);

  // What killed writers left (temp files, lock files of nothing) is swept, and the store still works.
  const swept = store.sweepSync();
  t.log(`${killed} killed; gc released ${released.length} leaked addresses; swept ${JSON.stringify(swept)}`);
  t.deepEqual(
    readdirSync(join(dir, 'kv')).filter((f) => f.endsWith('~tmp')),
    [],
  );
  t.is(ipam.allocate({ network: 'kill-net', containerId: 'after', ifname: 'eth0', rangeSets }).length, 1);
});
