import test from 'ava';
import { IpAddress } from '../../../../core/ip.js';
import { answers, discover, leaseOf, offerOf, release, requestExtend, requestOffer } from '../../../../daemon/dhcp/client-messages.js';
import { BROADCAST_FLAG, MessageType, decodeDhcpMessage } from '../../../../daemon/dhcp/dhcp-message.js';
import { classlessRoutes, clientIdOf, domainSearch, hostNameOf, maskLength } from '../../../../daemon/dhcp/dhcp-options.js';
import { ip, replyBytes, u32 } from './fake-dhcp.js';

const ID = { key: 'lan-0123456789abcdef', mac: '02:42:ac:11:00:02', hostname: 'web-1' };
const MAC = ID.mac;

test('DISCOVER: BOOTREQUEST, Ethernet, the broadcast flag, chaddr, magic cookie, options in order, end, at least 300 bytes', (t) => {
  const bytes = discover(ID, 0xdeadbeef, 3);
  t.true(bytes.length >= 300);
  t.deepEqual([...bytes.subarray(0, 4)], [1, 1, 6, 0]);
  const v = new DataView(bytes.buffer);
  t.is(v.getUint32(4), 0xdeadbeef);
  t.is(v.getUint16(8), 3);
  t.is(v.getUint16(10), 0x8000);
  t.deepEqual([...bytes.subarray(12, 28)], new Array(16).fill(0), 'ciaddr, yiaddr, siaddr, giaddr are zero');
  t.deepEqual([...bytes.subarray(28, 34)], [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
  t.is(v.getUint32(236), 0x63825363);
  // 53 first, then 61 (type 0 + key), 12, 55.
  const key = [...new TextEncoder().encode(ID.key)];
  t.deepEqual([...bytes.subarray(240, 243)], [53, 1, 1]);
  t.deepEqual([...bytes.subarray(243, 245 + 1 + key.length)], [61, 1 + key.length, 0, ...key]);
  const m = decodeDhcpMessage(bytes)!;
  t.is(m.type, MessageType.Discover);
  t.is(m.chaddr, MAC);
  t.is(m.flags, BROADCAST_FLAG);
  t.deepEqual([...m.options.keys()], [61, 12, 55]);
  t.is(new TextDecoder().decode(m.options.get(12)), 'web-1');
  t.deepEqual([...m.options.get(55)!], [1, 3, 6, 15, 51, 58, 59, 119, 121]);
});

test('REQUEST after an offer: requested address and server id, broadcast; renewal: ciaddr, no 50/54, no broadcast flag; RELEASE: ciaddr and server id', (t) => {
  const offer = { address: IpAddress.parse('192.0.2.10'), server: IpAddress.parse('192.0.2.1') };
  const sel = decodeDhcpMessage(requestOffer(ID, 7, 0, offer))!;
  t.is(sel.type, MessageType.Request);
  t.is(sel.flags, BROADCAST_FLAG);
  t.deepEqual([...sel.options.get(50)!], ip('192.0.2.10'));
  t.deepEqual([...sel.options.get(54)!], ip('192.0.2.1'));
  t.is(String(sel.ciaddr), '0.0.0.0');

  const ext = decodeDhcpMessage(requestExtend(ID, 8, 0, offer.address))!;
  t.is(ext.type, MessageType.Request);
  t.is(ext.flags, 0);
  t.is(String(ext.ciaddr), '192.0.2.10');
  t.false(ext.options.has(50));
  t.false(ext.options.has(54));

  const rel = decodeDhcpMessage(release(ID, 9, offer.address, offer.server))!;
  t.is(rel.type, MessageType.Release);
  t.is(String(rel.ciaddr), '192.0.2.10');
  t.deepEqual([...rel.options.get(54)!], ip('192.0.2.1'));
  t.deepEqual([...rel.options.get(61)!], [...clientIdOf(ID.key)]);
});

test('an ACK: address and mask, router, DNS, domain and search, times from T1/T2; the client takes it only for its xid and MAC', (t) => {
  const search = [7, ...new TextEncoder().encode('example'), 3, ...new TextEncoder().encode('com'), 0, 3, ...new TextEncoder().encode('lab'), 0xc0, 0x00];
  const bytes = replyBytes({
    type: 5,
    xid: 42,
    chaddr: MAC,
    yiaddr: '192.0.2.10',
    options: [
      [54, ip('192.0.2.1')],
      [51, u32(600)],
      [58, u32(100)],
      [59, u32(400)],
      [1, ip('255.255.254.0')],
      [3, [...ip('192.0.2.1'), ...ip('192.0.2.2')]],
      [6, [...ip('192.0.2.53'), ...ip('192.0.2.54')]],
      [15, [...new TextEncoder().encode('example.com'), 0]],
      [119, search],
    ],
  });
  const m = decodeDhcpMessage(bytes)!;
  t.true(answers(m, 42, ID));
  t.false(answers(m, 43, ID));
  t.false(answers(m, 42, { ...ID, mac: '02:42:ac:11:00:03' }));
  const lease = leaseOf(m, 1_000_000)!;
  t.is(String(lease.address.address), '192.0.2.10');
  t.is(lease.address.length, 23);
  t.is(String(lease.gateway), '192.0.2.1');
  t.deepEqual(lease.routes, []);
  t.is(String(lease.server), '192.0.2.1');
  t.deepEqual(lease.dns, { nameservers: ['192.0.2.53', '192.0.2.54'], domain: 'example.com', search: ['example.com', 'lab.example.com'] });
  t.deepEqual(lease.times, { obtainedAt: 1_000_000, renewAt: 1_100_000, rebindAt: 1_400_000, expiresAt: 1_600_000 });
});

test('option 121 overrides option 3 (RFC 3442): routes from it, the gateway is its default route router; on-link routes have link scope', (t) => {
  const m = decodeDhcpMessage(
    replyBytes({
      type: 5,
      xid: 1,
      chaddr: MAC,
      yiaddr: '192.0.2.10',
      options: [
        [54, ip('192.0.2.1')],
        [51, u32(600)],
        [1, ip('255.255.255.0')],
        [3, ip('192.0.2.99')],
        [121, [0, ...ip('192.0.2.254'), 8, 10, ...ip('192.0.2.253'), 24, 198, 51, 100, 0, 0, 0, 0]],
      ],
    }),
  )!;
  const lease = leaseOf(m, 0)!;
  t.is(String(lease.gateway), '192.0.2.254');
  t.deepEqual(
    lease.routes.map((r) => `${r.dst} ${r.gw ?? '-'} ${r.scope ?? '-'}`),
    ['0.0.0.0/0 192.0.2.254 -', '10.0.0.0/8 192.0.2.253 -', '198.51.100.0/24 - 253'],
  );
  // 121 without a default route: no gateway at all (option 3 is ignored).
  const noDefault = decodeDhcpMessage(
    replyBytes({
      type: 5,
      xid: 1,
      chaddr: MAC,
      yiaddr: '192.0.2.10',
      options: [
        [54, ip('192.0.2.1')],
        [51, u32(600)],
        [3, ip('192.0.2.99')],
        [121, [8, 10, ...ip('192.0.2.253')]],
      ],
    }),
  )!;
  t.is(leaseOf(noDefault, 0)!.gateway, undefined);
});

test('lease times: T1 and T2 default to 1/2 and 7/8; out-of-order values fall back; an infinite lease is never renewed', (t) => {
  const ack = (opts: (readonly [number, readonly number[]])[]) =>
    leaseOf(decodeDhcpMessage(replyBytes({ type: 5, xid: 1, chaddr: MAC, yiaddr: '192.0.2.10', options: [[54, ip('192.0.2.1')], ...opts] }))!, 0);
  t.deepEqual(ack([[51, u32(800)]])!.times, { obtainedAt: 0, renewAt: 400_000, rebindAt: 700_000, expiresAt: 800_000 });
  t.deepEqual(
    ack([
      [51, u32(800)],
      [58, u32(900)],
      [59, u32(900)],
    ])!.times,
    { obtainedAt: 0, renewAt: 400_000, rebindAt: 700_000, expiresAt: 800_000 },
  );
  const inf = ack([[51, u32(0xffffffff)]])!.times;
  t.is(inf.renewAt, inf.expiresAt);
  t.true(inf.expiresAt > Date.parse('2100-01-01'));
  t.is(ack([]), undefined, 'no lease time: not a lease');
  t.is(ack([[51, u32(0)]]), undefined);
});

test('an offer needs an address and a server id; a renewal ACK without a server id keeps the known server', (t) => {
  const offer = (yiaddr: string, opts: (readonly [number, readonly number[]])[]) => offerOf(decodeDhcpMessage(replyBytes({ type: 2, xid: 1, chaddr: MAC, yiaddr, options: opts }))!);
  t.deepEqual(offer('192.0.2.10', [[54, ip('192.0.2.1')]]), { address: IpAddress.parse('192.0.2.10'), server: IpAddress.parse('192.0.2.1') });
  t.is(offer('192.0.2.10', []), undefined);
  t.is(offer('0.0.0.0', [[54, ip('192.0.2.1')]]), undefined);
  t.is(offer('127.0.0.1', [[54, ip('192.0.2.1')]]), undefined);
  const ack = decodeDhcpMessage(replyBytes({ type: 5, xid: 1, chaddr: MAC, yiaddr: '192.0.2.10', options: [[51, u32(60)]] }))!;
  t.is(leaseOf(ack, 0), undefined);
  t.is(String(leaseOf(ack, 0, IpAddress.parse('192.0.2.7'))!.server), '192.0.2.7');
});

test('decoding: repeated options are concatenated (RFC 3396); option 52 reads options from file and sname', (t) => {
  const bytes = replyBytes({
    type: 5,
    xid: 1,
    chaddr: MAC,
    yiaddr: '192.0.2.10',
    options: [
      [6, ip('192.0.2.53')],
      [6, ip('192.0.2.54')],
      [52, [3]],
    ],
  });
  // file (108..235) then sname (44..107).
  bytes.set([51, 4, ...u32(60), 255], 108);
  bytes.set([54, 4, ...ip('192.0.2.1'), 255], 44);
  const m = decodeDhcpMessage(bytes)!;
  t.deepEqual([...m.options.get(6)!], [...ip('192.0.2.53'), ...ip('192.0.2.54')]);
  t.deepEqual([...m.options.get(51)!], u32(60));
  t.deepEqual([...m.options.get(54)!], ip('192.0.2.1'));
  t.false(m.options.has(52));
});

test('malformed datagrams are refused, never thrown on', (t) => {
  const good = replyBytes({ type: 2, xid: 1, chaddr: MAC, yiaddr: '192.0.2.10', options: [[54, ip('192.0.2.1')]] });
  t.truthy(decodeDhcpMessage(good));
  t.is(decodeDhcpMessage(new Uint8Array(0)), undefined);
  t.is(decodeDhcpMessage(good.subarray(0, 239)), undefined, 'shorter than header and cookie');
  const badCookie = good.slice();
  badCookie[236] = 0;
  t.is(decodeDhcpMessage(badCookie), undefined);
  const badOp = good.slice();
  badOp[0] = 9;
  t.is(decodeDhcpMessage(badOp), undefined);
  const overrun = good.slice(0, 246);
  overrun[243] = 54;
  overrun[244] = 200; // claims 200 bytes, 1 left
  t.is(decodeDhcpMessage(overrun), undefined);
  const hlen = good.slice();
  hlen[2] = 200;
  t.is(decodeDhcpMessage(hlen), undefined);
  const noType = decodeDhcpMessage(replyBytes({ type: 99, xid: 1, chaddr: MAC, options: [] }))!;
  t.is(noType.type, undefined);
  // Random bytes after a valid header: whatever they are, no exception.
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % 256);
  for (let i = 0; i < 2000; i++) {
    const b = good.slice(0, 240 + (i % 120));
    for (let j = 240; j < b.length; j++) b[j] = rnd();
    t.notThrows(() => {
      const m = decodeDhcpMessage(b);
      if (m) leaseOf({ ...m, type: MessageType.Ack }, 0);
    });
  }
});

test('options: masks, classless routes, search lists, client id, host name', (t) => {
  t.is(maskLength(Uint8Array.from(ip('255.255.255.0'))), 24);
  t.is(maskLength(Uint8Array.from(ip('255.255.255.255'))), 32);
  t.is(maskLength(Uint8Array.from(ip('0.0.0.0'))), 0);
  t.is(maskLength(Uint8Array.from(ip('255.0.255.0'))), undefined, 'not contiguous');
  t.is(maskLength(Uint8Array.of(255, 255)), undefined);

  t.is(classlessRoutes(Uint8Array.of(33, 0, 0, 0, 0, 0)), undefined, 'width over 32');
  t.is(classlessRoutes(Uint8Array.of(24, 10, 0)), undefined, 'truncated');
  t.is(classlessRoutes(Uint8Array.of()), undefined);
  t.is(String(classlessRoutes(Uint8Array.of(32, 10, 1, 2, 3, 192, 0, 2, 1))![0]!.dst), '10.1.2.3/32');

  t.deepEqual(domainSearch(Uint8Array.of(1, 0x61, 0xc0, 0x00)), undefined, 'a pointer to itself');
  t.deepEqual(domainSearch(Uint8Array.of(0xc0, 0x02, 1, 0x61, 0)), undefined, 'a forward pointer');
  t.deepEqual(domainSearch(Uint8Array.of(1, 0x61, 0, 1, 0x62, 0xc0, 0x00)), ['a', 'b.a']);

  t.deepEqual([...clientIdOf('k')], [0, 0x6b]);
  t.is(clientIdOf('x'.repeat(400)).length, 255);
  t.is(new TextDecoder().decode(hostNameOf('my_pod.default')), 'my-pod-default');
  t.is(hostNameOf('___'), undefined);
});
