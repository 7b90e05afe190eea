/**
 * What berthd persists about networks and endpoints. Docker never replays CreateNetwork
 * (docker-remote-and-hns.md, gotcha 6), so these records are berthd's memory across its own
 * restarts and the input of reconcile. Plain JSON: addresses as canonical text.
 *
 * `complete` is false from the moment a create starts until it has fully succeeded; a record
 * still incomplete at start-up belongs to a create that was cut short (berthd killed), whose
 * caller got no success, so reconcile undoes it instead of re-creating it.
 */
import { IoError } from '../../core/errors.js';
import type { DriverName } from '../../core/model.js';
import type { JsonValue } from '../../store/store.js';

/** Who asked for the network: Docker through the plugin socket, or the berth API/CLI. */
export type NetworkOrigin = 'docker' | 'api';

export interface SubnetRecord {
  /** `10.1.0.0/24` */
  readonly subnet: string;
  /** Plain address, `10.1.0.1`; absent for a network without a gateway. */
  readonly gateway?: string;
}

export interface NetworkRecord {
  readonly id: string;
  /** Docker networks: the first 12 characters of the id (Docker does not tell drivers names). */
  readonly name: string;
  readonly driver: DriverName;
  /** The Docker plugin name (`berth-bridge`). */
  readonly plugin: string;
  readonly origin: NetworkOrigin;
  readonly subnets: readonly SubnetRecord[];
  /** Driver options as given (`-o k=v`), re-validated by the driver binding on every load. */
  readonly options: Readonly<Record<string, string>>;
  /** Docker `--internal`: no outside connectivity. */
  readonly internal: boolean;
  readonly created: string;
  readonly complete: boolean;
}

export interface EndpointAddressRecord {
  /** With prefix length, `10.1.0.5/24`. */
  readonly address: string;
  readonly gateway?: string;
}

export interface PortMappingRecord {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly hostIp?: string;
  readonly hostPort: number;
  readonly hostPortEnd?: number;
  readonly containerPort: number;
}

export interface EndpointRecord {
  readonly id: string;
  readonly networkId: string;
  readonly addresses: readonly EndpointAddressRecord[];
  readonly mac?: string;
  /** The interface Docker moves into the sandbox (Join's `SrcName`). */
  readonly srcName: string;
  /** Join's SandboxKey (the container's netns path); empty until Join and after Leave. */
  readonly sandbox: string;
  readonly portMappings: readonly PortMappingRecord[];
  readonly created: string;
  readonly complete: boolean;
}

const NETWORKS = 'berthd/networks/';
const ENDPOINTS = 'berthd/endpoints/';

export function networkKey(id: string): string {
  return `${NETWORKS}${id}`;
}

export function endpointKey(networkId: string, endpointId: string): string {
  return `${ENDPOINTS}${networkId}/${endpointId}`;
}

/** Prefix of every network record. */
export const NETWORK_PREFIX = NETWORKS;

/** Prefix of the endpoint records of one network, or of all with no argument. */
export function endpointPrefix(networkId?: string): string {
  return networkId === undefined ? ENDPOINTS : `${ENDPOINTS}${networkId}/`;
}

/** Records go into the store as JSON; these casts are the one place that says so. */
export function toJson(record: NetworkRecord | EndpointRecord): JsonValue {
  return record as unknown as JsonValue;
}

/**
 * A stored network record, checked for the fields every reader relies on. A record that does
 * not hold together is an IoError naming it, not a TypeError somewhere later.
 */
export function asNetworkRecord(value: JsonValue): NetworkRecord {
  const r = value as Partial<Record<keyof NetworkRecord, unknown>> | null;
  const ok =
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    typeof r.name === 'string' &&
    typeof r.driver === 'string' &&
    Array.isArray(r.subnets) &&
    r.subnets.every((s) => typeof (s as { subnet?: unknown })?.subnet === 'string') &&
    typeof r.options === 'object' &&
    r.options !== null &&
    typeof r.complete === 'boolean';
  if (!ok) throw damaged('network', value);
  return value as unknown as NetworkRecord;
}

/** A stored endpoint record, checked like `asNetworkRecord`. */
export function asEndpointRecord(value: JsonValue): EndpointRecord {
  const r = value as Partial<Record<keyof EndpointRecord, unknown>> | null;
  const ok =
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    typeof r.networkId === 'string' &&
    Array.isArray(r.addresses) &&
    typeof r.srcName === 'string' &&
    typeof r.sandbox === 'string' &&
    typeof r.complete === 'boolean';
  if (!ok) throw damaged('endpoint', value);
  return value as unknown as EndpointRecord;
}

function damaged(kind: string, value: JsonValue): IoError {
  const id = typeof value === 'object' && value !== null && !Array.isArray(value) ? String((value as { id?: unknown }).id) : '?';
  return new IoError(`berthd's record of ${kind} ${id} is damaged (it was not written by this berthd): remove it from the state directory or restore a backup`, {
    operation: `decode ${kind} record`,
  });
}
