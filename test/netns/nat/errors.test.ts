import test from 'ava';
import { join } from 'node:path';
import { runPlugin } from '../../support/netns.js';
import { pods, type World } from '../cni/fixtures.js';
import { berthNat, ip, natWorld, traces } from './fixtures.js';

function plugin(w: World): string {
  return join(w.cniPath.split(':')[0]!, 'berth-nat');
}

interface Case {
  readonly name: string;
  readonly portMappings?: unknown;
  readonly extra?: Record<string, unknown>;
  readonly subnet?: string;
  readonly code: number;
  readonly msg: RegExp;
}

const tcp = (hostPort: unknown, containerPort: unknown = 80) => ({ hostPort, containerPort, protocol: 'tcp' });

const cases: Case[] = [
  { name: 'protocol sctp', portMappings: [{ ...tcp(8080), protocol: 'sctp' }], code: 7, msg: /portMappings\[0\]\.protocol "sctp" is not supported: this plugin publishes tcp and udp ports only/ },
  { name: 'protocol icmp', portMappings: [{ ...tcp(8080), protocol: 'icmp' }], code: 7, msg: /protocol "icmp" is not supported/ },
  { name: 'hostPort above 65535', portMappings: [tcp(70000)], code: 7, msg: /portMappings\[0\]\.hostPort 70000 is out of range \(0-65535\)/ },
  { name: 'containerPort 0', portMappings: [tcp(8080, 0)], code: 7, msg: /portMappings\[0\]\.containerPort 0 is out of range \(1-65535\)/ },
  { name: 'hostPort as a string', portMappings: [tcp('8080')], code: 6, msg: /hostPort must be an integer/ },
  { name: 'portMappings not a list', portMappings: { hostPort: 1 }, code: 6, msg: /portMappings must be an array/ },
  { name: 'one host port twice in one request', portMappings: [tcp(8080, 80), tcp(8080, 81)], code: 108, msg: /the same request also publishes tcp 0\.0\.0\.0:8080/ },
  { name: 'an IPv6 hostIP', portMappings: [{ ...tcp(8080), hostIP: 'fd00::1' }], code: 7, msg: /hostIP fd00::1 cannot be used: this plugin publishes on IPv4 addresses only/ },
  { name: 'a hostIP that is no address', portMappings: [{ ...tcp(8080), hostIP: 'eth0' }], code: 7, msg: /hostIP "eth0" is not an IP address/ },
  { name: 'isGateway false', extra: { isGateway: false }, code: 7, msg: /isGateway cannot be false for berth-nat/ },
  { name: 'an IPv6 subnet', subnet: 'fd00:10::/64', code: 7, msg: /cannot have the IPv6 subnet fd00:10::\/64: WinNAT translates IPv4 only/ },
];

for (const c of cases) {
  test(`berth-nat bad input: ${c.name} gives code ${c.code} and leaves nothing`, async (t) => {
    const w = natWorld('nat-err');
    const p = pods('bnaterr', 1);
    t.teardown(() => {
      p.cleanup();
      w.cleanup();
    });
    const pod = p.pods[0]!;
    const conf = {
      cniVersion: '1.1.0',
      name: 'nat-err',
      ...berthNat(w, c.subnet ?? '10.170.0.0/24', { bridge: 'bt-naterr', ...c.extra }),
      ...(c.portMappings !== undefined ? { runtimeConfig: { portMappings: c.portMappings } } : {}),
    };
    const env = { ...w.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: w.cniPath };
    const r = await runPlugin(plugin(w), env, JSON.stringify(conf));
    t.not(r.code, 0);
    const e = JSON.parse(r.stdout) as { code: number; msg: string };
    t.is(e.code, c.code, r.stdout);
    t.regex(e.msg, c.msg);
    t.deepEqual(traces(w, 'nat-err'), { links: [], tables: [], addresses: [], nats: [], mappings: [] });
    t.notRegex(ip('-n', pod.netns, 'link'), /eth0/);
  });
}

test('berth-nat bad input: a port another pod holds gives code 108 naming it, and leaves nothing of the second pod', async (t) => {
  const w = natWorld('nat-err2');
  const p = pods('bnaterr2', 2);
  t.teardown(() => {
    p.cleanup();
    w.cleanup();
  });
  const [a, b] = p.pods as [(typeof p.pods)[0], (typeof p.pods)[0]];
  const conf = { cniVersion: '1.1.0', name: 'nat-err2', ...berthNat(w, '10.171.0.0/24', { bridge: 'bt-naterr2' }), runtimeConfig: { portMappings: [tcp(18080)] } };
  const env = (pod: typeof a, command = 'ADD') => ({ ...w.env, CNI_COMMAND: command, CNI_CONTAINERID: pod.id, CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: w.cniPath });
  t.is((await runPlugin(plugin(w), env(a), JSON.stringify(conf))).code, 0);
  const before = traces(w, 'nat-err2');
  const r = await runPlugin(plugin(w), env(b), JSON.stringify(conf));
  const e = JSON.parse(r.stdout) as { code: number; msg: string; details: string };
  t.is(e.code, 108, r.stdout);
  t.regex(e.msg, new RegExp(`already published by container ${a.id} \\(network nat-err2, endpoint eth0: tcp 0\\.0\\.0\\.0:18080 -> 10\\.171\\.0\\.2:80\\)`));
  t.regex(e.details, /berth code: port-conflict/);
  t.deepEqual(traces(w, 'nat-err2'), before);
  t.is((await runPlugin(plugin(w), env(a, 'DEL'), JSON.stringify(conf))).code, 0);
  t.deepEqual(traces(w, 'nat-err2'), { links: [], tables: [], addresses: [], nats: [], mappings: [] });
});
