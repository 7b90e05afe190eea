import test from 'ava';
import { IpPrefix } from '../../../../core/ip.js';
import { overlayOptionsFromConf } from '../../../../drivers/overlay/cni-config.js';
import { overlayOptionsFromDocker } from '../../../../drivers/overlay/docker-options.js';
import { overlayMtu, vtepLinkSpec, vtepMacFor, vtepMismatch } from '../../../../drivers/overlay/vtep.js';
import { IpAddress } from '../../../../core/ip.js';
import type { LinkInfo } from '../../../../dataplane/linux/ports.js';

const ctx = { networkName: 'n', internal: false, hasGateway: true, hasSubnet: true };

test('berth-overlay configuration: defaults (port 4789, vxlan mode, /24 blocks), device names from the VNI', (t) => {
  const o = overlayOptionsFromConf('pods', { subnet: '10.244.0.0/16', vni: 4242 });
  t.like(o, { subnetLen: 24, addressing: 'node-block', vni: 4242, port: 4789, ipMasq: false, mode: 'vxlan', bridge: 'bov-4242', device: 'bvx-4242' });
  t.is(o.subnet?.toString(), '10.244.0.0/16');
  t.like(overlayOptionsFromConf('pods', { subnet: '10.244.0.0/16', subnetLen: 26, vni: 16777215, port: 8472, mtu: 1400, ipMasq: true, mode: 'auto' }), {
    subnetLen: 26,
    port: 8472,
    mtu: 1400,
    ipMasq: true,
    mode: 'auto',
    device: 'bvx-16777215',
  });
});

test('berth-overlay configuration: bad input is refused, naming the key', (t) => {
  const bad = (conf: Record<string, unknown>, message: RegExp) => t.throws(() => overlayOptionsFromConf('pods', conf), { message });
  bad({ subnet: '10.244.0.0/16' }, /needs vni/);
  bad({ vni: 1 }, /needs subnet/);
  bad({ subnet: '10.244.0.1/16', vni: 1 }, /subnet "10\.244\.0\.1\/16" is not a CIDR/);
  bad({ subnet: 'fd00::/48', vni: 1 }, /is not IPv4/);
  bad({ subnet: '10.244.0.0/16', vni: 0 }, /vni 0 is out of range/);
  bad({ subnet: '10.244.0.0/16', vni: 1, subnetLen: 16 }, /subnetLen 16 must be longer than the subnet's \/16/);
  bad({ subnet: '10.244.0.0/16', vni: 1, subnetLen: 31 }, /subnetLen 31 must be longer .* at most 30/);
  bad({ subnet: '10.244.0.0/16', vni: 1, mode: 'host-gw' }, /mode "host-gw" is not one of vxlan, routed, auto/);
  bad({ subnet: '10.244.0.0/16', vni: 1, ipam: { type: 'host-local' } }, /remove the ipam section/);
  bad({ subnet: '10.244.0.0/16', vni: '7' }, /vni must be an integer/);
});

test('berth-overlay Docker options: vni required, one subnet across hosts, MTU by either key', (t) => {
  t.like(overlayOptionsFromDocker({ vni: '4300' }, ctx), { addressing: 'shared', vni: 4300, port: 4789, mode: 'vxlan', ipMasq: false });
  t.like(overlayOptionsFromDocker({ vni: '4300', 'com.docker.network.driver.mtu': '1400', mode: 'routed', ipmasq: 'true' }, ctx), { mtu: 1400, mode: 'routed', ipMasq: true });
  t.throws(() => overlayOptionsFromDocker({}, ctx), { message: /needs -o vni=N/ });
  t.throws(() => overlayOptionsFromDocker({ vni: '4300', vlan: '3' }, ctx), { message: /vlan/ });
  t.throws(() => overlayOptionsFromDocker({ vni: '4300', ipmasq: 'true' }, { ...ctx, internal: true }), { message: /--internal .* cannot masquerade/ });
});

test('VTEP: a stable, locally administered unicast MAC per node and VNI; MTU from the underlay; what makes a device unusable', (t) => {
  const mac = vtepMacFor('node-a', 4242);
  t.regex(mac, /^0e(:[0-9a-f]{2}){5}$/);
  t.is(vtepMacFor('node-a', 4242), mac, 'the same after a restart');
  t.not(vtepMacFor('node-b', 4242), mac);
  t.not(vtepMacFor('node-a', 4243), mac);
  const options = overlayOptionsFromConf('pods', { subnet: '10.244.0.0/16', vni: 4242 });
  t.is(overlayMtu(options, 1500), 1450);
  t.is(overlayMtu({ ...options, mtu: 1400 }, 9000), 1400);
  const parent: LinkInfo = { index: 2, name: 'eth0', kind: 'veth', mtu: 1500, up: true, operState: 'up', promisc: false };
  const device = { options, mac, local: IpAddress.parse('192.168.0.1'), parent, mtu: 1450 };
  t.like(vtepLinkSpec(device), { kind: 'vxlan', name: 'bvx-4242', vni: 4242, port: 4789, learning: false, parent: 2, mac, mtu: 1450 });
  const have = (vxlan: LinkInfo['vxlan'], kind = 'vxlan'): LinkInfo => ({ ...parent, index: 9, name: 'bvx-4242', kind, ...(vxlan ? { vxlan } : {}) });
  t.is(vtepMismatch(have({ vni: 4242, port: 4789, local: IpAddress.parse('192.168.0.1'), learning: false }), device), undefined);
  t.regex(vtepMismatch(have({ vni: 7, port: 4789, local: IpAddress.parse('192.168.0.1') }), device) ?? '', /VNI is 7/);
  t.regex(vtepMismatch(have({ vni: 4242, port: 8472, local: IpAddress.parse('192.168.0.1') }), device) ?? '', /port is 8472/);
  t.regex(vtepMismatch(have({ vni: 4242, port: 4789, local: IpAddress.parse('192.168.0.2') }), device) ?? '', /local address is 192\.168\.0\.2/);
  t.regex(vtepMismatch(have(undefined, 'bridge'), device) ?? '', /bridge link/);
  t.truthy(IpPrefix.parse('10.244.0.0/16'));
});
