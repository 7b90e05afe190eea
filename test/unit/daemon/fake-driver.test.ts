/**
 * The daemon tests' fake driver is held to the same driver contract as the real ones
 * (test/support/driver-contract.ts): what the service tests learn from it holds for them.
 */
import test from 'ava';
import { IpAddress, IpPrefix } from '../../../core/ip.js';
import type { Driver, EndpointRef, NetworkSpec } from '../../../drivers/driver.js';
import { driverContract, type ContractTarget } from '../../support/driver-contract.js';
import { FakeDriver, FakeHost } from './support.js';

const target: ContractTarget = {
  async world(_t, opts) {
    const host = new FakeHost();
    const subnet = IpPrefix.parse('10.50.0.0/24');
    const net: NetworkSpec<unknown> = {
      id: 'fake',
      name: 'fake',
      subnets: [{ subnet, rangeStart: subnet.first, rangeEnd: subnet.last }],
      options: { color: 'blue' },
      followsEndpoints: opts.followsEndpoints,
    };
    const ref = (i: number): EndpointRef => ({ containerId: `c${i}`, ifname: 'eth0', placement: { kind: 'netns', path: `/run/netns/fake-${i}` } });
    const key = (i: number) => `fake/c${i}/eth0`;
    return {
      net,
      // The contract handles options as unknown; the fake's are its own.
      driver: (plan) => new FakeDriver(host, plan?.intercept) as unknown as Driver<unknown>,
      ref,
      endpoint: (i) => ({ ...ref(i), addresses: [{ address: { address: IpAddress.parse(`10.50.0.${10 + i}`), length: 24 } }], routes: [] }),
      snapshot: () => ({ networks: [...host.networks].sort(), endpoints: [...host.endpoints].sort(), ports: [...host.ports].sort(), addresses: [...host.addresses].sort() }),
      dropSandboxAddress: (i) => void host.addresses.delete(key(i)),
      dropNetworkObjects: () => host.deleteNetwork('fake'),
      dropEndpoint: (i) => host.deleteEndpoint(key(i)),
    };
  },
};

driverContract(test, 'fake', async () => target);
