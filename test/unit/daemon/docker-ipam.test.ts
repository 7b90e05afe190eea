import test, { type ExecutionContext } from 'ava';
import type { BerthError } from '../../../core/errors.js';
import { IpPrefix } from '../../../core/ip.js';
import { DockerIpam } from '../../../daemon/docker-ipam.js';
import { SILENT_LOG } from '../../../daemon/log.js';
import { SerialQueue } from '../../../daemon/serial-queue.js';
import { tempStore } from './support.js';

function setup(t: ExecutionContext) {
  const store = tempStore(t);
  const ipam = new DockerIpam({ store, queue: new SerialQueue(), log: SILENT_LOG }, { defaultRange: IpPrefix.parse('10.50.0.0/22'), defaultPoolLength: 24 });
  return { ipam, store };
}

const pool = (p: string, extra: object = {}) => ({ addressSpace: 'berth-local', pool: p, subPool: '', v6: false, ...extra });

test('requestPool: an explicit subnet; the gateway request takes the first host address, others the next free ones', async (t) => {
  const { ipam } = setup(t);
  const { poolId, pool: cidr } = await ipam.requestPool(pool('10.40.1.0/24'));
  t.is(poolId, 'berth-local/10.40.1.0/24');
  t.is(cidr, '10.40.1.0/24');
  t.is(await ipam.requestAddress({ poolId, address: '', options: { RequestAddressType: 'com.docker.network.gateway' } }), '10.40.1.1/24');
  t.is(await ipam.requestAddress({ poolId, address: '', options: {} }), '10.40.1.2/24');
  t.is(await ipam.requestAddress({ poolId, address: '10.40.1.77', options: {} }), '10.40.1.77/24');
  const taken = await t.throwsAsync(ipam.requestAddress({ poolId, address: '10.40.1.77', options: {} }));
  t.is((taken as BerthError).code, 'address-taken');
  await t.throwsAsync(ipam.requestAddress({ poolId, address: '10.41.0.1', options: {} }), { message: 'Address 10.41.0.1 is outside subnet 10.40.1.0/24' });
});

test('requestPool: overlapping pools are refused, the same subnet twice included; other address spaces are separate', async (t) => {
  const { ipam } = setup(t);
  await ipam.requestPool(pool('10.40.0.0/16'));
  await t.throwsAsync(ipam.requestPool(pool('10.40.3.0/24')), { message: 'Subnet 10.40.3.0/24 overlaps berth IPAM pool berth-local/10.40.0.0/16 (10.40.0.0/16)' });
  await t.throwsAsync(ipam.requestPool(pool('10.40.0.0/16')), { message: /overlaps berth IPAM pool/ });
  await t.notThrowsAsync(ipam.requestPool(pool('10.40.0.0/16', { addressSpace: 'berth-global' })));
  await t.throwsAsync(ipam.requestPool(pool('10.40.0.0/16', { addressSpace: 'other' })), { message: /Unknown address space "other"/ });
});

test('requestPool: without a subnet, the first free pool of the default range; none left is a clear error', async (t) => {
  const { ipam } = setup(t);
  await ipam.requestPool(pool('10.50.1.0/24'));
  const picked = [];
  for (let i = 0; i < 3; i++) picked.push((await ipam.requestPool(pool(''))).pool);
  t.deepEqual(picked, ['10.50.0.0/24', '10.50.2.0/24', '10.50.3.0/24']);
  const err = await t.throwsAsync(ipam.requestPool(pool('')));
  t.is((err as BerthError).code, 'pool-exhausted');
  await t.throwsAsync(ipam.requestPool(pool('', { v6: true })), { message: /picks IPv4 pools only/ });
});

test('requestPool: an ip-range (SubPool) hands out addresses from itself, specific ones from the whole subnet', async (t) => {
  const { ipam } = setup(t);
  const { poolId } = await ipam.requestPool(pool('10.40.2.0/24', { subPool: '10.40.2.128/25' }));
  t.is(await ipam.requestAddress({ poolId, address: '', options: { RequestAddressType: 'com.docker.network.gateway' } }), '10.40.2.1/24');
  t.is(await ipam.requestAddress({ poolId, address: '', options: {} }), '10.40.2.128/24');
  t.is(await ipam.requestAddress({ poolId, address: '10.40.2.9', options: {} }), '10.40.2.9/24');
  await t.throwsAsync(ipam.requestPool(pool('10.40.3.0/24', { subPool: '10.40.4.0/25' })), { message: 'The ip-range 10.40.4.0/25 is not inside subnet 10.40.3.0/24' });
});

test('releaseAddress and releasePool: everything goes, and releasing twice is fine', async (t) => {
  const { ipam, store } = setup(t);
  const { poolId } = await ipam.requestPool(pool('10.40.1.0/24'));
  await ipam.requestAddress({ poolId, address: '', options: {} });
  await ipam.requestAddress({ poolId, address: '', options: {} });
  await ipam.releaseAddress({ poolId, address: '10.40.1.2' });
  await ipam.releaseAddress({ poolId, address: '10.40.1.2' });
  t.deepEqual((await ipam.pools())[0]?.addresses, ['10.40.1.1']);
  t.is(await ipam.requestAddress({ poolId, address: '10.40.1.2', options: {} }), '10.40.1.2/24', 'a released address can be taken again');
  await ipam.releasePool(poolId);
  await ipam.releasePool(poolId);
  t.deepEqual(await store.list(''), [], 'no pool record and no IPAM document remain');
  await t.throwsAsync(ipam.requestAddress({ poolId, address: '', options: {} }), { message: /is not known to berth IPAM/ });
});
