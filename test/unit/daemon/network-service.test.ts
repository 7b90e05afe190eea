import test from 'ava';
import type { BerthError } from '../../../core/errors.js';
import { fakeService } from './support.js';

const NET = 'n'.repeat(12) + '0123456789';

test('createNetwork: records the network and creates its host objects; a Docker id is named by its first 12 characters', async (t) => {
  const { service, driver, store } = fakeService(t);
  const record = await service.createNetwork({ id: NET, driver: 'berth-bridge', origin: 'docker', subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }], options: {} });
  t.is(record.name, NET.slice(0, 12));
  t.true(record.complete);
  t.true(driver.networks.has(record.name));
  t.like((await store.get(`berthd/networks/${NET}`))?.value, { complete: true, plugin: 'berth-bridge' });
});

test('createNetwork: invalid input is refused before anything is written', async (t) => {
  const { service, driver, store } = fakeService(t);
  const cases: [object, RegExp][] = [
    [{ subnets: [{ subnet: '10.9.0.1/24' }] }, /is not a subnet in CIDR notation/],
    [{ subnets: [{ subnet: '10.9.0.0/31' }] }, /too small/],
    [{ subnets: [{ subnet: '10.9.0.0/24', gateway: '10.8.0.1' }] }, /Gateway 10\.8\.0\.1 is not a host address of subnet 10\.9\.0\.0\/24/],
    [{ subnets: [] }, /needs at least one subnet/],
    [{ options: { shade: 'x' } }, /Unknown option "shade" for driver berth-bridge; it accepts: color/],
    [{ driver: 'warp' }, /Unknown driver "warp"/],
    [{ id: 'a/b' }, /NetworkID "a\/b" is not a valid id/],
  ];
  for (const [override, message] of cases) {
    const err = await t.throwsAsync(service.createNetwork({ name: 'x', driver: 'bridge', origin: 'api', subnets: [{ subnet: '10.9.0.0/24' }], options: {}, ...override }));
    t.regex(err?.message ?? '', message);
    t.is((err as BerthError).code, 'invalid-config');
  }
  t.deepEqual(await store.list('berthd/'), []);
  t.is(driver.networks.size, 0);
});

test('createNetwork: API networks get the first host address as gateway; names are unique; subnets may not overlap', async (t) => {
  const { service } = fakeService(t);
  const a = await service.createNetwork({ name: 'a', driver: 'bridge', origin: 'api', subnets: [{ subnet: '10.9.0.0/24' }], options: {} });
  t.deepEqual(a.subnets, [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }]);
  const dup = await t.throwsAsync(service.createNetwork({ name: 'a', driver: 'bridge', origin: 'api', subnets: [{ subnet: '10.10.0.0/24' }], options: {} }));
  t.is((dup as BerthError).code, 'exists');
  const overlap = await t.throwsAsync(service.createNetwork({ name: 'b', driver: 'bridge', origin: 'api', subnets: [{ subnet: '10.9.0.128/25' }], options: {} }));
  t.is(overlap?.message, 'Subnet 10.9.0.128/25 overlaps subnet 10.9.0.0/24 of network a (' + a.id.slice(0, 12) + '), driver berth-bridge');
});

test('createNetwork: a driver failure leaves no record behind', async (t) => {
  const { service, driver, store } = fakeService(t);
  driver.failOn.add('createNetwork');
  await t.throwsAsync(service.createNetwork({ id: NET, driver: 'bridge', origin: 'docker', subnets: [{ subnet: '10.9.0.0/24' }], options: {} }), { message: /failed on purpose/ });
  t.deepEqual(await store.list('berthd/'), []);
});

test('createEndpoint, join, leave, deleteEndpoint: the Docker flow', async (t) => {
  const { service, driver, store } = fakeService(t);
  await service.createNetwork({ id: NET, driver: 'bridge', origin: 'docker', subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }], options: {} });
  const ep = await service.createEndpoint({ networkId: NET, endpointId: 'e1', addresses: ['10.9.0.5/24'] });
  t.is(ep.srcName, 'bp-e1');
  t.is(ep.mac, '02:42:0a:09:00:05', "the MAC Docker's bridge would give 10.9.0.5");
  t.deepEqual(ep.addresses, [{ address: '10.9.0.5/24', gateway: '10.9.0.1' }]);
  t.deepEqual(await service.createEndpoint({ networkId: NET, endpointId: 'e1', addresses: ['10.9.0.5/24'] }), ep, 'a repeated create returns the same endpoint');
  const join = await service.join(NET, 'e1', '/var/run/docker/netns/abc');
  t.deepEqual(join, { srcName: 'bp-e1', internal: false, gateway4: '10.9.0.1' });
  t.like((await store.get(`berthd/endpoints/${NET}/e1`))?.value, { sandbox: '/var/run/docker/netns/abc' });
  await service.leave(NET, 'e1');
  await service.deleteEndpoint(NET, 'e1');
  t.is(driver.endpoints.size, 0);
  t.is(await store.get(`berthd/endpoints/${NET}/e1`), undefined);
  await t.notThrowsAsync(service.deleteEndpoint(NET, 'e1'), 'deleting twice succeeds');
});

test('createEndpoint: an address outside the network, an unknown network, or a failing driver leave nothing', async (t) => {
  const { service, driver, store } = fakeService(t);
  await service.createNetwork({ id: NET, driver: 'bridge', origin: 'docker', subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }], options: {} });
  await t.throwsAsync(service.createEndpoint({ networkId: NET, endpointId: 'e1', addresses: ['10.8.0.5/24'] }), { message: /outside the subnets of network/ });
  await t.throwsAsync(service.createEndpoint({ networkId: 'nope', endpointId: 'e1', addresses: [] }), { message: /Network nope is not known to berthd/ });
  await t.throwsAsync(service.createEndpoint({ networkId: NET, endpointId: 'e1', addresses: ['10.9.0.5/24'], portMappings: [{ protocol: 'tcp', hostPort: 80, containerPort: 80 }] }), {
    message: /does not publish ports/,
  });
  driver.failOn.add('createEndpoint');
  await t.throwsAsync(service.createEndpoint({ networkId: NET, endpointId: 'e1', addresses: ['10.9.0.5/24'] }));
  t.deepEqual((await store.list('berthd/endpoints/')).length, 0);
});

test('deleteNetwork: refused while endpoints exist; unknown networks are fine for Docker and not found for the API', async (t) => {
  const { service, driver } = fakeService(t);
  await service.createNetwork({ id: NET, driver: 'bridge', origin: 'docker', subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }], options: {} });
  await service.createEndpoint({ networkId: NET, endpointId: 'e1', addresses: ['10.9.0.5/24'] });
  await t.throwsAsync(service.deleteNetwork(NET, { mustExist: false }), { message: /has 1 active endpoint\(s\)/ });
  await service.deleteEndpoint(NET, 'e1');
  await service.deleteNetwork(NET, { mustExist: false });
  t.is(driver.networks.size, 0);
  await t.notThrowsAsync(service.deleteNetwork(NET, { mustExist: false }));
  const err = await t.throwsAsync(service.deleteNetwork('ghost', { mustExist: true }));
  t.is((err as BerthError).code, 'not-found');
});

test('reconcile: re-creates networks, keeps live endpoints, removes gone and half-created ones, reports lost interfaces', async (t) => {
  const sandboxes = new Set(['/ns/live', '/ns/lost']);
  const { service, driver, store } = fakeService(t, { sandboxes });
  await service.createNetwork({ id: NET, driver: 'bridge', origin: 'docker', subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }], options: {} });
  for (const [id, sandbox] of [
    ['live', '/ns/live'],
    ['gone', '/ns/gone'],
    ['lost', '/ns/lost'],
    ['unjoined', ''],
  ] as const) {
    await service.createEndpoint({ networkId: NET, endpointId: id, addresses: [] });
    if (sandbox) await service.join(NET, id, sandbox);
  }
  // A network whose create never finished, and a host that lost everything (reboot).
  await store.put('berthd/networks/half', {
    id: 'half',
    name: 'half',
    driver: 'bridge',
    plugin: 'berth-bridge',
    origin: 'docker',
    subnets: [{ subnet: '10.7.0.0/24' }],
    options: {},
    internal: false,
    created: '2026-01-01T00:00:00Z',
    complete: false,
  });
  driver.networks.clear();
  driver.lost.add('lost');
  const report = await service.reconcile();
  t.like(report, { networks: 1, removed: 1, endpoints: 3, removedNetworks: 1, lost: ['lost'], failedNetworks: [] });
  t.true(driver.networks.has(NET.slice(0, 12)));
  t.deepEqual((await store.list(`berthd/endpoints/${NET}/`)).map((e) => e.key.split('/').pop()).sort(), ['live', 'lost', 'unjoined']);
  t.is(await store.get('berthd/networks/half'), undefined);
});

test('list and inspect: by name, id or unique prefix', async (t) => {
  const { service } = fakeService(t);
  const a = await service.createNetwork({ name: 'alpha', driver: 'bridge', origin: 'api', subnets: [{ subnet: '10.9.0.0/24' }], options: { color: 'red' } });
  t.is((await service.inspect('alpha')).network.id, a.id);
  t.is((await service.inspect(a.id.slice(0, 6))).network.name, 'alpha');
  t.deepEqual(
    (await service.list()).map((v) => v.network.name),
    ['alpha'],
  );
  await t.throwsAsync(service.inspect('beta'), { message: 'No such network: beta' });
});
