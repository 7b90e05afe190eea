import test from 'ava';
import { parseResolvConf } from '../../../ipam/resolv-conf.js';

test('parseResolvConf: nameservers and options accumulate, the last search wins, comments are skipped', (t) => {
  const text = [
    '# generated',
    '; also a comment',
    'nameserver 10.0.0.2',
    '  nameserver\t10.0.0.3  ',
    'search old.example',
    'search a.example b.example',
    'domain example.org',
    'options ndots:2',
    'options rotate',
    'sortlist 10.0.0.0',
    '',
  ].join('\n');
  t.deepEqual(parseResolvConf(text), {
    nameservers: ['10.0.0.2', '10.0.0.3'],
    domain: 'example.org',
    search: ['a.example', 'b.example'],
    options: ['ndots:2', 'rotate'],
  });
});

test('parseResolvConf: an empty file gives an empty Dns', (t) => {
  t.deepEqual(parseResolvConf(''), {});
  t.deepEqual(parseResolvConf('nameserver\n'), {});
});
