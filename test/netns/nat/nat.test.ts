import test from 'ava';
import { spawnSync } from 'node:child_process';
import { addressOf, client, conflist, pods } from '../cni/fixtures.js';
import { NFT, NOTHING, berthNat, ip, natState, natWorld, serve, tcpProbe, traces, udpProbe, uplink } from './fixtures.js';

for (const [i, version] of ['0.3.1', '0.4.0', '1.0.0'].entries()) {
  test(`berth-nat (cniVersion ${version}): an external client reaches the pod through the host address and published ports (TCP and UDP); the host reaches the pod by its address but not through its own address; DEL leaves nothing`, async (t) => {
    const w = natWorld('nat-basic');
    const up = uplink(`10.160.${i}`);
    const p = pods('bnat', 1);
    t.teardown(() => {
      p.cleanup();
      up.cleanup();
      w.cleanup();
    });
    const conf = conflist('nat-basic', [berthNat(w, `10.150.${i}.0/24`, { bridge: 'bt-nat' })], version);
    const caps = {
      portMappings: [
        { hostPort: 18080, containerPort: 80, protocol: 'tcp' },
        { hostPort: 15353, containerPort: 53, protocol: 'udp' },
      ],
    };
    const c = client(w);
    const pod = p.pods[0]!;
    const r = await c.add(pod, conf, { caps });
    t.is(r.code, 0, r.stderr + r.stdout);
    const podIp = addressOf(r);
    const server = await serve(pod.netns, { tcp: 80, udp: 53, banner: 'pod' });
    t.teardown(server.stop);

    t.is(await tcpProbe(up.ext, up.hostIp, 18080), `pod ${up.extIp}`, 'external client, TCP, through the host address; the pod sees the client');
    t.is(await udpProbe(up.ext, up.hostIp, 15353), 'pod ping', 'external client, UDP');
    t.regex(await tcpProbe(undefined, podIp, 80), /^pod /, 'the host reaches the pod by its address');
    t.is(await tcpProbe(undefined, up.hostIp, 18080), 'refused', 'the host does not reach it through its own address (Windows rule)');
    t.is(await tcpProbe(undefined, '127.0.0.1', 18080), 'refused', 'nor through localhost');
    t.is(await tcpProbe(up.ext, up.hostIp, 18081), 'refused', 'an unpublished port stays closed');

    if (version !== '0.3.1') {
      // CHECK exists from 0.4.0 on.
      const chk = await c.check(pod, conf, { caps });
      t.is(chk.code, 0, chk.stderr + chk.stdout);
    }
    const del = await c.del(pod, conf, { caps });
    t.is(del.code, 0, del.stderr + del.stdout);
    t.deepEqual(traces(w, 'nat-basic'), NOTHING);
    t.is(await tcpProbe(up.ext, up.hostIp, 18080), 'refused', 'the port is closed again');
  });
}

test('berth-nat with loopback: the host reaches a published port on its own address and on 127.0.0.1, and pods reach published ports through the host address (hairpin, also their own)', async (t) => {
  const w = natWorld('nat-loop');
  const up = uplink('10.161.0');
  const p = pods('bnatl', 2);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const conf = conflist('nat-loop', [berthNat(w, '10.151.0.0/24', { bridge: 'bt-natl', loopback: true })]);
  const c = client(w);
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const ra = await c.add(a, conf, { caps: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] } });
  t.is(ra.code, 0, ra.stderr + ra.stdout);
  const rb = await c.add(b, conf);
  t.is(rb.code, 0, rb.stderr + rb.stdout);
  const server = await serve(a.netns, { tcp: 80, banner: 'pod-a' });
  t.teardown(server.stop);

  t.regex(await tcpProbe(up.ext, up.hostIp, 18080), /^pod-a /, 'external client');
  t.regex(await tcpProbe(undefined, up.hostIp, 18080), /^pod-a /, 'the host through its own address');
  t.regex(await tcpProbe(undefined, '127.0.0.1', 18080), /^pod-a 10\.151\.0\.1$/, 'the host through 127.0.0.1, masqueraded to the gateway');
  t.regex(await tcpProbe(b.netns, up.hostIp, 18080), /^pod-a 10\.151\.0\.1$/, 'another pod through the host address (hairpin, masqueraded)');
  t.regex(await tcpProbe(a.netns, up.hostIp, 18080), /^pod-a /, 'the pod itself through the host address');
  t.is(spawnSync('/usr/sbin/sysctl', ['-n', 'net.ipv4.conf.bt-natl.route_localnet'], { encoding: 'utf8' }).stdout.trim(), '1');

  for (const pod of [a, b]) t.is((await c.del(pod, conf)).code, 0);
  t.deepEqual(traces(w, 'nat-loop'), NOTHING);
});

test('berth-nat: two pods asking for the same host port: the second fails with the conflict naming the first, and leaves nothing', async (t) => {
  const w = natWorld('nat-conf');
  const up = uplink('10.162.0');
  const p = pods('bnatc', 2);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const conf = conflist('nat-conf', [berthNat(w, '10.152.0.0/24', { bridge: 'bt-natc' })]);
  const c = client(w);
  const caps = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] };
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const ra = await c.add(a, conf, { caps });
  t.is(ra.code, 0, ra.stderr + ra.stdout);
  const before = traces(w, 'nat-conf');
  const rb = await c.add(b, conf, { caps });
  t.not(rb.code, 0);
  t.regex(rb.stderr, /already published by container c-bnatc-\d+-\d+ \(network nat-conf, endpoint eth0: tcp 0\.0\.0\.0:18080 -> 10\.152\.0\.2:80\)/);
  t.regex(rb.stderr, new RegExp(a.id));
  t.regex(rb.stderr, /port-conflict/);
  t.deepEqual(traces(w, 'nat-conf'), before, 'nothing of the second pod is left');
  t.notRegex(ip('-n', b.netns, 'link'), /eth0/);

  const server = await serve(a.netns, { tcp: 80, banner: 'first' });
  t.teardown(server.stop);
  t.regex(await tcpProbe(up.ext, up.hostIp, 18080), /^first /, 'the first pod still has its port');
  t.is((await c.del(b, conf, { caps })).code, 0, 'DEL of the failed pod succeeds');
  t.regex(await tcpProbe(up.ext, up.hostIp, 18080), /^first /, "and does not take the first pod's port");
  t.is((await c.del(a, conf, { caps })).code, 0);
  t.deepEqual(traces(w, 'nat-conf'), NOTHING);
});

test('berth-nat: hostPort 0 gets an ephemeral port, which berth nat state shows and which works; parallel ADDs get distinct ports', async (t) => {
  const w = natWorld('nat-eph');
  const up = uplink('10.163.0');
  const p = pods('bnate', 8);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const conf = conflist('nat-eph', [berthNat(w, '10.153.0.0/24', { bridge: 'bt-nate' })]);
  const c = client(w);
  const caps = { portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] };
  const results = await Promise.all(p.pods.map((pod) => c.add(pod, conf, { caps })));
  for (const r of results) t.is(r.code, 0, r.stderr + r.stdout);
  const d = natState(w);
  t.deepEqual(
    d.nats.map((n) => [n.name, n.internalIPInterfaceAddressPrefix, n.internalInterface, n.staticMappings]),
    [['nat-eph', '10.153.0.0/24', 'bt-nate', 8]],
  );
  const ports = d.staticMappings.map((m) => m.externalPort);
  t.is(new Set(ports).size, 8, `distinct ports: ${ports.join(' ')}`);
  t.true(d.staticMappings.every((m) => m.ephemeral && m.externalPort >= 49152 && m.externalPort <= 65535 && m.internalPort === 80));

  const first = p.pods[0]!;
  const mine = d.staticMappings.find((m) => m.containerId === first.id)!;
  t.is(mine.internalIPAddress, addressOf(results[0]!));
  const server = await serve(first.netns, { tcp: 80, banner: 'eph' });
  t.teardown(server.stop);
  t.regex(await tcpProbe(up.ext, up.hostIp, mine.externalPort), /^eph /);

  const dels = await Promise.all(p.pods.map((pod) => c.del(pod, conf, { caps })));
  for (const r of dels) t.is(r.code, 0, r.stderr + r.stdout);
  t.deepEqual(traces(w, 'nat-eph'), NOTHING);
});

test('berth-nat: DEL releases the port mappings when the netns is gone, and a repeated DEL succeeds', async (t) => {
  const w = natWorld('nat-gone');
  const p = pods('bnatg', 1);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const conf = conflist('nat-gone', [berthNat(w, '10.154.0.0/24', { bridge: 'bt-natg' })]);
  const c = client(w);
  const caps = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] };
  const pod = p.pods[0]!;
  t.is((await c.add(pod, conf, { caps })).code, 0);
  ip('netns', 'del', pod.netns);
  for (let n = 0; n < 2; n++) {
    const r = await c.del(pod, conf, { caps });
    t.is(r.code, 0, r.stderr + r.stdout);
  }
  t.deepEqual(traces(w, 'nat-gone'), NOTHING);
});

test('berth-nat: CHECK finds a published port missing from the kernel, and the next change rebuilds the table', async (t) => {
  const w = natWorld('nat-chk');
  const up = uplink('10.164.0');
  const p = pods('bnatk', 2);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const conf = conflist('nat-chk', [berthNat(w, '10.155.0.0/24', { bridge: 'bt-natk' })]);
  const c = client(w);
  const caps = { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] };
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  t.is((await c.add(a, conf, { caps })).code, 0);
  t.is((await c.check(a, conf, { caps })).code, 0);
  const otherCaps = { portMappings: [{ hostPort: 18081, containerPort: 80, protocol: 'tcp' }] };
  const wrong = await c.check(a, conf, { caps: otherCaps });
  t.not(wrong.code, 0, 'CHECK compares with the mappings asked for');
  t.regex(wrong.stderr, /18081 -> 80 of container .* is not published/);

  // Someone else removes one of our elements.
  t.is(spawnSync(NFT, ['delete', 'element', 'ip', 'berth-nat', 'pub-port', '{ tcp . 18080 }']).status, 0);
  const chk = await c.check(a, conf, { caps });
  t.not(chk.code, 0);
  t.regex(chk.stderr, /lacks 1 element\(s\) of NAT instance "nat-chk": pub-port tcp \. 18080 : 80/);
  // The DEL of a (whose difference no longer applies) rebuilds the table from the state.
  t.is((await c.add(b, conf, { caps: otherCaps })).code, 0);
  const server = await serve(b.netns, { tcp: 80, banner: 'b' });
  t.teardown(server.stop);
  const del = await c.del(a, conf, { caps });
  t.is(del.code, 0, del.stderr + del.stdout);
  t.regex(await tcpProbe(up.ext, up.hostIp, 18081), /^b /, 'b is still published after the rebuild');
  t.is((await c.check(b, conf, { caps: otherCaps })).code, 0);
  t.is((await c.del(b, conf, { caps: otherCaps })).code, 0);
  t.deepEqual(traces(w, 'nat-chk'), NOTHING);
});

test('berth-nat: two nat networks side by side share the host ports and keep their own instance; the table goes with the last', async (t) => {
  const w = natWorld('nat-two');
  const up = uplink('10.165.0');
  const p = pods('bnat2', 3);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const c = client(w);
  const one = conflist('nat-one', [berthNat(w, '10.156.0.0/24', { bridge: 'bt-nat1' })]);
  const two = conflist('nat-two', [berthNat(w, '10.157.0.0/24', { bridge: 'bt-nat2' })]);
  const [a, b, x] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0], (typeof p.pods)[0]];
  const map = (port: number) => ({ portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] });
  t.is((await c.add(a, one, { caps: map(18100) })).code, 0);
  t.is((await c.add(b, two, { caps: map(18101) })).code, 0);
  const taken = await c.add(x, two, { caps: map(18100) });
  t.not(taken.code, 0, "a host port is the host's: another network cannot have it");
  t.regex(taken.stderr, /network nat-one/);
  t.deepEqual(
    natState(w).nats.map((n) => n.name),
    ['nat-one', 'nat-two'],
  );
  const sa = await serve(a.netns, { tcp: 80, banner: 'one' });
  const sb = await serve(b.netns, { tcp: 80, banner: 'two' });
  t.teardown(() => {
    sa.stop();
    sb.stop();
  });
  t.regex(await tcpProbe(up.ext, up.hostIp, 18100), /^one /);
  t.regex(await tcpProbe(up.ext, up.hostIp, 18101), /^two /);
  t.is((await c.del(a, one, { caps: map(18100) })).code, 0);
  t.deepEqual(
    natState(w).nats.map((n) => n.name),
    ['nat-two'],
    'the first instance went with its last pod',
  );
  t.regex(await tcpProbe(up.ext, up.hostIp, 18101), /^two /, 'the other network is untouched');
  t.is(await tcpProbe(up.ext, up.hostIp, 18100), 'refused');
  t.is((await c.del(x, two)).code, 0);
  t.is((await c.del(b, two, { caps: map(18101) })).code, 0);
  t.deepEqual(traces(w, 'nat-two'), NOTHING);
  t.deepEqual(traces(w, 'nat-one'), NOTHING);
});

test('berth-nat: pods reach the outside masqueraded behind the host address', async (t) => {
  const w = natWorld('nat-out');
  const up = uplink('10.166.0');
  const p = pods('bnato', 1);
  t.teardown(() => {
    p.cleanup();
    up.cleanup();
    w.cleanup();
  });
  const conf = conflist('nat-out', [berthNat(w, '10.158.0.0/24', { bridge: 'bt-nato' })]);
  const c = client(w);
  const pod = p.pods[0]!;
  t.is((await c.add(pod, conf)).code, 0);
  const outside = await serve(up.ext, { tcp: 8000, banner: 'outside' });
  t.teardown(outside.stop);
  t.is(await tcpProbe(pod.netns, up.extIp, 8000), `outside ${up.hostIp}`, 'the external server sees the host address');
  t.regex(ip('-n', pod.netns, 'route'), /default via 10\.158\.0\.1/);
  t.is((await c.del(pod, conf)).code, 0);
  t.deepEqual(traces(w, 'nat-out'), NOTHING);
  t.notRegex(ip('-n', up.ext, 'route'), /10\.158/, 'the outside has no route to the pods: only NAT got it there');
});
