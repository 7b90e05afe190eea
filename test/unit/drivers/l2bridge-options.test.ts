import test from 'ava';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import { l2bridgeOptionsFromConf } from '../../../drivers/l2bridge/cni-config.js';
import { l2bridgeOptionsFromDocker } from '../../../drivers/l2bridge/docker-options.js';
import { addSources, deleteNatTable, deleteSources, ensureNatRules, natTable, sourcesIn } from '../../../drivers/l2bridge/l2bridge-rules.js';

const ctx = { networkName: 'lan', internal: false, hasGateway: true, hasSubnet: true };

test('CNI configuration: master, mtu, outboundNat; defaults', (t) => {
  t.deepEqual(l2bridgeOptionsFromConf('lan', { master: 'eth0', ipam: { type: 'berth-ipam' } }), { master: 'eth0', outboundNat: false });
  t.deepEqual(l2bridgeOptionsFromConf('lan', { master: 'eth0', mtu: 1400, outboundNat: true }), { master: 'eth0', mtu: 1400, outboundNat: true });
});

test('CNI configuration: the errors name the key', (t) => {
  t.throws(() => l2bridgeOptionsFromConf('lan', {}), { message: /^master is required/ });
  t.throws(() => l2bridgeOptionsFromConf('lan', { master: 'a/b' }), { message: 'master "a/b" is not an interface name' });
  t.throws(() => l2bridgeOptionsFromConf('lan', { master: 'eth0', mtu: 20 }), { message: 'mtu 20 is out of range (68-65535)' });
  t.throws(() => l2bridgeOptionsFromConf('lan', { master: 'eth0', outboundNat: 'yes' }), { message: /outboundNat must be true or false/ });
  const dhcp = t.throws(() => l2bridgeOptionsFromConf('lan', { master: 'eth0', ipam: { type: 'berth-dhcp' } }));
  t.regex(dhcp.message, /static/);
  t.is((dhcp as unknown as { code: string }).code, 'unsupported-field');
});

test("Docker options: parent, outbound_nat, Docker's MTU key", (t) => {
  t.deepEqual(l2bridgeOptionsFromDocker({ parent: 'eth0' }, ctx), { master: 'eth0', outboundNat: false });
  t.deepEqual(l2bridgeOptionsFromDocker({ parent: 'eth0', outbound_nat: 'true', 'com.docker.network.driver.mtu': '1450' }, ctx), { master: 'eth0', mtu: 1450, outboundNat: true });
  t.throws(() => l2bridgeOptionsFromDocker({}, ctx), { message: /needs -o parent=<uplink>/ });
  t.throws(() => l2bridgeOptionsFromDocker({ parent: 'eth0', bogus: '1' }, ctx), { message: /^Unknown option "bogus" for driver berth-l2bridge; it accepts: parent, outbound_nat, mtu/ });
  t.throws(() => l2bridgeOptionsFromDocker({ parent: 'eth0', outbound_nat: 'maybe' }, ctx), { message: /outbound_nat="maybe" is not a boolean/ });
  t.throws(() => l2bridgeOptionsFromDocker({ parent: 'eth0' }, { ...ctx, internal: true }), { message: /cannot be --internal/ });
  t.throws(() => l2bridgeOptionsFromDocker({ parent: '' }, ctx), { message: /^parent is required/ });
});

test('outbound NAT: one table per network; sources by family; the uplink prefixes exempt; idempotent removal', (t) => {
  const t1 = natTable('lan');
  t.regex(t1.table, /^berth-l2b-[0-9a-f]{10}$/);
  t.not(natTable('other').table, t1.table);
  const cmds = ensureNatRules('lan', [IpPrefix.parse('10.79.0.0/25'), IpPrefix.parse('fd79::/80')]) as unknown as Record<string, Record<string, Record<string, unknown>>>[];
  const rules = cmds.filter((c) => c.add?.rule).map((c) => c.add!.rule!);
  t.is(rules.length, 2);
  t.deepEqual(rules[0]!.expr, [
    { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@src4' } },
    { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { set: [{ prefix: { addr: '10.79.0.0', len: 25 } }] } } },
    { masquerade: null },
  ]);
  t.deepEqual((rules[1]!.expr as unknown[])[1], { match: { op: '!=', left: { payload: { protocol: 'ip6', field: 'daddr' } }, right: { set: [{ prefix: { addr: 'fd79::', len: 80 } }] } } });
  t.truthy(
    cmds.find((c) => c.flush?.chain),
    'the chain is written whole',
  );
  const add = addSources('lan', [IpAddress.parse('10.79.0.100'), IpAddress.parse('fd79::100')]) as unknown as { add: { element: { name: string; elem: string[] } } }[];
  t.deepEqual(
    add.map((c) => [c.add.element.name, c.add.element.elem]),
    [
      ['src4', ['10.79.0.100']],
      ['src6', ['fd79::100']],
    ],
  );
  t.deepEqual(
    deleteSources('lan', [IpAddress.parse('10.79.0.100')]).map((c) => Object.keys(c)[0]),
    ['add', 'delete'],
  );
  t.deepEqual(
    deleteNatTable('lan').map((c) => Object.keys(c)[0]),
    ['add', 'delete'],
  );
  t.deepEqual(sourcesIn([{ set: { name: 'src4', elem: ['10.79.0.100'] } }, { set: { name: 'src6', elem: ['fd79::100'] } }, { set: { name: 'x', elem: ['1.1.1.1'] } }]), ['10.79.0.100', 'fd79::100']);
});
