import test from 'ava';
import { parseResult, renderResult, type Result } from '../../../cni/result.js';

const full: Result = {
  interfaces: [
    { name: 'bn-x', mac: '0a:00:00:00:00:01' },
    { name: 'bv0123', mac: '0a:00:00:00:00:02', mtu: 1500 },
    { name: 'eth0', mac: '0a:00:00:00:00:03', mtu: 1500, sandbox: '/run/netns/p1' },
  ],
  ips: [
    { address: '10.22.0.7/24', gateway: '10.22.0.1', interface: 2 },
    { address: 'fd00::7/64', gateway: 'fd00::1', interface: 2 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1', priority: 100 }],
  dns: { nameservers: ['10.22.0.1'] },
};

test('1.1.0 keeps interface mtu and route priority', (t) => {
  const r = renderResult(full, '1.1.0') as { interfaces: { mtu?: number }[]; routes: { priority?: number }[] };
  t.is(r.interfaces[2]!.mtu, 1500);
  t.is(r.routes[0]!.priority, 100);
});

test('1.0.0 drops the fields added in 1.1.0 and has no ips[].version', (t) => {
  const r = renderResult(full, '1.0.0') as { cniVersion: string; interfaces: object[]; ips: object[]; routes: object[] };
  t.is(r.cniVersion, '1.0.0');
  t.deepEqual(r.interfaces[2], { name: 'eth0', mac: '0a:00:00:00:00:03', sandbox: '/run/netns/p1' });
  t.deepEqual(r.ips[0], { interface: 2, address: '10.22.0.7/24', gateway: '10.22.0.1' });
  t.deepEqual(r.routes[0], { dst: '0.0.0.0/0', gw: '10.22.0.1' });
});

for (const v of ['0.3.0', '0.3.1', '0.4.0']) {
  test(`${v} carries ips[].version`, (t) => {
    const r = renderResult(full, v) as { cniVersion: string; ips: { version: string }[] };
    t.is(r.cniVersion, v);
    t.is(r.ips[0]!.version, '4');
    t.is(r.ips[1]!.version, '6');
  });
}

for (const v of ['0.1.0', '0.2.0']) {
  test(`${v} uses ip4/ip6 objects`, (t) => {
    const r = renderResult(full, v) as Record<string, unknown>;
    t.deepEqual(r.ip4, { ip: '10.22.0.7/24', gateway: '10.22.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.22.0.1' }] });
    t.deepEqual(r.ip6, { ip: 'fd00::7/64', gateway: 'fd00::1' });
    t.is(r.interfaces, undefined);
  });
}

test('every version parses back to the same addresses', (t) => {
  for (const v of ['0.2.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) {
    const back = parseResult(renderResult(full, v));
    t.deepEqual(
      back.ips?.map((i) => i.address),
      ['10.22.0.7/24', 'fd00::7/64'],
      v,
    );
  }
});

test('a malformed prevResult names the field', (t) => {
  const err = t.throws(() => parseResult({ cniVersion: '1.0.0', ips: [{ address: 7 }] }));
  t.regex(err!.message, /prevResult\.ips\[0\]\.address/);
});
