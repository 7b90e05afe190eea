import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { parseIpamConfig } from '../../../ipam/config.js';
import { candidates, capacityOf, describeRangeSet, rangeFor, reservedReason, type RangeSet } from '../../../ipam/range-set.js';

const set = (...ranges: unknown[]): RangeSet => parseIpamConfig({ ipam: { ranges: [ranges] } }).rangeSets[0] as RangeSet;
const walk = (s: RangeSet, cursor?: string) => [...candidates(s, cursor ? IpAddress.parse(cursor) : undefined)].map((c) => String(IpAddress.fromBigInt(c.range.subnet.family, c.value)));

const two = set({ subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.12' }, { subnet: '10.1.1.0/24', rangeStart: '10.1.1.1', rangeEnd: '10.1.1.3' });

test('candidates: from the first range start without a cursor; the gateway is skipped', (t) => {
  t.deepEqual(walk(two), ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.1.2', '10.1.1.3']);
});

test('candidates: right after the cursor, through the next ranges, wrapping, each address once', (t) => {
  t.deepEqual(walk(two, '10.1.0.11'), ['10.1.0.12', '10.1.1.2', '10.1.1.3', '10.1.0.10', '10.1.0.11']);
  t.deepEqual(walk(two, '10.1.0.12'), ['10.1.1.2', '10.1.1.3', '10.1.0.10', '10.1.0.11', '10.1.0.12']);
  t.deepEqual(walk(two, '10.1.1.3'), ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.1.2', '10.1.1.3']);
  // A cursor outside the set (the config changed) starts from the beginning, as in host-local.
  t.deepEqual(walk(two, '10.1.5.5'), walk(two));
});

test('candidates: IPv4 network and broadcast never appear; IPv6 keeps its last address', (t) => {
  t.deepEqual(walk(set({ subnet: '10.2.0.0/29', rangeStart: '10.2.0.0', rangeEnd: '10.2.0.7' })), ['10.2.0.2', '10.2.0.3', '10.2.0.4', '10.2.0.5', '10.2.0.6']);
  t.deepEqual(walk(set({ subnet: 'fd00::/126' })), ['fd00::2', 'fd00::3']);
});

test('capacityOf, rangeFor, reservedReason, describeRangeSet', (t) => {
  t.is(capacityOf(two), 5n);
  t.is(capacityOf(set({ subnet: '10.0.0.0/16' })), 65533n);
  t.is(capacityOf(set({ subnet: 'fd00::/64' })), (1n << 64n) - 2n);
  t.is(rangeFor(two, IpAddress.parse('10.1.0.9')), undefined);
  t.is(String(rangeFor(two, IpAddress.parse('10.1.1.3'))?.subnet), '10.1.1.0/24');
  const r = two[1]!;
  t.is(reservedReason(r, IpAddress.parse('10.1.1.1')), 'the gateway of 10.1.1.0/24');
  t.is(reservedReason(r, IpAddress.parse('10.1.1.0')), 'the network address of 10.1.1.0/24');
  t.is(reservedReason(r, IpAddress.parse('10.1.1.255')), 'the broadcast address of 10.1.1.0/24');
  t.is(reservedReason(r, IpAddress.parse('10.1.1.2')), undefined);
  t.is(describeRangeSet(set({ subnet: '10.0.0.0/16' })), '10.0.0.0/16');
  t.is(describeRangeSet(set({ subnet: 'fd00::/64' })), 'fd00::/64');
  t.is(describeRangeSet(two), '10.1.0.10-10.1.0.12 (10.1.0.0/24), 10.1.1.1-10.1.1.3 (10.1.1.0/24)');
});
