import test from 'ava';
import { ping, runProcess, sh, shOk } from '../../support/netns.js';
import { addressOf, berthBridge, client, conflist, pods, world } from './fixtures.js';

test('dual-stack pods reach each other over IPv4 and IPv6, without waiting for DAD', async (t) => {
  const w = world('v6');
  const p = pods('bv6', 2);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('v6-net', [berthBridge(w, 'v6-net', ['10.141.0.0/24', 'fd41::/64'], { bridge: 'bt-v6', isDefaultGateway: true })]);
  const c = client(w);
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const ra = await c.add(a, conf);
  t.is(ra.code, 0, ra.stderr);
  const rb = await c.add(b, conf);
  t.is(rb.code, 0, rb.stderr);
  t.regex(addressOf(rb, 6), /^fd41::/);
  t.true(ping(a.netns, addressOf(rb, 4)));
  t.true(ping(a.netns, addressOf(rb, 6)), 'IPv6 works at once: DAD is off');
  t.regex(sh('ip', ['-n', a.netns, '-6', 'route']), /default via fd41::1/);
  t.notRegex(sh('ip', ['-n', a.netns, '-6', 'addr', 'show', 'dev', 'eth0']), /tentative/);
  t.is((await c.check(a, conf)).code, 0);
  for (const pod of [a, b]) t.is((await c.del(pod, conf)).code, 0);
});

test('two berth bridge networks are isolated from each other by default', async (t) => {
  const w = world('iso');
  const p = pods('biso', 3);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const one = conflist('iso-one', [berthBridge(w, 'iso-one', '10.142.1.0/24', { bridge: 'bt-iso1', isDefaultGateway: true })]);
  const two = conflist('iso-two', [berthBridge(w, 'iso-two', '10.142.2.0/24', { bridge: 'bt-iso2', isDefaultGateway: true })]);
  const open = conflist('iso-open', [berthBridge(w, 'iso-open', '10.142.3.0/24', { bridge: 'bt-iso3', isDefaultGateway: true, isolateNetworks: false })]);
  const c = client(w);
  const [a, b, o] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0], (typeof p.pods)[0]];
  const ra = await c.add(a, one);
  const rb = await c.add(b, two);
  const ro = await c.add(o, open);
  for (const r of [ra, rb, ro]) t.is(r.code, 0, r.stderr);
  t.true(ping(a.netns, '10.142.1.1'), 'a reaches its own gateway');
  t.false(ping(a.netns, addressOf(rb)), 'a cannot reach a pod of another berth network');
  t.false(ping(b.netns, addressOf(ra)), 'nor the other way round');
  t.false(ping(o.netns, addressOf(ra)), "an open network still meets the isolated one's rule");
  t.is((await c.del(a, one)).code, 0);
  t.is((await c.del(b, two)).code, 0);
  t.is((await c.del(o, open)).code, 0);
});

test('macspoofchk: a pod that changes its MAC or IP is cut off; its rules go with DEL', async (t) => {
  const w = world('spoof');
  const p = pods('bspoof', 2);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('spoof-net', [berthBridge(w, 'spoof-net', '10.143.0.0/24', { bridge: 'bt-spoof', macspoofchk: true })]);
  const c = client(w);
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const ra = await c.add(a, conf);
  const rb = await c.add(b, conf);
  t.is(ra.code, 0, ra.stderr);
  t.is(rb.code, 0, rb.stderr);
  const ipB = addressOf(rb);
  t.true(ping(a.netns, ipB));
  t.is((await c.check(a, conf)).code, 0);
  // Another source address on the pod's own interface.
  sh('ip', ['-n', a.netns, 'addr', 'add', '10.143.0.200/24', 'dev', 'eth0']);
  t.false(shOk('ip', ['netns', 'exec', a.netns, 'ping', '-c', '1', '-W', '1', '-I', '10.143.0.200', ipB]), 'a spoofed source IP is dropped');
  sh('ip', ['-n', a.netns, 'addr', 'del', '10.143.0.200/24', 'dev', 'eth0']);
  sh('ip', ['-n', a.netns, 'link', 'set', 'eth0', 'address', '02:00:00:00:00:99']);
  sh('ip', ['-n', a.netns, 'neigh', 'flush', 'all']);
  t.false(ping(a.netns, ipB), 'a spoofed source MAC is dropped');
  t.regex(sh('/usr/sbin/nft', ['list', 'table', 'bridge', 'berth']), /port-bv/);
  t.is((await c.del(a, conf)).code, 0);
  t.is((await c.del(b, conf)).code, 0);
  t.false(shOk('/usr/sbin/nft', ['list', 'table', 'bridge', 'berth']), 'the spoof-check table is gone');
});

test("hairpinMode sets the hairpin flag on the pod's bridge port; mtu applies to bridge and veth", async (t) => {
  const w = world('hair');
  const p = pods('bhair', 1);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('hair-net', [berthBridge(w, 'hair-net', '10.144.0.0/24', { bridge: 'bt-hair', hairpinMode: true, mtu: 1400 })]);
  const c = client(w);
  const pod = p.pods[0]!;
  const r = await c.add(pod, conf);
  t.is(r.code, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { interfaces: { name: string }[] };
  const hostVeth = res.interfaces[1]!.name;
  t.regex(sh('bridge', ['-d', 'link', 'show', 'dev', hostVeth]), /hairpin on/);
  t.regex(sh('ip', ['-n', pod.netns, 'link', 'show', 'eth0']), /mtu 1400/);
  t.regex(sh('ip', ['link', 'show', hostVeth]), /mtu 1400/);
  t.is((await c.del(pod, conf)).code, 0);
});

test('ipMasq: a pod reaches a host that has no route back to the pod subnet; without ipMasq it does not', async (t) => {
  const w = world('masq');
  const p = pods('bmasq', 2);
  // An "outside" namespace on an uplink of the test's host namespace, with no route to any pod subnet.
  const outside = `bmasq-out-${process.pid}`;
  sh('ip', ['netns', 'add', outside]);
  t.teardown(() => {
    sh('ip', ['netns', 'del', outside]);
    p.cleanup();
    w.cleanup();
  });
  sh('ip', ['link', 'add', 'bt-up', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outside]);
  sh('ip', ['addr', 'add', '10.150.0.1/24', 'dev', 'bt-up']);
  sh('ip', ['link', 'set', 'bt-up', 'up']);
  sh('ip', ['-n', outside, 'addr', 'add', '10.150.0.2/24', 'dev', 'eth0']);
  sh('ip', ['-n', outside, 'link', 'set', 'eth0', 'up']);
  const masq = conflist('masq-net', [berthBridge(w, 'masq-net', '10.145.0.0/24', { bridge: 'bt-masq', isDefaultGateway: true })]);
  const plain = conflist('plain-net', [berthBridge(w, 'plain-net', '10.146.0.0/24', { bridge: 'bt-plain', isDefaultGateway: true, ipMasq: false })]);
  const c = client(w);
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  t.is((await c.add(a, masq)).code, 0);
  t.is((await c.add(b, plain)).code, 0);
  t.true(ping(a.netns, '10.150.0.2'), 'masqueraded traffic gets its replies');
  t.false(ping(b.netns, '10.150.0.2'), 'unmasqueraded traffic has no way back');
  t.is((await c.del(a, masq)).code, 0);
  t.is((await c.del(b, plain)).code, 0);
  sh('ip', ['link', 'del', 'bt-up']);
});

test('installed plugins run in a bare environment: no PATH, no node on it', async (t) => {
  const w = world('bare');
  t.teardown(() => w.cleanup());
  const bin = w.cniPath.split(':')[0]!;
  for (const name of ['berth-bridge', 'berth-ipam']) {
    const r = await runProcess(`${bin}/${name}`, [], { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    t.is(r.code, 0, r.stderr);
    t.is((JSON.parse(r.stdout) as { cniVersion: string }).cniVersion, '1.0.0');
  }
});
