/**
 * Docker's IpamDriver API (`--ipam-driver berth`) on DockerIpam (docker-remote-and-hns.md
 * §1.4). Success replies leave out the `Error` key; failures go through the plugin server as
 * HTTP errors with `{"Err"}`, which Docker reads for both APIs.
 */
import { GLOBAL_ADDRESS_SPACE, LOCAL_ADDRESS_SPACE, type DockerIpam } from '../docker-ipam.js';
import type { Handler } from './plugin-server.js';
import { Fields } from './wire.js';

export function ipamDriverHandlers(ipam: DockerIpam): Record<string, Handler> {
  return {
    'IpamDriver.GetCapabilities': async () => ({ RequiresMACAddress: false, RequiresRequestReplay: false }),

    'IpamDriver.GetDefaultAddressSpaces': async () => ({
      LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE,
      GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE,
    }),

    'IpamDriver.RequestPool': async (body) => {
      const f = new Fields('RequestPool', body);
      const reply = await ipam.requestPool({ addressSpace: f.optional('AddressSpace'), pool: f.optional('Pool'), subPool: f.optional('SubPool'), v6: f.bool('V6') });
      return { PoolID: reply.poolId, Pool: reply.pool, Data: {} };
    },

    'IpamDriver.ReleasePool': async (body) => {
      await ipam.releasePool(new Fields('ReleasePool', body).required('PoolID'));
      return {};
    },

    'IpamDriver.RequestAddress': async (body) => {
      const f = new Fields('RequestAddress', body);
      const address = await ipam.requestAddress({ poolId: f.required('PoolID'), address: f.optional('Address'), options: f.stringMap('Options') });
      return { Address: address, Data: {} };
    },

    'IpamDriver.ReleaseAddress': async (body) => {
      const f = new Fields('ReleaseAddress', body);
      await ipam.releaseAddress({ poolId: f.required('PoolID'), address: f.required('Address') });
      return {};
    },
  };
}
