import test from 'ava';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runPlugin } from '../../support/netns.js';
import { pods } from '../cni/fixtures.js';
import { NOTHING, berthNat, natState, natWorld, serve, tcpProbe, traces, uplink } from './fixtures.js';

test('berth-nat: ADDs killed with SIGKILL at any point leave nothing that a retry or GC cannot clean, and retried pods keep working ports', async (t) => {
  const w = natWorld('nat-kill');
  const up = uplink('10.167.0');
  const p = pods('bnatkill', 10);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const plugin = join(w.cniPath.split(':')[0]!, 'berth-nat');
  const confOf = (i: number) => ({
    cniVersion: '1.1.0',
    name: 'nat-kill',
    ...berthNat(w, '10.159.0.0/24', { bridge: 'bt-natkill' }),
    runtimeConfig: {
      portMappings: [
        { hostPort: 18200 + i, containerPort: 80 },
        { hostPort: 0, containerPort: 81 },
      ],
    },
  });
  const env = (pod: (typeof p.pods)[0], command: string) => ({ ...w.env, CNI_COMMAND: command, CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: w.cniPath });
  // Kill each ADD after a different delay, spread over the plugin's whole run.
  await Promise.all(
    p.pods.map(
      (pod, i) =>
        new Promise<void>((resolve) => {
          const child = spawn(plugin, [], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env(pod, 'ADD') }, stdio: ['pipe', 'ignore', 'ignore'] });
          child.stdin.end(JSON.stringify(confOf(i)));
          setTimeout(() => child.kill('SIGKILL'), 5 + i * 7);
          child.on('close', () => resolve());
        }),
    ),
  );
  // Half are retried (the runtime retries ADD), the others are forgotten and left to GC.
  const retried = p.pods.slice(0, 5);
  for (const [i, pod] of retried.entries()) {
    const r = await runPlugin(plugin, env(pod, 'ADD'), JSON.stringify(confOf(i)));
    t.is(r.code, 0, r.stdout + r.stderr);
  }
  const gcConf = { ...confOf(0), 'cni.dev/valid-attachments': retried.map((pod) => ({ containerID: pod.id, ifname: 'eth0' })) };
  const gc = await runPlugin(plugin, { ...w.env, CNI_COMMAND: 'GC', CNI_PATH: w.cniPath }, JSON.stringify(gcConf));
  t.is(gc.code, 0, gc.stdout + gc.stderr);
  const d = natState(w);
  t.deepEqual([...new Set(d.staticMappings.map((m) => m.containerId))].sort(), retried.map((pod) => pod.id).sort(), 'only the retried pods publish ports');
  t.is(d.staticMappings.length, 2 * retried.length);
  const server = await serve(retried[2]!.netns, { tcp: 80, banner: 'retried' });
  t.teardown(server.stop);
  t.regex(await tcpProbe(up.ext, up.hostIp, 18202), /^retried /, 'a retried pod is reachable');
  for (const [i, pod] of retried.entries()) t.is((await runPlugin(plugin, env(pod, 'DEL'), JSON.stringify(confOf(i)))).code, 0);
  t.deepEqual(traces(w, 'nat-kill'), NOTHING);
});
