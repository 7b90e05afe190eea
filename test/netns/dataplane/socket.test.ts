import test from 'ava';
import { IpAddress, IpPrefix, parseIpWithPrefix } from '../../../core/ip.js';
import { inNetns } from '../../../dataplane/linux/index.js';
import { NetlinkSocket } from '../../../dataplane/linux/netlink/socket.js';
import { decodeRoute, listRoutesRequest } from '../../../dataplane/linux/netlink/routes.js';
import { indexOf, namespaces } from './helpers/ip.js';

test('a dump abandoned half-way is drained, so the next dump on the socket works', (t) => {
  const [ns] = namespaces(t);
  if (!ns) return t.fail();
  ns.nl.addLink({ kind: 'veth', name: 'e0', up: true, peer: { name: 'e1' } });
  const e0 = indexOf(ns.nl, 'e0');
  ns.nl.addAddress(e0, parseIpWithPrefix('10.69.0.1/24'));
  const gw = IpAddress.parse('10.69.0.2');
  for (let i = 0; i < 2000; i++) ns.nl.addRoute({ dst: IpPrefix.of(IpAddress.parse('10.200.0.0').plus(BigInt(i) * 256n), 24), gw, table: 100 });
  const sock = inNetns(ns.path, () => NetlinkSocket.open());
  t.teardown(() => sock.close());
  const req = listRoutesRequest({ table: 100, family: 4 });
  const describe = () => ({ action: 'list routes', command: 'ip route show table 100' });
  let seen = 0;
  t.throws(
    () =>
      sock.dump(req, describe, (m) => {
        if (++seen === 10) throw new RangeError('decoder failed');
        return decodeRoute(m);
      }),
    { instanceOf: RangeError },
  );
  t.is(sock.dump(req, describe, decodeRoute).length, 2000, 'no EBUSY from a dump left running');
});
