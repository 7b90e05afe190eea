/**
 * The API's messages as TypeScript sees them (proto-loader with camelCase fields and
 * defaults filled in), and the conversion from berthd's records.
 */
import type { ClusterStatus } from '../cluster/cluster-agent.js';
import type { NatDescription } from '../../drivers/nat/index.js';
import type { NetworkView } from '../network-service.js';
import type { KeeperReport } from '../firewall/passage-keeper.js';

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
  cniSocket: string;
  metricsAddress: string;
  drivers: { driver: string; plugin: string; networks: number; endpoints: number }[];
  ipamPools: { id: string; pool: string; addresses: number }[];
  reconciledNetworks: number;
  removedEndpoints: number;
  lostEndpoints: string[];
  failedNetworks: string[];
  /** berth's devices whose traffic is let through other owners' forward drops. */
  firewallDevices: string[];
  firewallPassages: FirewallPassageMessage[];
  /** Why the last firewall re-check failed; empty when it worked. */
  firewallError: string;
  /** Absent when berthd runs without --etcd-endpoints. */
  cluster?: ClusterStatus;
}

export interface FirewallPassageMessage {
  owner: string;
  backend: string;
  family: string;
  table: string;
  chain: string;
  reason: string;
  present: boolean;
}

export function firewallMessage(r: KeeperReport): Pick<StatusMessage, 'firewallDevices' | 'firewallPassages' | 'firewallError'> {
  return {
    firewallError: r.error ?? '',
    firewallDevices: [...r.devices],
    firewallPassages: r.passages.map((p) => ({ owner: p.owner, backend: p.place.backend, family: p.place.family, table: p.place.table, chain: p.place.chain, reason: p.reason, present: p.present })),
  };
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

export interface NatInstanceMessage {
  name: string;
  internalPrefix: string;
  internalInterface: string;
  loopback: boolean;
  staticMappings: number;
}

export interface NatStaticMappingMessage {
  staticMappingId: number;
  natName: string;
  protocol: string;
  externalAddress: string;
  externalPort: number;
  externalPortEnd: number;
  internalAddress: string;
  internalPort: number;
  containerId: string;
  endpoint: string;
  ephemeral: boolean;
}

export interface ListNatMessage {
  nats: NatInstanceMessage[];
  staticMappings: NatStaticMappingMessage[];
}

/** WinNAT's description (Get-NetNat names) as the API's ListNatResponse. */
export function natMessage(d: NatDescription): ListNatMessage {
  return {
    nats: d.nats.map((n) => ({ name: n.name, internalPrefix: n.internalIPInterfaceAddressPrefix, internalInterface: n.internalInterface, loopback: n.loopback, staticMappings: n.staticMappings })),
    staticMappings: d.staticMappings.map((m) => ({
      staticMappingId: m.staticMappingId,
      natName: m.natName,
      protocol: m.protocol,
      externalAddress: m.externalIPAddress,
      externalPort: m.externalPort,
      externalPortEnd: m.externalPortEnd,
      internalAddress: m.internalIPAddress,
      internalPort: m.internalPort,
      containerId: m.containerId,
      endpoint: m.endpoint,
      ephemeral: m.ephemeral,
    })),
  };
}

/** The API's ListNatResponse back as WinNAT's description, so both ways print alike. */
export function natDescriptionOf(m: ListNatMessage): NatDescription {
  return {
    nats: m.nats.map((n) => ({ name: n.name, internalIPInterfaceAddressPrefix: n.internalPrefix, internalInterface: n.internalInterface, loopback: n.loopback, staticMappings: n.staticMappings })),
    staticMappings: m.staticMappings.map((s) => ({
      staticMappingId: s.staticMappingId,
      natName: s.natName,
      protocol: s.protocol === 'UDP' ? 'UDP' : 'TCP',
      externalIPAddress: s.externalAddress,
      externalPort: s.externalPort,
      externalPortEnd: s.externalPortEnd,
      internalIPAddress: s.internalAddress,
      internalPort: s.internalPort,
      containerId: s.containerId,
      endpoint: s.endpoint,
      ephemeral: s.ephemeral,
    })),
  };
}

export interface PolicyObjectRefMessage {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export interface PolicySyncMessage {
  readonly mode: string;
  readonly commands: number;
  readonly policies: number;
  readonly pods: number;
  readonly milliseconds: number;
}

export interface ApplyPoliciesMessage {
  readonly manifestsJson: readonly string[];
  readonly sources: readonly string[];
}

export interface ApplyPoliciesReply {
  readonly objects: readonly PolicyObjectRefMessage[];
  readonly sync: PolicySyncMessage | null;
}

export interface DeletePoliciesMessage {
  readonly objects: readonly PolicyObjectRefMessage[];
  readonly mustExist: boolean;
}

export interface DeletePoliciesReply {
  readonly deleted: readonly PolicyObjectRefMessage[];
  readonly missing: readonly PolicyObjectRefMessage[];
  readonly sync: PolicySyncMessage | null;
}

export interface ListPoliciesReply {
  readonly manifestsJson: readonly string[];
  readonly workloadsJson: readonly string[];
  readonly source: string;
}
