import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecodeError, InvalidConfigError } from '../../../core/errors.js';
import { parseIpamConfig, type IpamConfigInput } from '../../../ipam/config.js';

const parse = (ipam: unknown, rest: Omit<IpamConfigInput, 'ipam'> = {}) => parseIpamConfig({ ipam, ...rest });
const text = (r: { subnet: unknown; rangeStart: unknown; rangeEnd: unknown; gateway?: unknown }) => `${String(r.subnet)} ${String(r.rangeStart)}-${String(r.rangeEnd)} gw ${String(r.gateway)}`;

test('config: host-local defaults for IPv4 and IPv6 (start network+1, end broadcast-1 / last, gateway network+1)', (t) => {
  const c = parse({ ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]] });
  t.deepEqual(
    c.rangeSets.map((s) => s.map(text)),
    [['10.1.0.0/24 10.1.0.1-10.1.0.254 gw 10.1.0.1'], ['fd00::/64 fd00::1-fd00::ffff:ffff:ffff:ffff gw fd00::1']],
  );
  t.deepEqual(c.routes, []);
  t.is(c.dataDir, undefined);
  t.is(c.dns, undefined);
  t.deepEqual(c.requestedIps, []);
});

test('config: explicit rangeStart, rangeEnd and gateway are kept; several ranges in one set', (t) => {
  const c = parse({
    ranges: [
      [
        { subnet: '10.1.0.0/24', rangeStart: '10.1.0.10', rangeEnd: '10.1.0.20', gateway: '10.1.0.254' },
        { subnet: '10.1.1.0/24', rangeStart: '10.1.1.10' },
      ],
    ],
  });
  t.deepEqual(
    c.rangeSets.map((s) => s.map(text)),
    [['10.1.0.0/24 10.1.0.10-10.1.0.20 gw 10.1.0.254', '10.1.1.0/24 10.1.1.10-10.1.1.254 gw 10.1.1.1']],
  );
});

test('config: order is runtimeConfig.ipRanges, then the legacy top-level range, then ranges', (t) => {
  const c = parse({ subnet: '10.2.0.0/24', rangeStart: '10.2.0.5', ranges: [[{ subnet: '10.3.0.0/24' }]] }, { runtimeConfig: { ipRanges: [[{ subnet: '10.1.0.0/24' }]] } });
  t.deepEqual(
    c.rangeSets.map((s) => String(s[0]?.subnet)),
    ['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24'],
  );
  t.is(String(c.rangeSets[1]?.[0]?.rangeStart), '10.2.0.5');
});

test('config: routes, dataDir, and resolvConf parsed into dns', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ipam-conf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, '# comment\nnameserver 10.0.0.2\nnameserver fd00::53\nsearch a.example b.example\ndomain example\noptions ndots:5 edns0\n');
  const c = parse({
    ranges: [[{ subnet: '10.1.0.0/24' }]],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.1.0.254', priority: 10 }],
    dataDir: '/run/berth',
    resolvConf: resolv,
  });
  t.deepEqual(
    c.routes.map((r) => [String(r.dst), r.gw ? String(r.gw) : undefined, r.priority]),
    [
      ['0.0.0.0/0', undefined, undefined],
      ['192.168.0.0/16', '10.1.0.254', 10],
    ],
  );
  t.is(c.dataDir, '/run/berth');
  t.deepEqual(c.dns, { nameservers: ['10.0.0.2', 'fd00::53'], domain: 'example', search: ['a.example', 'b.example'], options: ['ndots:5', 'edns0'] });
});

test('config: requested IPs from CNI_ARGS IP=, args.cni.ips and runtimeConfig.ips, deduplicated, prefixes accepted', (t) => {
  const c = parse(
    { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00::/64' }]] },
    {
      cniArgs: new Map([
        ['IgnoreUnknown', '1'],
        ['IP', '10.1.0.9'],
      ]),
      args: { cni: { ips: ['10.1.0.9/24', 'fd00::9'] } },
      runtimeConfig: { ips: ['FD00::0:9'] },
    },
  );
  t.deepEqual(c.requestedIps.map(String), ['10.1.0.9', 'fd00::9']);
});

/** [title, ipam, rest, error class, field, value, message] */
const invalid: [string, unknown, Omit<IpamConfigInput, 'ipam'>, typeof InvalidConfigError | typeof DecodeError, string, string | undefined, RegExp][] = [
  ['missing ipam', undefined, {}, InvalidConfigError, 'ipam', undefined, /ipam is missing/],
  ['no ranges at all', { type: 'berth-ipam' }, {}, InvalidConfigError, 'ipam.ranges', undefined, /no address ranges/],
  ['ranges not a list', { ranges: 'x' }, {}, DecodeError, 'ipam.ranges', '"x"', /must be a list/],
  ['empty range set', { ranges: [[]] }, {}, InvalidConfigError, 'ipam.ranges[0]', undefined, /empty range set/],
  ['range not an object', { ranges: [[{ subnet: '10.1.0.0/24' }, 7]] }, {}, DecodeError, 'ipam.ranges[0][1]', '7', /must be an object/],
  ['subnet missing', { ranges: [[{ rangeStart: '10.1.0.5' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', undefined, /is required/],
  ['subnet not CIDR', { ranges: [[{ subnet: '10.1.0.0' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', '10.1.0.0', /not a subnet in CIDR notation/],
  ['subnet bad length', { ranges: [[{ subnet: '10.1.0.0/33' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', '10.1.0.0/33', /not a subnet/],
  [
    'subnet host bits',
    { ranges: [[{ subnet: '10.1.0.5/24' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][0].subnet',
    '10.1.0.5/24',
    /^ipam\.ranges\[0\]\[0\]\.subnet 10\.1\.0\.5\/24 has host bits set: the subnet is 10\.1\.0\.0\/24$/,
  ],
  ['subnet /31', { ranges: [[{ subnet: '10.1.0.0/31' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', '10.1.0.0/31', /too small to allocate from/],
  ['subnet /32', { ranges: [[{ subnet: '10.1.0.1/32' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', '10.1.0.1/32', /too small/],
  ['subnet /127', { ranges: [[{ subnet: 'fd00::/127' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', 'fd00::/127', /too small/],
  ['subnet /128', { ranges: [[{ subnet: 'fd00::1/128' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].subnet', 'fd00::1/128', /too small/],
  [
    'rangeStart outside subnet',
    { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.2.0.5' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][0].rangeStart',
    '10.2.0.5',
    /^ipam\.ranges\[0\]\[0\]\.rangeStart 10\.2\.0\.5 is outside subnet 10\.1\.0\.0\/24$/,
  ],
  [
    'rangeEnd outside subnet',
    { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: '10.1.1.0/24', rangeEnd: '10.1.2.1' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][1].rangeEnd',
    '10.1.2.1',
    /outside subnet 10\.1\.1\.0\/24/,
  ],
  ['rangeStart not an address', { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.300' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][0].rangeStart', '10.1.0.300', /not an IP address/],
  [
    'rangeStart wrong family',
    { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: 'fd00::5' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][0].rangeStart',
    'fd00::5',
    /is IPv6 but subnet 10\.1\.0\.0\/24 is IPv4/,
  ],
  [
    'rangeStart after rangeEnd',
    { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.9', rangeEnd: '10.1.0.5' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][0].rangeEnd',
    '10.1.0.5',
    /rangeEnd 10\.1\.0\.5 is before rangeStart 10\.1\.0\.9/,
  ],
  [
    'rangeStart after the default end',
    { ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.1.0.255' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][0].rangeStart',
    '10.1.0.255',
    /after the end of the range, 10\.1\.0\.254/,
  ],
  [
    'gateway outside subnet',
    { ranges: [[{ subnet: '10.1.0.0/24', gateway: '10.2.0.1' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[0][0].gateway',
    '10.2.0.1',
    /gateway 10\.2\.0\.1 is outside subnet 10\.1\.0\.0\/24/,
  ],
  ['mixed families in a set', { ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: 'fd00::/64' }]] }, {}, InvalidConfigError, 'ipam.ranges[0][1].subnet', 'fd00::/64', /share one family/],
  [
    'overlapping ranges in a set',
    {
      ranges: [
        [
          { subnet: '10.1.0.0/24', rangeEnd: '10.1.0.100' },
          { subnet: '10.1.0.0/24', rangeStart: '10.1.0.50' },
        ],
      ],
    },
    {},
    InvalidConfigError,
    'ipam.ranges[0][1]',
    '10.1.0.50-10.1.0.254',
    /ipam\.ranges\[0\]\[1\] \(10\.1\.0\.50-10\.1\.0\.254\) overlaps ipam\.ranges\[0\]\[0\] \(10\.1\.0\.1-10\.1\.0\.100\)/,
  ],
  [
    'overlapping range sets',
    { ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: '10.1.0.0/25' }]] },
    {},
    InvalidConfigError,
    'ipam.ranges[1]',
    '10.1.0.1-10.1.0.126',
    /range set ipam\.ranges\[1\] overlaps range set ipam\.ranges\[0\]/,
  ],
  [
    'runtime ipRanges overlap ranges',
    { ranges: [[{ subnet: '10.1.0.0/24' }]] },
    { runtimeConfig: { ipRanges: [[{ subnet: '10.1.0.0/24' }]] } },
    InvalidConfigError,
    'ipam.ranges[0]',
    '10.1.0.1-10.1.0.254',
    /overlaps range set runtimeConfig\.ipRanges\[0\]/,
  ],
  [
    'runtime ipRanges field path',
    { ranges: [[{ subnet: '10.1.0.0/24' }]] },
    { runtimeConfig: { ipRanges: [[{ subnet: '10.9.0.0/24', gateway: '10.8.0.1' }]] } },
    InvalidConfigError,
    'runtimeConfig.ipRanges[0][0].gateway',
    '10.8.0.1',
    /outside subnet/,
  ],
  ['legacy range field path', { subnet: '10.1.0.0/24', rangeEnd: '10.1.1.9' }, {}, InvalidConfigError, 'ipam.rangeEnd', '10.1.1.9', /^ipam\.rangeEnd 10\.1\.1\.9 is outside subnet 10\.1\.0\.0\/24$/],
  ['legacy keys without subnet', { rangeStart: '10.1.0.5', ranges: [[{ subnet: '10.1.0.0/24' }]] }, {}, InvalidConfigError, 'ipam.rangeStart', '10.1.0.5', /ipam\.subnet is not/],
  ['route dst missing', { ranges: [[{ subnet: '10.1.0.0/24' }]], routes: [{ gw: '10.1.0.1' }] }, {}, InvalidConfigError, 'ipam.routes[0].dst', undefined, /is required/],
  ['route dst bad', { ranges: [[{ subnet: '10.1.0.0/24' }]], routes: [{ dst: 'default' }] }, {}, InvalidConfigError, 'ipam.routes[0].dst', 'default', /not a destination/],
  [
    'route gw family',
    { ranges: [[{ subnet: '10.1.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: '10.1.0.1' }] },
    {},
    InvalidConfigError,
    'ipam.routes[1].gw',
    '10.1.0.1',
    /is IPv4 but dst ::\/0 is IPv6/,
  ],
  ['route priority type', { ranges: [[{ subnet: '10.1.0.0/24' }]], routes: [{ dst: '0.0.0.0/0', priority: 'high' }] }, {}, DecodeError, 'ipam.routes[0].priority', '"high"', /non-negative integer/],
  ['dataDir type', { ranges: [[{ subnet: '10.1.0.0/24' }]], dataDir: 5 }, {}, DecodeError, 'ipam.dataDir', '5', /must be a string/],
  ['resolvConf unreadable', { ranges: [[{ subnet: '10.1.0.0/24' }]], resolvConf: '/nonexistent/resolv.conf' }, {}, InvalidConfigError, 'ipam.resolvConf', '/nonexistent/resolv.conf', /cannot be read/],
  ['CNI_ARGS IP bad', { ranges: [[{ subnet: '10.1.0.0/24' }]] }, { cniArgs: new Map([['IP', '10.1.0.x']]) }, InvalidConfigError, 'CNI_ARGS IP', '10.1.0.x', /not an IP address/],
  ['args.cni.ips bad', { ranges: [[{ subnet: '10.1.0.0/24' }]] }, { args: { cni: { ips: ['10.1.0.5', 'nope'] } } }, InvalidConfigError, 'args.cni.ips[1]', 'nope', /not an IP address/],
  ['runtimeConfig.ips type', { ranges: [[{ subnet: '10.1.0.0/24' }]] }, { runtimeConfig: { ips: [5] } }, DecodeError, 'runtimeConfig.ips[0]', '5', /must be a string/],
];

for (const [title, ipam, rest, cls, field, value, message] of invalid) {
  test(`config: ${title} is refused, naming ${field}`, (t) => {
    const err = t.throws(() => parse(ipam, rest), { instanceOf: cls });
    t.is(err?.fields.field, field);
    t.is(err?.fields.value, value);
    t.regex(err?.message ?? '', message);
  });
}
