import test from 'ava';
import { InvalidConfigError } from '../../../core/errors.js';
import { decodeKey, encodeKey } from '../../../store/file/key-encoding.js';

test('encodeKey: "/" and unsafe characters are percent-encoded, round trip holds', (t) => {
  t.is(encodeKey('ipam/pools/net1'), 'ipam%2Fpools%2Fnet1');
  t.is(encodeKey('a b~c*'), 'a%20b%7Ec%2A');
  for (const key of ['ipam/pools/net1', 'x.y_z-1', 'héllo/wörld', '..a', 'a..', '%2F']) {
    const name = encodeKey(key);
    t.regex(name, /^[A-Za-z0-9._%-]+$/);
    t.is(decodeKey(name), key);
  }
});

test('encodeKey: empty, "." and ".." segments, control characters and overlong keys are refused', (t) => {
  for (const bad of ['', '..', '.', 'a/../b', 'a/./b', '/a', 'a/', 'a//b', 'a\nb', 'x'.repeat(300)]) {
    const err = t.throws(() => encodeKey(bad), { instanceOf: InvalidConfigError }, JSON.stringify(bad));
    t.is(err?.fields.field, 'key');
  }
});

test('decodeKey: names that are not a canonical encoding are not keys', (t) => {
  t.is(decodeKey('a%41'), undefined); // the key "aA" is stored as "aA"
  t.is(decodeKey('a~tmp'), undefined);
  t.is(decodeKey('%zz'), undefined);
  t.is(decodeKey('..'), undefined);
});
