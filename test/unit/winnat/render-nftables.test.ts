import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { putInstance, setOwnerMappings } from '../../../winnat/mapping-table.js';
import { EMPTY_STATE } from '../../../winnat/model.js';
import { diffElements, elementsOf, formatElement, missingElements, parseListing, replaceTable, skeleton } from '../../../winnat/render-nftables.js';
import { instance, kinds, tcp } from './helpers.js';

const EPH = { start: 49152, end: 65535 };
const one = putInstance(EMPTY_STATE, instance('n1', '10.1.0.0/24', 'bn-n1'));
const owner = { containerId: 'c1', endpoint: 'eth0' };

test('the skeleton orders chains before sets and maps, and those before rules', (t) => {
  const k = kinds(skeleton());
  const last = (p: string) => k.map((x, i) => (x.startsWith(p) ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
  const first = (p: string) => k.findIndex((x) => x.startsWith(p));
  t.true(last('add chain') < first('add set'));
  t.true(last('add chain') < first('add map'));
  t.true(Math.max(last('add set'), last('add map')) < first('add rule'));
  t.true(last('flush chain') < first('add rule'));
});

test('replaceTable: add, delete and re-create the table, with elements last', (t) => {
  const k = kinds(replaceTable(one));
  t.deepEqual(k.slice(0, 3), ['add table', 'delete table', 'add table']);
  t.true(k.lastIndexOf('add rule') < k.indexOf('add element internal-ifs'));
  t.deepEqual(kinds(replaceTable(EMPTY_STATE)), ['add table', 'delete table'], 'an empty state leaves no table');
});

test('elementsOf: a mapping is one address and one port element; loopback adds a set element; ranges expand', (t) => {
  let s = putInstance(EMPTY_STATE, instance('n1', '10.1.0.0/24', 'bn-n1', true));
  s = setOwnerMappings(s, {
    nat: 'n1',
    owner,
    requests: [tcp(8080, '10.1.0.2', 80), tcp(9000, '10.1.0.2', 90, { externalPortEnd: 9001, externalAddress: IpAddress.parse('10.9.0.1') })],
    ephemeral: EPH,
  }).state;
  const shown = [...elementsOf(s).values()].map(formatElement).sort();
  t.deepEqual(shown, [
    'internal-ifs bn-n1',
    'internal-nets 10.1.0.0/24',
    'loop tcp . 8080',
    'loopback-ifs bn-n1',
    'loopx 10.9.0.1 . tcp . 9000',
    'loopx 10.9.0.1 . tcp . 9001',
    'pub-addr tcp . 8080 : 10.1.0.2',
    'pub-port tcp . 8080 : 80',
    'pubx-addr 10.9.0.1 . tcp . 9000 : 10.1.0.2',
    'pubx-addr 10.9.0.1 . tcp . 9001 : 10.1.0.2',
    'pubx-port 10.9.0.1 . tcp . 9000 : 90',
    'pubx-port 10.9.0.1 . tcp . 9001 : 91',
  ]);
});

test('diffElements touches only what changed: one new mapping is two element additions', (t) => {
  const s1 = setOwnerMappings(one, { nat: 'n1', owner, requests: [tcp(8080, '10.1.0.2', 80)], ephemeral: EPH }).state;
  const s2 = setOwnerMappings(s1, { nat: 'n1', owner: { containerId: 'c2', endpoint: 'eth0' }, requests: [tcp(8081, '10.1.0.3', 80)], ephemeral: EPH }).state;
  const cmds = diffElements(elementsOf(s1), elementsOf(s2));
  t.deepEqual(kinds(cmds), ['add element pub-addr', 'add element pub-port']);
  t.regex(JSON.stringify(cmds), /\[\{"concat":\["tcp",8081\]\},"10\.1\.0\.3"\]/);
  t.deepEqual(diffElements(elementsOf(s2), elementsOf(s2)), []);
});

test('diffElements: a changed target is deleted and re-added, deletions first', (t) => {
  const s1 = setOwnerMappings(one, { nat: 'n1', owner, requests: [tcp(8080, '10.1.0.2', 80)], ephemeral: EPH }).state;
  const s2 = setOwnerMappings(s1, { nat: 'n1', owner, requests: [tcp(8080, '10.1.0.2', 81)], ephemeral: EPH }).state;
  const cmds = diffElements(elementsOf(s1), elementsOf(s2));
  t.deepEqual(kinds(cmds), ['delete element pub-port', 'add element pub-port']);
  t.regex(JSON.stringify(cmds[0]), /"elem":\[\{"concat":\["tcp",8080\]\}\]/, 'a map element is deleted by its key');
});

test("parseListing reads the kernel's JSON back into the same elements", (t) => {
  const s = setOwnerMappings(putInstance(EMPTY_STATE, instance('n1', '10.1.0.5/32', 'bn-n1')), { nat: 'n1', owner, requests: [tcp(8080, '10.1.0.5', 80)], ephemeral: EPH }).state;
  // The shape `nft -j list table ip berth-nat` prints (libnftables 1.0.6).
  const listing = [
    { metainfo: { version: '1.0.6' } },
    { table: { family: 'ip', name: 'berth-nat', handle: 1 } },
    { set: { family: 'ip', name: 'internal-ifs', table: 'berth-nat', type: 'ifname', elem: ['bn-n1'] } },
    { set: { family: 'ip', name: 'internal-nets', table: 'berth-nat', type: 'ipv4_addr', flags: ['interval'], elem: ['10.1.0.5'] } },
    { map: { family: 'ip', name: 'pub-addr', table: 'berth-nat', type: ['inet_proto', 'inet_service'], map: 'ipv4_addr', elem: [[{ concat: ['tcp', 8080] }, '10.1.0.5']] } },
    { map: { family: 'ip', name: 'pub-port', table: 'berth-nat', type: ['inet_proto', 'inet_service'], map: 'inet_service', elem: [[{ concat: ['tcp', 8080] }, 80]] } },
    { chain: { family: 'ip', table: 'berth-nat', name: 'prerouting' } },
  ];
  const parsed = parseListing(listing);
  t.true(parsed.exists);
  t.true(parsed.chains.has('prerouting'));
  t.deepEqual(missingElements(elementsOf(s), parsed.elements), []);
  const wrong = parseListing(listing.map((i) => ('map' in i && i.map?.name === 'pub-port' ? { map: { ...i.map, elem: [[{ concat: ['tcp', 8080] }, 81]] } } : i)));
  t.deepEqual(missingElements(elementsOf(s), wrong.elements).map(formatElement), ['pub-port tcp . 8080 : 80']);
});
