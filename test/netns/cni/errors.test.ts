import test from 'ava';
import { join } from 'node:path';
import { hostLinks, nftTables, runPlugin, sh } from '../../support/netns.js';
import { berthBridge, heldAddresses, pods, world, type World } from './fixtures.js';

function plugin(w: World): string {
  return join(w.cniPath.split(':')[0]!, 'berth-bridge');
}

function held(w: World, network: string): string[] {
  return heldAddresses(w.dataDir, network).map((h) => h.address);
}

interface Case {
  name: string;
  conf: (w: World) => unknown;
  env?: Record<string, string | undefined>;
  code: number;
  msg: RegExp;
}

const ok = (w: World, extra: Record<string, unknown> = {}, ipamExtra: Record<string, unknown> = {}) => ({
  cniVersion: '1.1.0',
  name: 'err-net',
  ...berthBridge(w, 'err-net', '10.131.0.0/24', { bridge: 'bt-err', ...extra }, ipamExtra),
});

const cases: Case[] = [
  { name: 'malformed stdin JSON', conf: () => '{"cniVersion": "1.1.0", "name": ', code: 6, msg: /Cannot parse the network configuration/ },
  { name: 'unsupported cniVersion', conf: (w) => ({ ...ok(w), cniVersion: '2.0.0' }), code: 1, msg: /incompatible CNI versions/ },
  { name: 'missing CNI_NETNS', conf: ok, env: { CNI_NETNS: undefined }, code: 4, msg: /required env variables \[CNI_NETNS\] missing/ },
  { name: 'missing CNI_CONTAINERID', conf: ok, env: { CNI_CONTAINERID: undefined }, code: 4, msg: /CNI_CONTAINERID/ },
  { name: 'invalid CIDR', conf: (w) => ok(w, {}, { ranges: [[{ subnet: '10.131.0.0/33' }]] }), code: 7, msg: /ipam\.ranges\[0\]\[0\]\.subnet/ },
  { name: 'not a CIDR at all', conf: (w) => ok(w, {}, { ranges: [[{ subnet: 'ten-dot-something' }]] }), code: 7, msg: /subnet/ },
  { name: 'rangeStart outside the subnet', conf: (w) => ok(w, {}, { ranges: [[{ subnet: '10.131.0.0/24', rangeStart: '10.132.0.5' }]] }), code: 7, msg: /rangeStart 10\.132\.0\.5 is outside/ },
  { name: 'hairpinMode with promiscMode', conf: (w) => ok(w, { hairpinMode: true, promiscMode: true }), code: 7, msg: /hairpinMode and promiscMode/ },
  { name: 'mtu of the wrong type', conf: (w) => ok(w, { mtu: 'big' }), code: 6, msg: /mtu must be an integer/ },
  { name: 'vlan', conf: (w) => ok(w, { vlan: 100 }), code: 2, msg: /vlan 100 is not supported/ },
];

for (const c of cases) {
  test(`bad input: ${c.name} gives code ${c.code} and leaves nothing`, async (t) => {
    const w = world('err');
    const p = pods('berr', 1);
    t.teardown(() => {
      p.cleanup();
      w.cleanup();
    });
    const pod = p.pods[0]!;
    const env: Record<string, string> = {};
    const base = { ...w.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: w.cniPath, ...c.env };
    for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
    const conf = c.conf(w);
    const linksBefore = hostLinks();
    const tablesBefore = nftTables();
    const r = await runPlugin(plugin(w), env, typeof conf === 'string' ? conf : JSON.stringify(conf));
    t.not(r.code, 0);
    const e = JSON.parse(r.stdout) as { code: number; msg: string; cniVersion: string };
    t.is(e.code, c.code, r.stdout);
    t.regex(e.msg, c.msg);
    t.deepEqual(hostLinks(), linksBefore, 'no link was made');
    t.deepEqual(nftTables(), tablesBefore, 'no rule was made');
    t.deepEqual(held(w, 'err-net'), [], 'no address was kept');
    t.notRegex(sh('ip', ['-n', pod.netns, 'link']), /eth0/);
  });
}

test('an exhausted range gives code 100, a taken address 101, and nothing is kept', async (t) => {
  const w = world('exh');
  const p = pods('bexh', 3);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  // 10.133.0.0/30: .1 is the gateway, .2 the only address to hand out.
  const conf = { cniVersion: '1.1.0', name: 'exh-net', ...berthBridge(w, 'exh-net', '10.133.0.0/30', { bridge: 'bt-exh' }) };
  const env = (pod: (typeof p.pods)[0], extra: Record<string, string> = {}) => ({
    ...w.env,
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: pod.id,
    CNI_NETNS: pod.path,
    CNI_IFNAME: 'eth0',
    CNI_PATH: w.cniPath,
    ...extra,
  });
  const [a, b, c] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0], (typeof p.pods)[0]];
  t.is((await runPlugin(plugin(w), env(a), JSON.stringify(conf))).code, 0);
  const full = await runPlugin(plugin(w), env(b), JSON.stringify(conf));
  t.is((JSON.parse(full.stdout) as { code: number }).code, 100, full.stdout);
  t.regex(full.stdout, /all 1 addresses are in use|in use/);
  const taken = await runPlugin(plugin(w), env(c, { CNI_ARGS: 'IgnoreUnknown=1;IP=10.133.0.2' }), JSON.stringify(conf));
  t.is((JSON.parse(taken.stdout) as { code: number }).code, 101, taken.stdout);
  t.regex(taken.stdout, new RegExp(a.id));
  t.deepEqual(held(w, 'exh-net'), ['10.133.0.2']);
  for (const pod of [b, c]) t.notRegex(sh('ip', ['-n', pod.netns, 'link']), /eth0/);
  const status = await runPlugin(plugin(w), { ...w.env, CNI_COMMAND: 'STATUS', CNI_PATH: w.cniPath }, JSON.stringify(conf));
  t.is((JSON.parse(status.stdout) as { code: number }).code, 50, 'STATUS says the network cannot take more');
  t.is((await runPlugin(plugin(w), { ...env(a), CNI_COMMAND: 'DEL' }, JSON.stringify(conf))).code, 0);
  t.is((await runPlugin(plugin(w), { ...w.env, CNI_COMMAND: 'STATUS', CNI_PATH: w.cniPath }, JSON.stringify(conf))).code, 0);
  t.false(hostLinks().some((l) => l === 'bt-exh' || l.startsWith('bv')));
});

test('ADD into a netns whose interface name is taken fails with the name and undoes the allocation', async (t) => {
  const w = world('dup');
  const p = pods('bdup', 1);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const pod = p.pods[0]!;
  const linksBefore = hostLinks();
  const tablesBefore = nftTables();
  // Something else already made eth0 in the pod.
  sh('ip', ['-n', pod.netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
  const conf = { cniVersion: '1.1.0', name: 'dup-net', ...berthBridge(w, 'dup-net', '10.134.0.0/24', { bridge: 'bt-dup' }) };
  const r = await runPlugin(plugin(w), { ...w.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: w.cniPath }, JSON.stringify(conf));
  t.not(r.code, 0);
  t.regex(r.stdout, /eth0/);
  t.deepEqual(held(w, 'dup-net'), []);
  t.deepEqual(hostLinks(), linksBefore);
  t.deepEqual(nftTables(), tablesBefore);
});
