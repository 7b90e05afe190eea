import test from 'ava';
import { IpAddress, IpPrefix, parseIpWithPrefix } from '../../../core/ip.js';

test('IPv4 round trip and arithmetic', (t) => {
  const a = IpAddress.parse('10.1.2.254');
  t.is(a.plus(1n).toString(), '10.1.2.255');
  t.is(a.plus(2n).toString(), '10.1.3.0');
  t.deepEqual([...a.toBytes()], [10, 1, 2, 254]);
});

test('IPv6 canonical form (RFC 5952)', (t) => {
  t.is(IpAddress.parse('FD00:0:0:0:0:0:0:1').toString(), 'fd00::1');
  t.is(IpAddress.parse('2001:db8:0:0:1:0:0:1').toString(), '2001:db8::1:0:0:1');
  t.is(IpAddress.parse('::').toString(), '::');
  t.is(IpAddress.parse('::ffff:10.0.0.1').toString(), '::ffff:a00:1');
  t.is(IpAddress.parse('2001:db8:1:2:3:4:5:6').toString(), '2001:db8:1:2:3:4:5:6');
  t.is(IpAddress.parse('2001:0:0:1:0:0:0:1').toString(), '2001:0:0:1::1');
});

test('bad addresses are refused', (t) => {
  for (const bad of ['10.1.2', '10.1.2.256', '010.1.2.3', 'fd00:::1', '1:2:3:4:5:6:7:8:9', 'x::1', '']) {
    t.throws(() => IpAddress.parse(bad), undefined, bad);
  }
});

test('prefixes: strict host bits, contains, overlap, last', (t) => {
  t.throws(() => IpPrefix.parse('10.1.0.5/24'), { message: /host bits/ });
  const p = IpPrefix.parse('10.1.0.0/24');
  t.is(p.last.toString(), '10.1.0.255');
  t.true(p.contains(IpAddress.parse('10.1.0.77')));
  t.false(p.contains(IpAddress.parse('10.1.1.0')));
  t.true(p.overlaps(IpPrefix.parse('10.1.0.128/25')));
  t.false(p.overlaps(IpPrefix.parse('10.2.0.0/16')));
  t.is(IpPrefix.parse('fd00::/64').size, 1n << 64n);
  t.is(IpPrefix.parse('10.1.0.5/24', { strict: false }).toString(), '10.1.0.0/24');
  t.is(p.mask.toString(), '255.255.255.0');
  t.throws(() => IpPrefix.parse('10.0.0.0/33'));
  t.is(parseIpWithPrefix('10.0.0.7/24').address.toString(), '10.0.0.7');
});
