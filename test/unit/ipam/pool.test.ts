import test from 'ava';
import { IoError } from '../../../core/errors.js';
import { Pool } from '../../../ipam/pool.js';
import type { JsonValue } from '../../../store/store.js';

const doc = (holdings: unknown[], extra: Record<string, unknown> = {}) => ({ format: 1, holdings, cursors: {}, ...extra }) as unknown as JsonValue;

test('pool: finds holdings by address (binary search) and by owner, keeps them sorted', (t) => {
  const pool = Pool.decode(undefined, 'n');
  const add = (address: string, containerId: string, ifname = 'eth0') => pool.reserve({ address, containerId, ifname, prefixLength: 24, gateway: '10.1.0.1' }, 'set');
  add('10.1.0.20', 'b');
  add('10.1.0.2', 'a');
  add('10.1.0.3', 'c');
  add('fd00::2', 'a');
  add('10.1.0.200', 'a', 'net1');
  t.is(pool.holder('10.1.0.2')?.containerId, 'a');
  t.is(pool.holder('10.1.0.20')?.containerId, 'b');
  t.is(pool.holder('10.1.0.200')?.ifname, 'net1');
  t.is(pool.holder('10.1.0.21'), undefined);
  t.deepEqual(
    pool.heldBy('a', 'eth0').map((h) => h.address),
    ['10.1.0.2', 'fd00::2'],
  );
  t.is(pool.cursor('set'), '10.1.0.200');
  const encoded = pool.encode() as { holdings: string[] };
  t.deepEqual(encoded.holdings, [...encoded.holdings].sort());
  // What was encoded decodes again to the same thing.
  const again = Pool.decode(JSON.parse(JSON.stringify(encoded)) as JsonValue, 'n');
  t.deepEqual([...again.holdings()], [...pool.holdings()]);
  t.deepEqual(
    pool.releaseOwner('a', 'eth0').map((h) => h.address),
    ['10.1.0.2', 'fd00::2'],
  );
  t.is(pool.size, 3);
  t.throws(() => pool.reserve({ address: '10.1.0.3', containerId: 'x', ifname: 'eth0', prefixLength: 24 }, 'set'));
});

test('pool: a holding without a gateway round-trips', (t) => {
  const pool = Pool.decode(doc(['10.1.0.5 c eth0 24']), 'n');
  t.deepEqual(pool.holder('10.1.0.5'), { address: '10.1.0.5', containerId: 'c', ifname: 'eth0', prefixLength: 24 });
});

const damaged: [string, unknown, RegExp][] = [
  ['not an object', [1], /not an object/],
  ['unknown format', { format: 'x', holdings: [], cursors: {} }, /unknown format/],
  ['newer format', { format: 9, holdings: [], cursors: {} }, /newer berth/],
  ['holdings not a list', { format: 1, holdings: {}, cursors: {} }, /"holdings" is not a list/],
  ['malformed line', doc(['10.1.0.5']), /malformed/],
  ['address held twice', doc(['10.1.0.5 a eth0 24', '10.1.0.5 b eth0 24']), /10\.1\.0\.5 is held twice/],
  ['out of order', doc(['10.1.0.6 a eth0 24', '10.1.0.5 b eth0 24']), /not in order/],
  ['cursors not an object', { format: 1, holdings: [], cursors: [] }, /"cursors" is not an object/],
];
for (const [title, value, message] of damaged) {
  test(`pool: a damaged document (${title}) is an IoError, never read as empty`, (t) => {
    t.throws(() => Pool.decode(value as JsonValue, 'net1'), { instanceOf: IoError, message });
  });
}

test('pool: a malformed line is reported when it is read', (t) => {
  const pool = Pool.decode(doc(['10.1.0.5 c eth0 x']), 'n');
  t.throws(() => pool.holder('10.1.0.5'), { instanceOf: IoError, message: /malformed/ });
});
