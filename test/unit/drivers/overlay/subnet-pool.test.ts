import test from 'ava';
import { InvalidConfigError } from '../../../../core/errors.js';
import { IpPrefix } from '../../../../core/ip.js';
import { SubnetPool } from '../../../../drivers/overlay/subnet-pool.js';

const p = (text: string) => IpPrefix.parse(text);

test('subnet pool: blocks are numbered from the lowest; holds only blocks of the right length inside', (t) => {
  const pool = new SubnetPool(p('10.244.0.0/16'), 24);
  t.is(pool.count, 256n);
  t.is(pool.at(0n).toString(), '10.244.0.0/24');
  t.is(pool.at(255n).toString(), '10.244.255.0/24');
  t.true(pool.holds(p('10.244.7.0/24')));
  t.false(pool.holds(p('10.244.7.0/25')));
  t.false(pool.holds(p('10.245.0.0/24')));
  t.false(pool.holds(p('fd00::/120')));
});

test('subnet pool: lowestFree skips taken blocks, and blocks overlapped by prefixes of other lengths', (t) => {
  const pool = new SubnetPool(p('10.0.0.0/24'), 26);
  t.is(pool.lowestFree([])?.toString(), '10.0.0.0/26');
  t.is(pool.lowestFree([p('10.0.0.0/26'), p('10.0.0.128/26')])?.toString(), '10.0.0.64/26');
  // A /25 left by an earlier subnetLen covers two blocks; a prefix around the whole pool, all.
  t.is(pool.lowestFree([p('10.0.0.0/25')])?.toString(), '10.0.0.128/26');
  t.is(pool.lowestFree([p('10.0.0.0/8')]), undefined);
  t.is(pool.lowestFree([p('192.168.0.0/26'), p('fd00::/64')])?.toString(), '10.0.0.0/26');
  t.is(pool.lowestFree(['10.0.0.0/26', '10.0.0.64/26', '10.0.0.128/26', '10.0.0.192/26'].map(p)), undefined);
});

test('subnet pool: IPv6 blocks', (t) => {
  const pool = new SubnetPool(p('fd10::/48'), 64);
  t.is(pool.count, 65536n);
  t.is(pool.lowestFree([p('fd10::/64')])?.toString(), 'fd10:0:0:1::/64');
});

test('subnet pool: subnetLen must cut the subnet into blocks that hold a VTEP, a gateway and a workload', (t) => {
  for (const len of [15, 31, 32, 24.5]) {
    const err = t.throws(() => new SubnetPool(p('10.244.0.0/16'), len), { instanceOf: InvalidConfigError });
    t.is(err?.fields.field, 'subnetLen');
  }
  t.notThrows(() => new SubnetPool(p('10.244.0.0/16'), 16));
  t.notThrows(() => new SubnetPool(p('10.244.0.0/16'), 30));
});
