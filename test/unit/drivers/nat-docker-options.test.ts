import test from 'ava';
import { natOptionsFromDocker } from '../../../drivers/nat/docker-options.js';
import { renderNat } from '../../../cli/commands/nat.js';

const ctx = { networkName: 'abcdefabcdef', internal: false, hasGateway: true, hasSubnet: true };

test('nat options from -o: the bridge under a NAT instance, loopback off by default', (t) => {
  const o = natOptionsFromDocker({}, ctx);
  t.false(o.loopback);
  t.like(o.bridge, { bridge: 'bn-abcdefabcdef', isGateway: true, isDefaultGateway: false, ipMasq: false, hairpinMode: false, portIsolation: false });
});

test('nat options from -o: loopback turns hairpin on; bridge keys as for berth-bridge', (t) => {
  const o = natOptionsFromDocker({ loopback: 'true', 'com.docker.network.bridge.name': 'nat0', mtu: '1400', 'com.docker.network.bridge.enable_icc': 'false' }, ctx);
  t.true(o.loopback);
  t.like(o.bridge, { bridge: 'nat0', mtu: 1400, hairpinMode: true, portIsolation: true });
  t.like(natOptionsFromDocker({ loopback: 'true', hairpinMode: 'false' }, ctx).bridge, { hairpinMode: false });
});

test('nat options from -o: masquerade keys, --internal, no gateway and bad values are refused by name', (t) => {
  t.throws(() => natOptionsFromDocker({ 'com.docker.network.bridge.enable_ip_masquerade': 'false' }, ctx), {
    message: /^Unknown option "com\.docker\.network\.bridge\.enable_ip_masquerade" for driver berth-nat; it accepts: .*loopback$/,
  });
  t.throws(() => natOptionsFromDocker({ loopback: 'sometimes' }, ctx), { message: 'Option loopback="sometimes" is not a boolean (use true or false)' });
  t.throws(() => natOptionsFromDocker({}, { ...ctx, internal: true }), { message: /cannot be --internal/ });
  t.throws(() => natOptionsFromDocker({}, { ...ctx, hasGateway: false }), { message: /needs a gateway/ });
});

test('berth nat ls table: instances, then mappings with ranges and ephemeral ports', (t) => {
  const text = renderNat({
    nats: [{ name: 'n1', internalIPInterfaceAddressPrefix: '10.1.0.0/24', internalInterface: 'bn-n1', loopback: false, staticMappings: 2 }],
    staticMappings: [
      {
        staticMappingId: 1,
        natName: 'n1',
        protocol: 'TCP',
        externalIPAddress: '0.0.0.0',
        externalPort: 8080,
        externalPortEnd: 8080,
        internalIPAddress: '10.1.0.2',
        internalPort: 80,
        containerId: 'a'.repeat(64),
        endpoint: 'eth',
        ephemeral: false,
      },
      {
        staticMappingId: 2,
        natName: 'n1',
        protocol: 'UDP',
        externalIPAddress: '10.9.0.1',
        externalPort: 9000,
        externalPortEnd: 9001,
        internalIPAddress: '10.1.0.3',
        internalPort: 53,
        containerId: 'b'.repeat(64),
        endpoint: 'eth0',
        ephemeral: false,
      },
    ],
  });
  const lines = text.split('\n');
  t.regex(lines[0] ?? '', /^NAME\s+INTERNAL PREFIX\s+INTERFACE\s+LOOPBACK\s+STATIC MAPPINGS$/);
  t.regex(lines[1] ?? '', /^n1\s+10\.1\.0\.0\/24\s+bn-n1\s+false\s+2$/);
  t.is(lines[2], '');
  t.regex(lines[4] ?? '', /^1\s+n1\s+TCP\s+0\.0\.0\.0\s+8080\s+10\.1\.0\.2\s+80\s+a{12}\/eth$/);
  t.regex(lines[5] ?? '', /^2\s+n1\s+UDP\s+10\.9\.0\.1\s+9000-9001\s+10\.1\.0\.3\s+53-54\s+b{12}\/eth0$/);
});
