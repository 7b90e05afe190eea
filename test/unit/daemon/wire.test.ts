import test from 'ava';
import type { BerthError } from '../../../core/errors.js';
import { Fields, parsePortMap } from '../../../daemon/docker/wire.js';

test('Fields: required, optional and typed fields name the call and the field', (t) => {
  const f = new Fields('CreateEndpoint', { NetworkID: 'n', EndpointID: 7, Options: [], Flag: 'yes' });
  t.is(f.required('NetworkID'), 'n');
  t.is(f.optional('Missing'), '');
  t.throws(() => f.required('Missing'), { message: 'CreateEndpoint: the request has no Missing' });
  t.throws(() => f.required('EndpointID'), { message: 'CreateEndpoint: EndpointID must be a string, not number 7' });
  t.throws(() => f.object('Options'), { message: 'CreateEndpoint: Options must be an object, not a list' });
  t.throws(() => f.bool('Flag'), { message: /Flag must be true or false/ });
  const err = t.throws(() => f.required('Missing'));
  t.is((err as BerthError).code, 'decode');
});

test("parsePortMap: Docker's portmap with protocol numbers, ranges and host addresses", (t) => {
  const f = new Fields('Join', {});
  const mappings = parsePortMap(
    f,
    [
      { Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 0 },
      { Proto: 17, Port: 53, HostIP: '10.0.0.1', HostPort: 5300, HostPortEnd: 5301 },
      { Proto: 6, Port: 443 },
    ],
    'Options.com.docker.network.portmap',
  );
  t.deepEqual(
    mappings.map((m) => ({ ...m, hostIp: m.hostIp?.toString() })),
    [
      { protocol: 'tcp', containerPort: 80, hostPort: 8080, hostIp: undefined },
      { protocol: 'udp', containerPort: 53, hostPort: 5300, hostIp: '10.0.0.1', hostPortEnd: 5301 },
      { protocol: 'tcp', containerPort: 443, hostPort: 0, hostIp: undefined },
    ],
  );
  t.deepEqual(parsePortMap(f, null, 'x'), []);
  t.throws(() => parsePortMap(f, [{ Proto: 1, Port: 1 }], 'x'), { message: /protocol 1 cannot be published/ });
  t.throws(() => parsePortMap(f, [{ Proto: 6, Port: 70000 }], 'x'), { message: 'Join: x[0].Port must be a port number from 1 to 65535' });
  t.throws(() => parsePortMap(f, { Proto: 6 }, 'x'), { message: 'Join: x must be a list' });
});
