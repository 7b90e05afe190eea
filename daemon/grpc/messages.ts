/**
 * The API's messages as TypeScript sees them (proto-loader with camelCase fields and
 * defaults filled in), and the conversion from berthd's records.
 */
import type { NetworkView } from '../network-service.js';

export interface SubnetMessage {
  subnet: string;
  gateway: string;
}

export interface EndpointMessage {
  id: string;
  interface: string;
  mac: string;
  addresses: string[];
  sandbox: string;
  created: string;
}

export interface NetworkMessage {
  id: string;
  name: string;
  driver: string;
  plugin: string;
  origin: string;
  subnets: SubnetMessage[];
  options: Record<string, string>;
  internal: boolean;
  created: string;
  endpoints: EndpointMessage[];
}

export interface CreateNetworkMessage {
  name: string;
  driver: string;
  subnets: SubnetMessage[];
  options: Record<string, string>;
  internal: boolean;
}

export interface StatusMessage {
  version: string;
  started: string;
  uptimeSeconds: number;
  dataDir: string;
  apiSocket: string;
  pluginSockets: string[];
  metricsAddress: string;
  drivers: { driver: string; plugin: string; networks: number; endpoints: number }[];
  ipamPools: { id: string; pool: string; addresses: number }[];
  reconciledNetworks: number;
  removedEndpoints: number;
  lostEndpoints: string[];
  failedNetworks: string[];
}

export function networkMessage(view: NetworkView): NetworkMessage {
  const n = view.network;
  return {
    id: n.id,
    name: n.name,
    driver: n.driver,
    plugin: n.plugin,
    origin: n.origin,
    subnets: n.subnets.map((s) => ({ subnet: s.subnet, gateway: s.gateway ?? '' })),
    options: { ...n.options },
    internal: n.internal,
    created: n.created,
    endpoints: view.endpoints.map((e) => ({
      id: e.id,
      interface: e.srcName,
      mac: e.mac ?? '',
      addresses: e.addresses.map((a) => a.address),
      sandbox: e.sandbox,
      created: e.created,
    })),
  };
}
