import test from 'ava';
import { InvalidConfigError } from '../../../core/errors.js';
import { sysctlPath } from '../../../dataplane/linux/sysctl.js';

test('sysctlPath() accepts dotted and slash keys like sysctl(8)', (t) => {
  t.is(sysctlPath('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  t.is(sysctlPath('net/ipv4/ip_forward'), '/proc/sys/net/ipv4/ip_forward');
  // An interface name with a dot: '/' inside a dotted key, or the plain slash form.
  t.is(sysctlPath('net.ipv4.conf.eth0/100.forwarding'), '/proc/sys/net/ipv4/conf/eth0.100/forwarding');
  t.is(sysctlPath('net/ipv4/conf/eth0.100/forwarding'), '/proc/sys/net/ipv4/conf/eth0.100/forwarding');
  t.is(sysctlPath('net.ipv6.conf.all.disable_ipv6'), '/proc/sys/net/ipv6/conf/all/disable_ipv6');
});

test('sysctlPath() refuses keys that leave /proc/sys or are empty', (t) => {
  for (const bad of ['', 'net..ipv4', '/net/ipv4', 'net/../../etc/passwd', 'net.ipv4.', 'net.ip v4']) {
    t.throws(() => sysctlPath(bad), { instanceOf: InvalidConfigError }, bad);
  }
});
