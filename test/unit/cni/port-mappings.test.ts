import test from 'ava';
import { parsePortMappings } from '../../../cni/port-mappings.js';
import { natOptionsFromConf } from '../../../drivers/nat/cni-config.js';

const opts = { protocols: ['tcp', 'udp'], families: [4] } as const;

test(`parsePortMappings: the capability's entries become port mappings; hostPort 0, absent, "" and 0.0.0.0 mean "pick" and "every address"`, (t) => {
  t.deepEqual(parsePortMappings({}, opts), []);
  const m = parsePortMappings(
    {
      portMappings: [
        { hostPort: 8080, containerPort: 80, protocol: 'TCP', hostIP: '10.0.0.1' },
        { containerPort: 53, protocol: 'udp', hostIP: '0.0.0.0' },
        { hostPort: 0, containerPort: 81, hostIP: '' },
      ],
    },
    opts,
  );
  t.deepEqual(
    m.map((x) => [x.protocol, x.hostIp?.toString(), x.hostPort, x.containerPort]),
    [
      ['tcp', '10.0.0.1', 8080, 80],
      ['udp', undefined, 0, 53],
      ['tcp', undefined, 0, 81],
    ],
  );
});

const bad: [string, unknown, string, RegExp][] = [
  ['not a list', { hostPort: 1 }, 'decode', /portMappings must be an array/],
  ['an entry that is no object', [7], 'decode', /portMappings\[0\] must be an object/],
  ['no containerPort', [{ hostPort: 80 }], 'invalid-config', /containerPort is required/],
  ['hostPort -1', [{ hostPort: -1, containerPort: 80 }], 'invalid-config', /hostPort -1 is out of range/],
  ['a fractional port', [{ hostPort: 80.5, containerPort: 80 }], 'decode', /hostPort must be an integer/],
  ['protocol sctp', [{ containerPort: 80, protocol: 'sctp' }], 'invalid-config', /"sctp" is not supported/],
  ['an IPv6 hostIP', [{ containerPort: 80, hostIP: '::' }], 'invalid-config', /IPv4 addresses only/],
  ['a hostIP with a prefix', [{ containerPort: 80, hostIP: '10.0.0.1/24' }], 'invalid-config', /is not an IP address/],
];
for (const [name, value, code, message] of bad) {
  test(`parsePortMappings: refuses ${name}`, (t) => {
    t.throws(() => parsePortMappings({ portMappings: value }, opts), { code, message } as never);
  });
}

test('natOptionsFromConf: gateway on the bridge, no bridge masquerade, default route, loopback off; loopback turns hairpin on', (t) => {
  const o = natOptionsFromConf('n1', { type: 'berth-nat' });
  t.is(o.bridge.bridge, 'bn-n1');
  t.true(o.bridge.isGateway);
  t.true(o.bridge.isDefaultGateway);
  t.false(o.bridge.ipMasq);
  t.false(o.loopback);
  t.false(o.bridge.hairpinMode);
  const l = natOptionsFromConf('n1', { type: 'berth-nat', loopback: true, isDefaultGateway: false });
  t.true(l.loopback);
  t.true(l.bridge.hairpinMode);
  t.false(l.bridge.isDefaultGateway);
  t.false(natOptionsFromConf('n1', { loopback: true, hairpinMode: false }).bridge.hairpinMode, 'an explicit hairpinMode wins');
  t.throws(() => natOptionsFromConf('n1', { isGateway: false }), { message: /isGateway cannot be false/ });
  t.throws(() => natOptionsFromConf('n1', { ipMasq: false }), { message: /ipMasq cannot be false/ });
  t.throws(() => natOptionsFromConf('n1', { loopback: 'yes' }), { message: /loopback must be true or false/ });
});
