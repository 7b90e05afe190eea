import test from 'ava';
import { IpAddress } from '../../../core/ip.js';
import { gratuitousArp, unsolicitedAdvertisement } from '../../../dataplane/linux/announce.js';

test('gratuitousArp(): an ARP request for the address from the address, at the MAC, target MAC zero', (t) => {
  const b = Buffer.from(gratuitousArp('02:aa:bb:cc:dd:ee', IpAddress.parse('10.79.0.100')));
  t.is(b.length, 28);
  t.is(b.toString('hex'), ['0001', '0800', '06', '04', '0001', '02aabbccddee', '0a4f0064', '000000000000', '0a4f0064'].join(''));
  t.throws(() => gratuitousArp('02:aa:bb:cc:dd:ee', IpAddress.parse('fd79::100')), { message: /IPv4/ });
  t.throws(() => gratuitousArp('02:aa:bb', IpAddress.parse('10.79.0.100')), { message: /not a MAC address/ });
});

test('unsolicitedAdvertisement(): ICMPv6 136, override only, the target and its link-layer address option', (t) => {
  const b = Buffer.from(unsolicitedAdvertisement('02:aa:bb:cc:dd:ee', IpAddress.parse('fd79::100')));
  t.is(b.length, 32);
  t.is(b[0], 136);
  t.is(b.readUInt16BE(2), 0, 'the kernel fills the checksum');
  t.is(b.readUInt32BE(4), 0x20000000, 'override; neither router nor solicited');
  t.is(IpAddress.fromBytes(b.subarray(8, 24)).toString(), 'fd79::100');
  t.is(b.subarray(24).toString('hex'), '020102aabbccddee');
  t.throws(() => unsolicitedAdvertisement('02:aa:bb:cc:dd:ee', IpAddress.parse('10.79.0.100')), { message: /IPv6/ });
});
