import test from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hostLinks, runPlugin, sh } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, heldAddresses, pods, world } from './fixtures.js';

function held(dataDir: string, network: string): Record<string, { containerId: string }> {
  return Object.fromEntries(heldAddresses(dataDir, network).map((h) => [h.address, { containerId: h.containerId }]));
}

test('64 ADDs in parallel get 64 distinct addresses, and 64 DELs leave nothing', async (t) => {
  const w = world('par');
  const p = pods('bpar', 64);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('par-net', [berthBridge(w, 'par-net', '10.121.0.0/24', { bridge: 'bt-par' })]);
  const c = client(w);
  const results = await Promise.all(p.pods.map((pod) => c.add(pod, conf)));
  for (const r of results) t.is(r.code, 0, r.stderr + r.stdout);
  const addrs = results.map((r) => addressOf(r));
  t.is(new Set(addrs).size, 64);
  t.is(Object.keys(held(w.dataDir, 'par-net')).length, 64);
  t.is(sh('ip', ['-j', 'link', 'show', 'master', 'bt-par']).match(/"ifname"/g)?.length, 64);
  const dels = await Promise.all(p.pods.map((pod) => c.del(pod, conf)));
  for (const r of dels) t.is(r.code, 0, r.stderr + r.stdout);
  t.deepEqual(held(w.dataDir, 'par-net'), {});
  t.false(hostLinks().some((l) => l === 'bt-par' || l.startsWith('bv')));
});

test('ADDs killed with SIGKILL at any point leave nothing that a retry or GC cannot clean', async (t) => {
  const w = world('kill');
  const p = pods('bkill', 12);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const plugin = join(w.cniPath.split(':')[0]!, 'berth-bridge');
  const conf = { cniVersion: '1.1.0', name: 'kill-net', ...berthBridge(w, 'kill-net', '10.122.0.0/24', { bridge: 'bt-kill' }) };
  const env = (pod: (typeof p.pods)[0], command: string) => ({ ...w.env, CNI_COMMAND: command, CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: w.cniPath });
  // Kill each ADD after a different delay, spread over the plugin's whole run (~25-60 ms).
  await Promise.all(
    p.pods.map(
      (pod, i) =>
        new Promise<void>((resolve) => {
          const child = spawn(plugin, [], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env(pod, 'ADD') }, stdio: ['pipe', 'ignore', 'ignore'] });
          child.stdin.end(JSON.stringify(conf));
          setTimeout(() => child.kill('SIGKILL'), 5 + i * 5);
          child.on('close', () => resolve());
        }),
    ),
  );
  // Half are retried (the runtime retries ADD), the others are forgotten and left to GC.
  const retried = p.pods.slice(0, 6);
  for (const pod of retried) {
    const r = await runPlugin(plugin, env(pod, 'ADD'), JSON.stringify(conf));
    t.is(r.code, 0, r.stdout + r.stderr);
  }
  const holders = Object.values(held(w.dataDir, 'kill-net')).map((h) => h.containerId);
  t.is(holders.length, new Set(holders).size, 'no attachment holds two addresses');
  // GC with the retried ones as the valid set.
  const gcConf = { ...conf, 'cni.dev/valid-attachments': retried.map((pod) => ({ containerID: pod.id, ifname: 'eth0' })) };
  const gc = await runPlugin(plugin, { ...w.env, CNI_COMMAND: 'GC', CNI_PATH: w.cniPath }, JSON.stringify(gcConf));
  t.is(gc.code, 0, gc.stdout + gc.stderr);
  t.deepEqual(
    Object.values(held(w.dataDir, 'kill-net'))
      .map((h) => h.containerId)
      .sort(),
    retried.map((pod) => pod.id).sort(),
  );
  const ports = JSON.parse(sh('ip', ['-j', 'link', 'show', 'master', 'bt-kill'])) as unknown[];
  t.is(ports.length, retried.length, 'only the retried pods keep a bridge port');
  for (const pod of retried) t.is((await runPlugin(plugin, env(pod, 'DEL'), JSON.stringify(conf))).code, 0);
  t.deepEqual(held(w.dataDir, 'kill-net'), {});
  t.false(
    hostLinks().some((l) => l === 'bt-kill' || l.startsWith('bv')),
    hostLinks().join(' '),
  );
  t.false(
    readdirSync(join(w.dataDir, 'kv')).some((f) => f.includes('~tmp')),
    'no temp file is left',
  );
});
