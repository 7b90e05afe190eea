import test from 'ava';
import { bridgeOptionsFromDocker } from '../../../drivers/bridge/docker-options.js';

const ctx = { networkName: 'abcdefabcdef', internal: false, hasGateway: true, hasSubnet: true };

test('bridge options from -o: Docker bridge defaults (gateway, masquerade, isolation, containers reach each other)', (t) => {
  t.like(bridgeOptionsFromDocker({}, ctx), { bridge: 'bn-abcdefabcdef', isGateway: true, isDefaultGateway: false, ipMasq: true, isolateFromOtherNetworks: true, portIsolation: false });
  t.like(bridgeOptionsFromDocker({}, { ...ctx, internal: true }), { ipMasq: false });
  t.like(bridgeOptionsFromDocker({}, { ...ctx, hasGateway: false }), { isGateway: false, ipMasq: false });
});

test("bridge options from -o: Docker's keys and berth's keys", (t) => {
  t.like(
    bridgeOptionsFromDocker(
      {
        'com.docker.network.bridge.name': 'br-x',
        'com.docker.network.driver.mtu': '1400',
        'com.docker.network.bridge.enable_icc': 'false',
        'com.docker.network.bridge.enable_ip_masquerade': 'false',
        macspoofchk: 'true',
      },
      ctx,
    ),
    { bridge: 'br-x', mtu: 1400, portIsolation: true, ipMasq: false, macSpoofCheck: true },
  );
  t.like(bridgeOptionsFromDocker({ bridge: 'br-y', hairpinMode: 'on', isolateNetworks: 'no' }, ctx), { bridge: 'br-y', hairpinMode: true, isolateFromOtherNetworks: false });
});

test('bridge options from -o: unknown keys and bad values are named', (t) => {
  t.throws(() => bridgeOptionsFromDocker({ bogus: '1' }, ctx), { message: /^Unknown option "bogus" for driver berth-bridge; it accepts: com\.docker\.network\.bridge\.name, bridge, / });
  t.throws(() => bridgeOptionsFromDocker({ mtu: 'big' }, ctx), { message: 'Option mtu="big" is not an integer from 68 to 65535' });
  t.throws(() => bridgeOptionsFromDocker({ ipMasq: 'maybe' }, ctx), { message: 'Option ipMasq="maybe" is not a boolean (use true or false)' });
  t.throws(() => bridgeOptionsFromDocker({ 'com.docker.network.bridge.name': 'a/b' }, ctx), { message: /com\.docker\.network\.bridge\.name "a\/b" is not a valid interface name/ });
  t.throws(() => bridgeOptionsFromDocker({ ipMasq: 'true' }, { ...ctx, internal: true }), { message: /contradicts --internal/ });
});
