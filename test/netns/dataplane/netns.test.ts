import test from 'ava';
import { NetnsNotFoundError, NotFoundError } from '../../../core/errors.js';
import { inNetns, isOwnNetns, netnsExists, openNetlink, openNetnsFd, openSysctl, sysctl } from '../../../dataplane/linux/index.js';
import { indexOf, inNs, linkNames, namespaces } from './helpers/ip.js';

test('openNetlink(path) binds the handle to that namespace; objects land there, not here', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  const here = openNetlink();
  t.teardown(() => here.close());
  const before = here.listLinks().map((l) => l.name);
  ns.nl.addLink({ kind: 'bridge', name: 'br-bound' });
  t.true(linkNames(ns.name).includes('br-bound'));
  t.deepEqual(
    here.listLinks().map((l) => l.name),
    before,
  );
  t.is(here.getLink('br-bound'), undefined);
  t.true(isOwnNetns('/proc/self/ns/net'), 'the process is back in its own namespace');
});

test('inNetns() runs synchronous work inside the namespace and returns its result', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  const names = inNetns(ns.path, () => {
    // A handle opened while switched is bound to that namespace for good.
    const nl = openNetlink();
    nl.addLink({ kind: 'bridge', name: 'br-inside' });
    const list = nl.listLinks().map((l) => l.name);
    nl.close();
    return list;
  });
  t.deepEqual(names.sort(), ['br-inside', 'lo']);
  t.true(linkNames(ns.name).includes('br-inside'));
  t.true(isOwnNetns('/proc/self/ns/net'));
  const here = openNetlink();
  t.is(here.getLink('br-inside'), undefined);
  here.close();
});

test('inNetns() switches back after a throw, refuses async work, and nests', (t) => {
  const [a, b] = namespaces(t, 2);
  if (!a || !b) return t.fail();
  t.throws(
    () =>
      inNetns(a.path, () => {
        throw new RangeError('boom');
      }),
    { instanceOf: RangeError },
  );
  t.true(isOwnNetns('/proc/self/ns/net'));
  t.throws(() => inNetns(a.path, async () => 1), { instanceOf: TypeError });
  t.true(isOwnNetns('/proc/self/ns/net'));
  inNetns(a.path, () => {
    inNetns(b.path, () => sysctl.write('net.ipv4.ip_forward', '1'));
    // Back in a, not in the process's namespace.
    sysctl.write('net.ipv4.ip_default_ttl', '33');
  });
  t.is(inNs(b.name, 'cat', '/proc/sys/net/ipv4/ip_forward').trim(), '1');
  t.is(inNs(a.name, 'cat', '/proc/sys/net/ipv4/ip_forward').trim(), '0');
  t.is(inNs(a.name, 'cat', '/proc/sys/net/ipv4/ip_default_ttl').trim(), '33');
  t.not(sysctl.read('net.ipv4.ip_default_ttl'), '33');
  t.true(isOwnNetns('/proc/self/ns/net'));
});

test('openSysctl(path) reads and writes per-interface sysctls of a namespace', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'veth', name: 'eth0.5', peer: { name: 'x1' } });
  const s = openSysctl(ns.path);
  s.write('net.ipv4.conf.eth0/5.proxy_arp', '1');
  t.is(s.read('net/ipv4/conf/eth0.5/proxy_arp'), '1');
  t.is(inNs(ns.name, 'sysctl', '-n', 'net.ipv4.conf.eth0/5.proxy_arp').trim(), '1');
  t.throws(() => s.read('net.ipv4.conf.nope0.proxy_arp'), { instanceOf: NotFoundError });
  t.throws(() => s.write('net.ipv4.conf.nope0.proxy_arp', '1'), { instanceOf: NotFoundError });
});

test('a missing or non-netns path gives NetnsNotFoundError naming the path', (t) => {
  const missing = '/run/netns/berth-does-not-exist';
  for (const fn of [() => openNetlink(missing), () => inNetns(missing, () => 1), () => openNetnsFd(missing), () => isOwnNetns(missing)]) {
    const err = t.throws(fn, { instanceOf: NetnsNotFoundError });
    t.true(err?.message.includes(missing));
    t.is(err?.code, 'netns-not-found');
  }
  t.false(netnsExists(missing));
  t.throws(() => openNetlink('/etc/hostname'), { instanceOf: NetnsNotFoundError, message: /"\/etc\/hostname".*not a namespace file/ });
  // A namespace file of another kind passes the nsfs check and is refused by setns (EINVAL).
  t.throws(() => openNetlink('/proc/self/ns/uts'), { instanceOf: NetnsNotFoundError, message: /not a network namespace/ });
  t.true(isOwnNetns('/proc/self/ns/net'));
});

test('netnsExists() and isOwnNetns() tell namespaces apart', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  t.true(netnsExists(ns.path));
  t.true(netnsExists('/proc/self/ns/net'));
  t.false(isOwnNetns(ns.path));
  t.true(isOwnNetns(`/proc/${process.pid}/ns/net`));
  t.false(
    inNetns(ns.path, () => isOwnNetns(ns.path)),
    'own means the process namespace, even while switched',
  );
  t.is(indexOf(ns.nl, 'lo'), 1);
});
