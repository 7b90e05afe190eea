/**
 * berthd's start-up reconcile, driven through the plugin socket the way Docker drives it
 * (CreateNetwork, CreateEndpoint, Join, then the interface moved into a namespace as Docker's
 * sandbox code does), with the situations a restart meets arranged by hand: berthd killed,
 * a container gone with its namespace, the bridge deleted, a create cut short.
 * No Docker engine is needed. Addresses: 10.232.0.0/16, inside this run's namespaces only.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hostVethName } from '../../../drivers/bridge/index.js';
import { endpointKey, toJson } from '../../../daemon/state/records.js';
import { FileStore } from '../../../store/file/file-store.js';
import { DIST_BIN, makeNetns, ping, scratch, sh, shOk } from '../../support/netns.js';
import { rawPluginRequest, waitFor } from './harness.js';

const NET = 'f'.repeat(24) + '0123456789abcdef';

interface Agent {
  proc: ChildProcess;
  call(path: string, body: object): Promise<{ status: number; reply: Record<string, unknown> }>;
}

async function startAgent(dir: string): Promise<Agent> {
  const plugins = join(dir, 'plugins');
  const proc = spawn(
    process.execPath,
    [
      join(DIST_BIN, 'berthd'),
      '--plugin-dir',
      plugins,
      '--data-dir',
      join(dir, 'data'),
      '--run-dir',
      join(dir, 'run'),
      '--metrics-address',
      'none',
      '--log-file',
      join(dir, 'berthd.log'),
      '--docker-socket',
      join(dir, 'no-docker.sock'),
    ],
    {
      stdio: 'ignore',
    },
  );
  // A killed agent leaves its socket files: wait until the new one answers, which it does
  // only after its reconcile.
  await waitFor(
    async () => {
      if (proc.exitCode !== null) throw new Error(`berthd exited ${proc.exitCode}`);
      return answers(join(plugins, 'berth-bridge.sock'));
    },
    20_000,
    'berthd',
  );
  return {
    proc,
    call: async (path, body) => {
      const r = await rawPluginRequest(join(plugins, 'berth-bridge.sock'), path, JSON.stringify(body));
      return { status: r.status, reply: JSON.parse(r.body) as Record<string, unknown> };
    },
  };
}

async function answers(socket: string): Promise<boolean> {
  if (!existsSync(socket)) return false;
  try {
    return (await rawPluginRequest(socket, '/Plugin.Activate', '')).status === 200;
  } catch {
    return false;
  }
}

function exited(proc: ChildProcess): Promise<void> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((r) => proc.once('exit', () => r()));
}

/** What Docker does after Join: move SrcName into the sandbox, rename, address, route. */
function dockerJoin(netns: string, srcName: string, address: string, gateway: string): void {
  sh('/usr/sbin/ip', ['link', 'set', srcName, 'netns', netns]);
  sh('/usr/sbin/ip', ['-n', netns, 'link', 'set', srcName, 'name', 'eth0']);
  sh('/usr/sbin/ip', ['-n', netns, 'addr', 'add', address, 'dev', 'eth0']);
  sh('/usr/sbin/ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  sh('/usr/sbin/ip', ['-n', netns, 'route', 'add', 'default', 'via', gateway]);
}

test.serial('berthd restart: a killed agent comes back, re-creates a deleted bridge, keeps live containers and removes what is gone', async (t) => {
  const s = scratch('reconcile');
  t.teardown(s.cleanup);
  const ns = makeNetns('rec', 2);
  t.teardown(ns.cleanup);
  let agent = await startAgent(s.dir);
  t.teardown(async () => {
    agent.proc.kill('SIGTERM');
    await exited(agent.proc);
  });

  const created = await agent.call('/NetworkDriver.CreateNetwork', { NetworkID: NET, Options: {}, IPv4Data: [{ Pool: '10.232.1.0/24', Gateway: '10.232.1.1/24' }] });
  t.is(created.status, 200, JSON.stringify(created.reply));
  t.teardown(async () => void (await agent.call('/NetworkDriver.DeleteNetwork', { NetworkID: NET })));
  const bridge = `bn-${NET.slice(0, 12)}`;
  const endpoints = ['e1', 'e2'].map((id, i) => ({ id, address: `10.232.1.${i + 2}/24`, netns: ns.names[i]!, path: ns.paths[i]! }));
  for (const ep of endpoints) {
    const c = await agent.call('/NetworkDriver.CreateEndpoint', { NetworkID: NET, EndpointID: ep.id, Interface: { Address: ep.address } });
    t.is(c.status, 200, JSON.stringify(c.reply));
    const j = await agent.call('/NetworkDriver.Join', { NetworkID: NET, EndpointID: ep.id, SandboxKey: ep.path });
    const iface = j.reply['InterfaceName'] as { SrcName: string; DstPrefix: string };
    t.is(iface.DstPrefix, 'eth');
    t.is(j.reply['Gateway'], '10.232.1.1');
    dockerJoin(ep.netns, iface.SrcName, ep.address, '10.232.1.1');
  }
  t.true(ping(endpoints[0]!.netns, '10.232.1.3'), 'the two sandboxes reach each other');

  // berthd dies; meanwhile the second container goes away with its namespace, somebody
  // deletes the bridge, and a create was cut short after its record and its veth.
  agent.proc.kill('SIGKILL');
  await exited(agent.proc);
  sh('/usr/sbin/ip', ['netns', 'del', endpoints[1]!.netns]);
  sh('/usr/sbin/ip', ['link', 'del', bridge]);
  const store = new FileStore({ dataDir: join(s.dir, 'data') });
  const halfVeth = hostVethName(NET.slice(0, 12), 'e3', 'eth');
  sh('/usr/sbin/ip', ['link', 'add', halfVeth, 'type', 'veth', 'peer', 'name', 'bp-half']);
  await store.put(endpointKey(NET, 'e3'), toJson({ id: 'e3', networkId: NET, addresses: [], srcName: '', sandbox: '', portMappings: [], created: new Date().toISOString(), complete: false }));
  t.false(ping(endpoints[0]!.netns, '10.232.1.1'), 'without its bridge the live container is cut off');

  agent = await startAgent(s.dir);
  t.true(shOk('/usr/sbin/ip', ['link', 'show', bridge]), 'the bridge is back');
  t.true(ping(endpoints[0]!.netns, '10.232.1.1'), 'the live container reaches its gateway again (its veth is back on the bridge)');
  const links = sh('/usr/sbin/ip', ['-o', 'link', 'show']);
  t.false(links.includes(hostVethName(NET.slice(0, 12), 'e2', 'eth')), "the gone container's veth is removed");
  t.false(links.includes(halfVeth), "the half-created endpoint's veth is removed");
  t.is(await store.get(endpointKey(NET, 'e2')), undefined, "the gone container's record is removed");
  t.is(await store.get(endpointKey(NET, 'e3')), undefined, 'the half-created record is removed');
  t.truthy(await store.get(endpointKey(NET, 'e1')), 'the live endpoint is kept');

  // Docker talks to the new agent: the live endpoint's operations work.
  const info = await agent.call('/NetworkDriver.EndpointOperInfo', { NetworkID: NET, EndpointID: 'e1' });
  t.is(info.status, 200);
  t.is((await agent.call('/NetworkDriver.Leave', { NetworkID: NET, EndpointID: 'e1' })).status, 200);
  t.is((await agent.call('/NetworkDriver.DeleteEndpoint', { NetworkID: NET, EndpointID: 'e1' })).status, 200);
  t.is((await agent.call('/NetworkDriver.DeleteNetwork', { NetworkID: NET })).status, 200);
  t.false(shOk('/usr/sbin/ip', ['link', 'show', bridge]), 'the network is gone');
  t.deepEqual(await store.list('berthd/'), [], 'berthd keeps no record');
});

test.serial('berthd: a second agent on the same run directory refuses to start', async (t) => {
  const s = scratch('reconcile-lock');
  t.teardown(s.cleanup);
  const first = await startAgent(s.dir);
  t.teardown(async () => {
    first.proc.kill('SIGTERM');
    await exited(first.proc);
  });
  const second = spawn(
    process.execPath,
    [
      join(DIST_BIN, 'berthd'),
      '--plugin-dir',
      join(s.dir, 'plugins2'),
      '--data-dir',
      join(s.dir, 'data'),
      '--run-dir',
      join(s.dir, 'run'),
      '--metrics-address',
      'none',
      '--log-level',
      'error',
      '--docker-socket',
      join(s.dir, 'no-docker.sock'),
    ],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  second.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await exited(second);
  t.is(second.exitCode, 1);
  t.regex(stderr, /Another berthd is running/);
});
