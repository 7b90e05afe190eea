import test from 'ava';
import { IpPrefix } from '../../../core/ip.js';
import { ensureNetworkRules, parseTableListing, teardownNetworkRules } from '../../../drivers/bridge/bridge-rules.js';
import { defaultBridgeName, makeBridgeOptions } from '../../../drivers/bridge/bridge-options.js';
import { hostVethName } from '../../../drivers/bridge/bridge-driver.js';
import { stableHash } from '../../../core/stable-hash.js';

const kinds = (cmds: object[]) =>
  cmds.map((c) => {
    const [verb, body] = Object.entries(c)[0] as [string, Record<string, unknown>];
    return `${verb} ${Object.keys(body)[0]}`;
  });

test('a network batch orders chains before maps, maps before rules, rules before elements', (t) => {
  const k = kinds(ensureNetworkRules({ bridge: 'br0', subnets: [IpPrefix.parse('10.1.0.0/24'), IpPrefix.parse('fd00::/64')], ipMasq: true, isolate: true, inbound: 'published' }));
  const last = (what: string) => k.lastIndexOf(what);
  const first = (what: string) => k.indexOf(what);
  t.true(last('add chain') < first('add map'));
  t.true(last('add map') < first('add rule'));
  t.true(last('add rule') < first('add element'));
});

test('teardown finds map elements by the chain they jump to', (t) => {
  const listing = [
    { table: { family: 'inet', name: 'berth' } },
    { chain: { name: 'fwd-br0' } },
    { chain: { name: 'masq-br0' } },
    { chain: { name: 'fwd-br1' } },
    { set: { name: 'bridges', elem: ['br0', 'br1'] } },
    {
      map: {
        name: 'isolation',
        elem: [
          ['br0', { jump: { target: 'fwd-br0' } }],
          ['br1', { jump: { target: 'fwd-br1' } }],
        ],
      },
    },
    { map: { name: 'masq4', elem: [[{ prefix: { addr: '10.1.0.0', len: 24 } }, { jump: { target: 'masq-br0' } }]] } },
  ];
  const cmds = teardownNetworkRules('br0', parseTableListing(listing));
  const text = JSON.stringify(cmds);
  t.regex(text, /"elem":\["br0"\]/);
  t.regex(text, /"addr":"10\.1\.0\.0","len":24/);
  t.notRegex(text, /br1/);
  t.is(cmds.length, 5);
});

test('inbound "published": replies, published ports and the network itself pass; the rest from outside drops; teardown takes it all', (t) => {
  const cmds = ensureNetworkRules({ bridge: 'br0', subnets: [IpPrefix.parse('10.1.0.0/24')], ipMasq: false, isolate: false, inbound: 'published' });
  const rules = cmds.filter((c) => 'add' in c && 'rule' in (c as { add: object }).add).map((c) => (c as { add: { rule: { chain: string; comment?: string; expr: readonly unknown[] } } }).add.rule);
  const inRules = rules.filter((r) => r.chain === 'in-br0');
  t.deepEqual(
    inRules.map((r) => r.comment),
    ['replies', 'published ports', 'within the network', 'nothing else from outside the network'],
  );
  t.deepEqual(inRules.at(-1)!.expr, [{ drop: null }]);
  t.regex(JSON.stringify(cmds), /"name":"inbound","elem":\[\["br0",\{"jump":\{"target":"in-br0"\}\}\]\]/);
  t.false(JSON.stringify(ensureNetworkRules({ bridge: 'br0', subnets: [], ipMasq: false, isolate: true, inbound: 'any' })).includes('in-br0'), 'no inbound chain for "any"');
  const listing = [
    { table: { family: 'inet', name: 'berth' } },
    { chain: { name: 'in-br0' } },
    { set: { name: 'bridges', elem: ['br0'] } },
    { map: { name: 'inbound', elem: [['br0', { jump: { target: 'in-br0' } }]] } },
  ];
  const down = JSON.stringify(teardownNetworkRules('br0', parseTableListing(listing)));
  t.regex(down, /"delete":\{"element":\{"family":"inet","table":"berth","name":"inbound","elem":\["br0"\]/);
  t.regex(down, /"delete":\{"chain":\{"family":"inet","table":"berth","name":"in-br0"/);
});

test('options: defaults, derived bridge name, and conflicts', (t) => {
  const o = makeBridgeOptions('pods', {});
  t.is(o.bridge, 'bn-pods');
  t.true(o.isolateFromOtherNetworks);
  t.false(o.ipMasq);
  t.is(o.inbound, 'any');
  t.true(makeBridgeOptions('x', { isDefaultGateway: true }).isGateway);
  t.regex(defaultBridgeName('a-very-long-network-name'), /^bn-[0-9a-f]{12}$/);
  t.throws(() => makeBridgeOptions('x', { hairpinMode: true, promiscMode: true }), { message: /cannot both be true/ });
  t.throws(() => makeBridgeOptions('x', { bridge: 'way-too-long-bridge-name' }), { message: /not a valid interface name/ });
  t.throws(() => makeBridgeOptions('x', { mtu: 20 }), { message: /out of range/ });
});

test('host veth names are stable, short and distinct', (t) => {
  const a = hostVethName('net', 'c1', 'eth0');
  t.is(a, hostVethName('net', 'c1', 'eth0'));
  t.not(a, hostVethName('net', 'c1', 'eth1'));
  t.not(a, hostVethName('net2', 'c1', 'eth0'));
  t.true(a.length <= 15);
  const seen = new Set<string>();
  for (let i = 0; i < 20000; i++) seen.add(stableHash(`n\0c${i}\0eth0`, 12));
  t.is(seen.size, 20000);
});
