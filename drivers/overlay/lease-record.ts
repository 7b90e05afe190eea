/**
 * What an overlay network keeps in the cluster store, and where:
 *
 *   <prefix>/<network>/nodes/<node>       NodeLease: the node's subnet and VTEP (what peers program)
 *   <prefix>/<network>/subnets/<a.b.c.d-len>  SubnetClaim: which node holds that subnet
 *   <prefix>/<network>/definition        what the network is; the first node to join writes it
 *   <prefix>/<network>/endpoints/<node>/<endpoint>  shared subnets: an address and its node
 *
 * The claim key is the lock on a subnet: it is created with compare-and-swap (`expectRevision:
 * 0`), so two nodes can never hold one subnet. The node key is what the rest of the cluster
 * reads and watches. Values are plain JSON with canonical text (addresses as `core/ip.ts`
 * prints them, MACs in lower case), so equal leases compare equal as strings.
 */
import { DecodeError, InvalidConfigError } from '../../core/errors.js';
import { IpAddress, IpParseError, IpPrefix } from '../../core/ip.js';
import type { Entry, JsonValue } from '../../store/store.js';

/** Where overlay state lives unless told otherwise. */
export const DEFAULT_KEY_PREFIX = 'overlay';

/** A node's lease on one block of the overlay's subnet. */
export interface NodeLease {
  readonly node: string;
  /** The node's block, canonical CIDR (`10.244.3.0/24`). */
  readonly subnet: string;
  /** The node's underlay address: where peers send its VXLAN packets. */
  readonly vtep: string;
  /** The MAC of the node's VXLAN device, lower case (`0e:2a:…`). */
  readonly vtepMac: string;
  /** ISO 8601 time `acquire` last changed the lease (new subnet, VTEP, MAC, or back from release). */
  readonly updated: string;
  /** ISO 8601 time the node left; the subnet returns to the pool a grace period later. */
  readonly releasedAt?: string;
}

/** The value of a subnet's claim key. */
export interface SubnetClaim {
  readonly node: string;
  readonly subnet: string;
  /** ISO 8601; a claim nobody's lease points to is freed only a grace period after this. */
  readonly claimedAt: string;
  /**
   * ISO 8601 time a reclaim first found no lease pointing to the claim (its node's lease
   * expired with the node, or an acquire died between its two writes); the claim is freed a
   * grace period after this.
   */
  readonly orphanedAt?: string;
}

/** The keys of one overlay network. */
export class OverlayKeys {
  readonly nodesPrefix: string;
  readonly claimsPrefix: string;
  /** What the network is (subnet, block length, addressing, mode): written by the first node, compared by the others. */
  readonly definitionKey: string;
  /** Shared-subnet networks: `<node>/<endpoint>` → the endpoint's address. */
  readonly endpointsPrefix: string;

  constructor(
    readonly network: string,
    prefix: string = DEFAULT_KEY_PREFIX,
  ) {
    checkName('network', network);
    this.nodesPrefix = `${prefix}/${network}/nodes/`;
    this.claimsPrefix = `${prefix}/${network}/subnets/`;
    this.definitionKey = `${prefix}/${network}/definition`;
    this.endpointsPrefix = `${prefix}/${network}/endpoints/`;
  }

  endpointKey(node: string, endpoint: string): string {
    return `${this.endpointsPrefix}${node}/${endpoint}`;
  }

  nodeKey(node: string): string {
    return this.nodesPrefix + node;
  }

  /** `/` would add a path level, so the length is joined with `-` (flannel's spelling). */
  claimKey(subnet: IpPrefix): string {
    return `${this.claimsPrefix}${subnet.network}-${subnet.length}`;
  }
}

// Kubernetes node names (DNS subdomains), hostnames and Docker network names all fit; `/` and
// control characters, which would change the key layout, do not.
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?$/;

/** Throws InvalidConfigError unless `name` can be a node or network name in a key. */
export function checkName(what: 'node' | 'network', name: string): void {
  if (!NAME.test(name)) {
    throw new InvalidConfigError(`${JSON.stringify(name)} is not a valid ${what} name: letters, digits, '.', '_' and '-', starting and ending with a letter or digit`, {
      field: what,
      value: name,
    });
  }
}

/** Parses a VTEP MAC (`aa:bb:cc:dd:ee:ff`, any case) into lower case; refuses group and zero MACs. */
export function parseVtepMac(text: string, field = 'vtepMac'): string {
  const mac = text.toLowerCase();
  const bad = (why: string) => new InvalidConfigError(`${JSON.stringify(text)} is not a usable VTEP MAC: ${why}`, { field, value: text });
  if (!/^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/.test(mac)) throw bad('expected six hex pairs separated by colons');
  // Peers point a unicast FDB entry at it; a group (multicast) or all-zero MAC would flood.
  if (parseInt(mac.slice(0, 2), 16) & 1) throw bad('it is a group (multicast) address');
  if (mac === '00:00:00:00:00:00') throw bad('it is all zeros');
  return mac;
}

/** Parses a CIDR with host bits zero, as InvalidConfigError naming `field`. */
export function parseSubnet(text: string, field: string): IpPrefix {
  try {
    return IpPrefix.parse(text);
  } catch (err) {
    if (err instanceof IpParseError) throw new InvalidConfigError(`${field}: ${err.message}`, { field, value: text });
    throw err;
  }
}

/** A stored subnet, or undefined when it is not a canonical CIDR (a record written by hand). */
export function tryParseSubnet(text: string): IpPrefix | undefined {
  try {
    return IpPrefix.parse(text);
  } catch {
    return undefined;
  }
}

/** Parses an address, as InvalidConfigError naming `field`. */
export function parseAddress(text: string, field: string): IpAddress {
  try {
    return IpAddress.parse(text);
  } catch (err) {
    if (err instanceof IpParseError) throw new InvalidConfigError(`${field}: ${err.message}`, { field, value: text });
    throw err;
  }
}

export function leaseValue(lease: NodeLease): JsonValue {
  const { node, subnet, vtep, vtepMac, updated, releasedAt } = lease;
  return releasedAt === undefined ? { node, subnet, vtep, vtepMac, updated } : { node, subnet, vtep, vtepMac, updated, releasedAt };
}

export function claimValue(claim: SubnetClaim): JsonValue {
  const { node, subnet, claimedAt, orphanedAt } = claim;
  return orphanedAt === undefined ? { node, subnet, claimedAt } : { node, subnet, claimedAt, orphanedAt };
}

/** Reads a node key's value; DecodeError (naming the key) when it is not a lease. */
export function decodeLease(key: string, value: JsonValue): NodeLease {
  const o = asObject(key, value);
  const lease = {
    node: stringField(key, o, 'node'),
    subnet: stringField(key, o, 'subnet'),
    vtep: stringField(key, o, 'vtep'),
    vtepMac: stringField(key, o, 'vtepMac'),
    updated: stringField(key, o, 'updated'),
  };
  return o['releasedAt'] === undefined ? lease : { ...lease, releasedAt: stringField(key, o, 'releasedAt') };
}

/** Reads a claim key's value; DecodeError (naming the key) when it is not a claim. */
export function decodeClaim(entry: Entry): SubnetClaim {
  const o = asObject(entry.key, entry.value);
  const claim = { node: stringField(entry.key, o, 'node'), subnet: stringField(entry.key, o, 'subnet'), claimedAt: stringField(entry.key, o, 'claimedAt') };
  return o['orphanedAt'] === undefined ? claim : { ...claim, orphanedAt: stringField(entry.key, o, 'orphanedAt') };
}

function asObject(key: string, value: JsonValue): { readonly [k: string]: JsonValue } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DecodeError(`Overlay record ${JSON.stringify(key)} is not a JSON object`, { field: key });
  }
  return value as { readonly [k: string]: JsonValue };
}

function stringField(key: string, o: { readonly [k: string]: JsonValue }, name: string): string {
  const v = o[name];
  if (typeof v !== 'string') throw new DecodeError(`Overlay record ${JSON.stringify(key)} has no string field ${JSON.stringify(name)}`, { field: `${key}.${name}` });
  return v;
}
