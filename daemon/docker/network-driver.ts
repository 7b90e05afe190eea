/**
 * Docker's NetworkDriver API for one berth driver, translated into NetworkService calls
 * (docker-remote-and-hns.md §1.2). Each handler reads its fields, makes one service call and
 * renders Docker's reply; the service decides and persists.
 */
import type { ServedDriver } from '../drivers/binding.js';
import type { NetworkService } from '../network-service.js';
import type { Handler } from './plugin-server.js';
import { Fields, parsePortMap, type Body } from './wire.js';

const GENERIC = 'com.docker.network.generic';
const INTERNAL = 'com.docker.network.internal';
const ENABLE_IPV6 = 'com.docker.network.enable_ipv6';
const PORTMAP = 'com.docker.network.portmap';
/** The pools Docker's null IPAM driver reports. */
const NULL_POOLS = ['0.0.0.0/0', '::/0'];
/** Prefix of the interface name Docker gives the moved interface in the sandbox (`eth0`). */
const DST_PREFIX = 'eth';

/** The NetworkDriver handlers of the plugin serving `binding`. */
export function networkDriverHandlers(binding: ServedDriver, service: NetworkService): Record<string, Handler> {
  // Cluster drivers (berth-overlay) connect across hosts, but their data is local-scope to Docker:
  // Docker keeps global-scope networks only in swarm (or the cluster store 20.10 deprecated), and
  // refuses to create them otherwise ("This node is not a swarm manager"). Each engine creates
  // the network; berthd's cluster joins them by VNI, and berth IPAM puts their pools in the cluster.
  const connectivity = binding.impl.capabilities.needsClusterStore ? 'global' : 'local';
  return {
    'NetworkDriver.GetCapabilities': async () => ({ Scope: 'local', ConnectivityScope: connectivity }),

    'NetworkDriver.CreateNetwork': async (body) => {
      const f = new Fields('CreateNetwork', body);
      const id = f.required('NetworkID');
      const options = f.object('Options');
      const generic = f.stringMap(GENERIC, options, `Options.${GENERIC}`);
      const internal = options[INTERNAL] === true || options[INTERNAL] === 'true';
      // `--ipam-driver null` hands out the whole address space and no addresses: no subnet at all.
      const subnets = [...ipamData(f, 'IPv4Data'), ...(options[ENABLE_IPV6] === false ? [] : ipamData(f, 'IPv6Data'))].filter((s) => !NULL_POOLS.includes(s.subnet));
      await service.createNetwork({ id, driver: binding.driver, origin: 'docker', subnets, options: generic, internal });
      return {};
    },

    'NetworkDriver.DeleteNetwork': async (body) => {
      await service.deleteNetwork(new Fields('DeleteNetwork', body).required('NetworkID'), { mustExist: false });
      return {};
    },

    // Swarm managers only, for global-scope drivers: nothing to allocate centrally yet.
    'NetworkDriver.AllocateNetwork': async (body) => {
      new Fields('AllocateNetwork', body).required('NetworkID');
      return { Options: {} };
    },
    'NetworkDriver.FreeNetwork': async (body) => {
      new Fields('FreeNetwork', body).required('NetworkID');
      return {};
    },

    'NetworkDriver.CreateEndpoint': async (body) => {
      const f = new Fields('CreateEndpoint', body);
      const networkId = f.required('NetworkID');
      const endpointId = f.required('EndpointID');
      const iface = f.object('Interface');
      const ifaceFields = new Fields('CreateEndpoint Interface', iface);
      const address = ifaceFields.optional('Address');
      const address6 = ifaceFields.optional('AddressIPv6');
      const requestedMac = ifaceFields.optional('MacAddress');
      const options = f.object('Options');
      const portMappings = parsePortMap(f, options[PORTMAP], `Options.${PORTMAP}`);
      const record = await service.createEndpoint({
        networkId,
        endpointId,
        addresses: [address, address6].filter((a) => a !== ''),
        ...(requestedMac ? { mac: requestedMac } : {}),
        portMappings,
      });
      // Docker refuses changes to fields it filled in (gotcha 5): only empty ones are ours to set,
      // the MAC and, from a DHCP lease, the addresses.
      const reply: Record<string, string> = {};
      if (requestedMac === '' && record.mac) reply.MacAddress = record.mac;
      const leased4 = record.addresses.find((a) => !a.address.includes(':'))?.address;
      if (address === '' && leased4) reply.Address = leased4;
      return Object.keys(reply).length ? { Interface: reply } : {};
    },

    'NetworkDriver.EndpointOperInfo': async (body) => {
      const f = new Fields('EndpointOperInfo', body);
      const ep = await service.endpoint(f.required('NetworkID'), f.required('EndpointID'));
      return { Value: { interface: ep.srcName, ...(ep.mac ? { mac: ep.mac } : {}), addresses: ep.addresses.map((a) => a.address), sandbox: ep.sandbox } };
    },

    'NetworkDriver.DeleteEndpoint': async (body) => {
      const f = new Fields('DeleteEndpoint', body);
      await service.deleteEndpoint(f.required('NetworkID'), f.required('EndpointID'));
      return {};
    },

    'NetworkDriver.Join': async (body) => {
      const f = new Fields('Join', body);
      const join = await service.join(f.required('NetworkID'), f.required('EndpointID'), f.required('SandboxKey'));
      if (join.internal) {
        // No gateway: the container reaches only its network, and Docker adds no gateway bridge.
        return { InterfaceName: { SrcName: join.srcName, DstPrefix: DST_PREFIX }, DisableGatewayService: true };
      }
      return {
        InterfaceName: { SrcName: join.srcName, DstPrefix: DST_PREFIX },
        ...(join.gateway4 ? { Gateway: join.gateway4 } : {}),
        ...(join.gateway6 ? { GatewayIPv6: join.gateway6 } : {}),
      };
    },

    'NetworkDriver.Leave': async (body) => {
      const f = new Fields('Leave', body);
      await service.leave(f.required('NetworkID'), f.required('EndpointID'));
      return {};
    },

    'NetworkDriver.ProgramExternalConnectivity': async (body) => {
      const f = new Fields('ProgramExternalConnectivity', body);
      const options = f.object('Options');
      const mappings = parsePortMap(f, options[PORTMAP], `Options.${PORTMAP}`);
      await service.programExternalConnectivity(f.required('NetworkID'), f.required('EndpointID'), mappings);
      return {};
    },

    'NetworkDriver.RevokeExternalConnectivity': async (body) => {
      const f = new Fields('RevokeExternalConnectivity', body);
      await service.revokeExternalConnectivity(f.required('NetworkID'), f.required('EndpointID'));
      return {};
    },

    // Node discovery (swarm): accepted; local-scope drivers have nothing to do with it.
    'NetworkDriver.DiscoverNew': async () => ({}),
    'NetworkDriver.DiscoverDelete': async () => ({}),
  };
}

/** `IPv4Data`/`IPv6Data`: `[{AddressSpace, Pool, Gateway, AuxAddresses}]`, Gateway in CIDR form. */
function ipamData(f: Fields, name: string): { subnet: string; gateway?: string }[] {
  return f.list(name).map((item, i) => {
    const path = `${name}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) f.invalid(path, 'must be an object', item);
    const d = new Fields(`CreateNetwork ${path}`, item as Body);
    const pool = d.required('Pool');
    const gw = d.optional('Gateway');
    return { subnet: pool, ...(gw ? { gateway: gw.includes('/') ? gw.slice(0, gw.indexOf('/')) : gw } : {}) };
  });
}
