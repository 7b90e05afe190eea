import test from 'ava';
import { hostLinks, nftTables, ping, sh } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, heldAddresses, pods, world } from './fixtures.js';

test('two pods on berth-bridge ping each other; DEL removes every link, rule and allocation', async (t) => {
  const w = world('ping');
  const p = pods('bping', 2);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('ping-net', [berthBridge(w, 'ping-net', '10.101.0.0/24', { bridge: 'bt-ping' })]);
  const c = client(w);
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const ra = await c.add(a, conf);
  t.is(ra.code, 0, ra.stderr + ra.stdout);
  const rb = await c.add(b, conf);
  t.is(rb.code, 0, rb.stderr + rb.stdout);
  const ipA = addressOf(ra);
  const ipB = addressOf(rb);
  t.not(ipA, ipB);
  const result = JSON.parse(ra.stdout) as { interfaces: { name: string; sandbox?: string }[]; ips: { gateway: string; interface: number }[] };
  t.is(result.interfaces[0]!.name, 'bt-ping');
  t.is(result.interfaces[2]!.name, 'eth0');
  t.is(result.interfaces[2]!.sandbox, a.path);
  t.is(result.ips[0]!.gateway, '10.101.0.1');
  t.is(result.ips[0]!.interface, 2);
  t.true(ping(a.netns, ipB), 'a reaches b');
  t.true(ping(b.netns, ipA), 'b reaches a');
  t.true(ping(a.netns, '10.101.0.1'), 'a reaches the gateway');
  t.true(nftTables().includes('inet berth'), `tables: ${nftTables().join(', ')}`);

  for (const pod of [a, b]) {
    const r = await c.check(pod, conf);
    t.is(r.code, 0, r.stderr + r.stdout);
  }
  for (const pod of [a, b]) {
    const r = await c.del(pod, conf);
    t.is(r.code, 0, r.stderr + r.stdout);
  }
  t.false(
    hostLinks().some((l) => l === 'bt-ping' || l.startsWith('bv')),
    `links left: ${hostLinks().join(' ')}`,
  );
  t.false(nftTables().includes('inet berth'), 'the berth table is gone');
  t.deepEqual(heldAddresses(w.dataDir, 'ping-net'), [], 'no allocation is left');
  t.notRegex(sh('ip', ['-n', a.netns, 'link']), /eth0/, 'the pod interface is gone');
});

test('DEL is idempotent and succeeds when the netns is gone', async (t) => {
  const w = world('del');
  const p = pods('bdel', 1);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('del-net', [berthBridge(w, 'del-net', '10.102.0.0/24', { bridge: 'bt-del' })]);
  const c = client(w);
  const pod = p.pods[0]!;
  t.is((await c.add(pod, conf)).code, 0);
  sh('ip', ['netns', 'del', pod.netns]);
  for (let i = 0; i < 2; i++) {
    const r = await c.del(pod, conf);
    t.is(r.code, 0, r.stderr + r.stdout);
  }
  t.false(hostLinks().some((l) => l === 'bt-del' || l.startsWith('bv')));
  t.deepEqual(heldAddresses(w.dataDir, 'del-net'), []);
});

test('CHECK reports a removed address and a removed route', async (t) => {
  const w = world('check');
  const p = pods('bchk', 1);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('check-net', [berthBridge(w, 'check-net', '10.103.0.0/24', { bridge: 'bt-check', isDefaultGateway: true })]);
  const c = client(w);
  const pod = p.pods[0]!;
  const r = await c.add(pod, conf);
  t.is(r.code, 0, r.stderr);
  t.is((await c.check(pod, conf)).code, 0);
  sh('ip', ['-n', pod.netns, 'route', 'del', 'default']);
  const noRoute = await c.check(pod, conf);
  t.not(noRoute.code, 0);
  t.regex(noRoute.stderr + noRoute.stdout, /route to 0\.0\.0\.0\/0 via 10\.103\.0\.1 is missing/);
  sh('ip', ['-n', pod.netns, 'addr', 'del', `${addressOf(r)}/24`, 'dev', 'eth0']);
  const noAddr = await c.check(pod, conf);
  t.not(noAddr.code, 0);
  t.regex(noAddr.stderr + noAddr.stdout, /lacks address 10\.103\.0\.\d+\/24/);
  t.is((await c.del(pod, conf)).code, 0);
});
