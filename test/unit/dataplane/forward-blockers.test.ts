import test from 'ava';
import { describeBlocker, legacyBlocker, nftablesBlockers } from '../../../dataplane/linux/firewall/forward-blockers.js';
import { addRouted, deleteRouted, foreignRuleHandles, legacyRuleSpec, markingChain, parsePassageListing, placeForeignRule, PASSAGE_MARK } from '../../../dataplane/linux/firewall/passage-rules.js';
import { legacyPlacement, nftPlacement } from '../../../dataplane/linux/firewall/placement.js';

const chain = (family: string, table: string, name: string, base?: { hook: string; policy: string; prio?: number }) => ({
  chain: { family, table, name, handle: 1, ...(base ? { type: 'filter', prio: 0, ...base } : {}) },
});
const noRules = () => [];

test("Docker on iptables-nft: the drop is FORWARD's, berth's place is DOCKER-USER, Docker's bridges are protected", (t) => {
  const chains = [
    chain('ip', 'filter', 'FORWARD', { hook: 'forward', policy: 'drop' }),
    chain('ip', 'filter', 'DOCKER-USER'),
    chain('ip', 'filter', 'DOCKER'),
    chain('ip', 'nat', 'POSTROUTING', { hook: 'postrouting', policy: 'accept' }),
  ];
  const forward = [
    { rule: { expr: [{ counter: {} }, { jump: { target: 'DOCKER-USER' } }] } },
    { rule: { expr: [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'br-0123456789ab' } }, { counter: {} }, { jump: { target: 'DOCKER' } }] } },
    { rule: { expr: [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'mybridge' } }, { counter: {} }, { jump: { target: 'DOCKER' } }] } },
  ];
  const [b, ...rest] = nftablesBlockers(chains, (f, tb, c) => (f === 'ip' && tb === 'filter' && c === 'FORWARD' ? forward : undefined));
  t.is(rest.length, 0);
  t.is(b!.owner, 'docker');
  t.deepEqual(b!.place, { backend: 'nftables', family: 'ip', table: 'filter', chain: 'DOCKER-USER' });
  t.deepEqual(b!.protectedInterfaces, ['br-0123456789ab', 'mybridge', 'docker0', 'br-*']);
  t.regex(describeBlocker(b!), /^Docker's ip filter FORWARD drops forwarded traffic/);
});

test("ufw, a plain FORWARD policy and an nftables ruleset each get their own place; accepting chains and berth's own tables are nobody's drop", (t) => {
  const ufw = nftablesBlockers([chain('ip6', 'filter', 'FORWARD', { hook: 'forward', policy: 'drop' }), chain('ip6', 'filter', 'ufw-user-forward')], noRules);
  t.deepEqual(
    ufw.map((b) => [b.owner, b.place.chain, b.place.family]),
    [['ufw', 'ufw-user-forward', 'ip6']],
  );
  const plain = nftablesBlockers([chain('ip', 'filter', 'FORWARD', { hook: 'forward', policy: 'drop' })], noRules);
  t.deepEqual(
    plain.map((b) => [b.owner, b.place.chain]),
    [['iptables', 'FORWARD']],
  );
  const own = nftablesBlockers([chain('inet', 'filter', 'forward', { hook: 'forward', policy: 'drop', prio: -5 })], noRules);
  t.deepEqual(
    own.map((b) => [b.owner, b.place.table, b.place.chain, b.priority]),
    [['nftables', 'filter', 'forward', -5]],
  );
  t.deepEqual(
    nftablesBlockers(
      [
        chain('ip', 'filter', 'FORWARD', { hook: 'forward', policy: 'accept' }),
        chain('inet', 'berth-policy', 'forward', { hook: 'forward', policy: 'drop' }),
        chain('ip', 'filter', 'INPUT', { hook: 'input', policy: 'drop' }),
      ],
      noRules,
    ),
    [],
  );
});

test('iptables-legacy: -S output read the same way; iptables wildcards become nftables ones', (t) => {
  const docker = legacyBlocker(
    'ip',
    ['-P INPUT ACCEPT', '-P FORWARD DROP', '-N DOCKER', '-N DOCKER-USER', '-A FORWARD -j DOCKER-USER', '-A FORWARD -o docker0 -j DOCKER', '-A FORWARD -o br+ -j DOCKER', ''].join('\n'),
  );
  t.is(docker?.owner, 'docker');
  t.deepEqual(docker?.place, { backend: 'iptables-legacy', family: 'ip', table: 'filter', chain: 'DOCKER-USER' });
  t.deepEqual(docker?.protectedInterfaces, ['docker0', 'br*', 'br-*']);
  t.is(legacyBlocker('ip6', '-P FORWARD DROP\n-N ufw-user-forward\n')?.place.chain, 'ufw-user-forward');
  t.is(legacyBlocker('ip', '-P FORWARD DROP\n')?.owner, 'iptables');
  t.is(legacyBlocker('ip', '-P FORWARD ACCEPT\n-N DOCKER-USER\n'), undefined);
});

test("the rule in the owner's chain is one iptables can read: a mark match, a counter, accept, a berth comment", (t) => {
  const [cmd] = placeForeignRule({ backend: 'nftables', family: 'ip', table: 'filter', chain: 'DOCKER-USER' }, []) as unknown as [
    { add: { rule: { chain: string; comment: string; expr: readonly unknown[] } } },
  ];
  t.is(cmd.add.rule.chain, 'DOCKER-USER', 'an empty chain: appended');
  t.regex(cmd.add.rule.comment, /^berth: /);
  t.notRegex(cmd.add.rule.comment, /['"]/, 'no quotes: iptables -S would escape them');
  t.deepEqual(cmd.add.rule.expr, [{ match: { op: '==', left: { '&': [{ meta: { key: 'mark' } }, PASSAGE_MARK] }, right: PASSAGE_MARK } }, { counter: { packets: 0, bytes: 0 } }, { accept: null }]);
  t.deepEqual(legacyRuleSpec().slice(0, 4), ['-m', 'mark', '--mark', '0x2000/0x2000']);
  const listing = [{ rule: { handle: 7, comment: cmd.add.rule.comment } }, { rule: { handle: 8 } }, { rule: { handle: 9, comment: 'user rule' } }];
  t.deepEqual(foreignRuleHandles(listing), [7]);
});

test("the marking chain clears the bit first, marks replies, published ports, routed pods and traffic from berth's devices, and skips protected networks", (t) => {
  const cmds = markingChain(['docker0', 'br-*']) as { add?: { rule?: { comment: string } } }[];
  const comments = cmds.filter((c) => c.add?.rule).map((c) => c.add!.rule!.comment);
  t.deepEqual(comments, [
    "no packet arrives with berth's bit",
    "replies into berth's networks",
    'published ports',
    "other nodes' pods, routed, into berth's networks",
    "routed IPv6 prefixes into berth's networks",
    'the owner protects its own networks',
    'the owner protects its own networks',
    "from berth's networks",
  ]);
  const listing = [
    { table: { family: 'inet', name: 'berth-passage' } },
    { set: { name: 'devices', elem: ['bn-b', 'bn-a'] } },
    { set: { name: 'routed4', elem: [{ prefix: { addr: '10.245.0.0', len: 16 } }] } },
    { set: { name: 'routed6', elem: [{ prefix: { addr: 'fd79::', len: 80 } }] } },
    { chain: { name: 'forward' } },
    ...cmds.filter((c) => c.add?.rule).map((c) => ({ rule: c.add!.rule })),
  ];
  t.deepEqual(parsePassageListing(listing), { exists: true, devices: ['bn-a', 'bn-b'], routed: ['10.245.0.0/16', 'fd79::/80'], marking: true, markingRouted: true, guarded: ['docker0', 'br-*'] });
  // A chain written before the IPv6 rule is written again.
  const older = listing.filter((i) => !('rule' in i && (i.rule as { comment?: string }).comment?.includes('IPv6')));
  t.false(parsePassageListing(older).markingRouted);
});

test('routed prefixes go into the set of their family', (t) => {
  const name = (cmds: readonly object[]) => (cmds[0] as { [verb: string]: { element: { name: string; elem: unknown[] } } })[Object.keys(cmds[0]!)[0]!]!.element;
  t.deepEqual(name(addRouted('10.245.0.0/16')), { family: 'inet', table: 'berth-passage', name: 'routed4', elem: [{ prefix: { addr: '10.245.0.0', len: 16 } }] });
  t.deepEqual(name(addRouted('fd79::/80')), { family: 'inet', table: 'berth-passage', name: 'routed6', elem: [{ prefix: { addr: 'fd79::', len: 80 } }] });
  t.is(name(deleteRouted('fd79::/80')).name, 'routed6');
});

/** An nftables listing of a chain, as `nft -j list chain` gives it (metainfo and chain first). */
const listing = (...rules: { handle: number; expr: object[]; comment?: string }[]) => [
  { metainfo: {} },
  { chain: { name: 'c', handle: 1 } },
  ...rules.map((r) => ({ rule: { family: 'ip', table: 'filter', chain: 'c', ...r } })),
];
const iif = (name: string) => ({ match: { op: '==', left: { meta: { key: 'iifname' } }, right: name } });
const counter = { counter: { packets: 0, bytes: 0 } };

test("berth's accept goes after the admin's rules: before Docker's final RETURN, a closing DROP or REJECT (and a LOG just before it), else at the end", (t) => {
  // Docker's DOCKER-USER as Docker leaves it, and with the admin's documented block above the RETURN.
  t.deepEqual(nftPlacement(listing({ handle: 5, expr: [counter, { return: null }] })), { before: 5 });
  t.deepEqual(nftPlacement(listing({ handle: 9, expr: [iif('eth0'), counter, { drop: null }] }, { handle: 5, expr: [counter, { return: null }] })), { before: 5 });
  // A plain FORWARD with the admin's rules and a catch-all at its end; a LOG before it belongs to it.
  t.deepEqual(
    nftPlacement(
      listing(
        { handle: 3, expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, counter, { accept: null }] },
        { handle: 4, expr: [iif('eth1'), counter, { drop: null }] },
        { handle: 6, expr: [counter, { log: { prefix: 'dropped ' } }] },
        { handle: 7, expr: [counter, { reject: { type: 'icmp', expr: 'host-prohibited' } }] },
      ),
    ),
    { before: 6 },
  );
  t.deepEqual(
    nftPlacement(listing({ handle: 3, expr: [counter, { jump: { target: 'ufw-before-forward' } }] }, { handle: 4, expr: [iif('eth1'), { drop: null }] })),
    'end',
    'only conditional rules and jumps: at the end',
  );
  t.deepEqual(nftPlacement(listing()), 'end');
  t.deepEqual(nftPlacement(listing({ handle: 8, expr: [{ xt: { type: 'target', name: 'REJECT' } }] })), { before: 8 }, "iptables-nft's untranslated REJECT is a catch-all too");
  t.deepEqual(nftPlacement(listing({ handle: 8, expr: [{ xt: { type: 'match', name: 'recent' } }, { drop: null }] })), 'end', 'an untranslated match is a condition');
  t.deepEqual(
    nftPlacement(listing({ handle: 2, comment: 'berth: accept traffic of berth devices', expr: [counter, { accept: null }] }, { handle: 5, expr: [counter, { return: null }] })),
    { before: 5 },
    "berth's own rule is not the admin's catch-all",
  );
  const [ins] = placeForeignRule({ backend: 'nftables', family: 'ip', table: 'filter', chain: 'DOCKER-USER' }, listing({ handle: 5, expr: [counter, { return: null }] })) as unknown as [
    { insert: { rule: { handle: number } } },
  ];
  t.is(ins.insert.rule.handle, 5, 'inserted just before the RETURN');
});

test('iptables-legacy: the same place, as a rule number for -I, or -A when there is no catch-all', (t) => {
  t.is(legacyPlacement('DOCKER-USER', '-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n'), 1);
  t.is(legacyPlacement('DOCKER-USER', '-N DOCKER-USER\n-A DOCKER-USER -i eth0 -j DROP\n-A DOCKER-USER -j RETURN\n'), 2);
  t.is(
    legacyPlacement(
      'FORWARD',
      '-P FORWARD DROP\n-A FORWARD -i eth1 -j DROP\n-A FORWARD -m comment --comment "log it" -j LOG --log-prefix "fwd "\n-A FORWARD -j REJECT --reject-with icmp-host-prohibited\n',
    ),
    2,
  );
  t.is(legacyPlacement('FORWARD', '-P FORWARD DROP\n-A FORWARD -j ufw-before-forward\n-A FORWARD -s 10.0.0.0/8 -j DROP\n'), undefined);
  t.is(legacyPlacement('ufw-user-forward', '-N ufw-user-forward\n'), undefined);
});
