/**
 * Translations between berthd's stored records and what drivers and Docker see: the driver's
 * NetworkSpec of a record, and the validation of subnets, addresses and ids as they arrive.
 * Pure functions; errors name the field at fault.
 */
import { InvalidConfigError } from '../core/errors.js';
import { IpAddress, IpParseError, IpPrefix, parseIpWithPrefix } from '../core/ip.js';
import type { AssignedAddress, IpRange, PortMapping } from '../core/model.js';
import type { NetworkSpec } from '../drivers/driver.js';
import type { ServedDriver } from './drivers/binding.js';
import type { NetworkRecord, PortMappingRecord, SubnetRecord } from './state/records.js';

/**
 * The interface name every Docker endpoint is keyed by in its driver (with the endpoint id as
 * the container id): Docker picks the name inside the sandbox itself, after Join.
 */
export const DOCKER_IFNAME = 'eth';

/** The driver's view of a stored network; options are re-validated by the binding. */
export function specOf<O>(binding: ServedDriver<O>, record: NetworkRecord): NetworkSpec<O> {
  const subnets: IpRange[] = record.subnets.map((s) => {
    const subnet = IpPrefix.parse(s.subnet);
    const last = subnet.family === 4 ? subnet.last.plus(-1n) : subnet.last;
    return { subnet, rangeStart: subnet.first.plus(1n), rangeEnd: last, ...(s.gateway ? { gateway: IpAddress.parse(s.gateway) } : {}) };
  });
  const options = binding.parseOptions(record.options, {
    networkName: record.name,
    internal: record.internal,
    hasGateway: record.subnets.some((s) => s.gateway),
    hasSubnet: record.subnets.length > 0,
  });
  return { id: record.id, name: record.name, subnets, options, followsEndpoints: false };
}

/** A subnet and its gateway; with `defaultGateway`, a missing gateway is the first host address. */
export function parseSubnet(input: { readonly subnet: string; readonly gateway?: string }, field: string, opts: { readonly defaultGateway: boolean }): SubnetRecord {
  let subnet: IpPrefix;
  try {
    subnet = IpPrefix.parse(input.subnet);
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
    throw new InvalidConfigError(`Subnet ${JSON.stringify(input.subnet)} is not a subnet in CIDR notation such as 10.1.0.0/24: ${err.message}`, { field, value: input.subnet });
  }
  if (subnet.network.bits - subnet.length < 2) {
    throw new InvalidConfigError(`Subnet ${subnet} is too small: it needs room for a gateway and a container`, { field, value: input.subnet });
  }
  if (input.gateway === undefined || input.gateway === '') {
    return opts.defaultGateway ? { subnet: String(subnet), gateway: String(subnet.first.plus(1n)) } : { subnet: String(subnet) };
  }
  const gw = IpAddress.tryParse(input.gateway);
  if (!gw) throw new InvalidConfigError(`Gateway ${JSON.stringify(input.gateway)} is not an IP address`, { field: `${field}.gateway`, value: input.gateway });
  if (!subnet.contains(gw) || gw.equals(subnet.first) || (gw.family === 4 && gw.equals(subnet.last))) {
    throw new InvalidConfigError(`Gateway ${gw} is not a host address of subnet ${subnet}`, { field: `${field}.gateway`, value: input.gateway });
  }
  return { subnet: String(subnet), gateway: String(gw) };
}

/** An interface address Docker assigned, with the gateway of the subnet it lies in. */
export function assignAddress(network: NetworkRecord, text: string, field: string): AssignedAddress {
  let address;
  try {
    address = parseIpWithPrefix(text);
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
    throw new InvalidConfigError(`${field} ${JSON.stringify(text)} is not an address with prefix length such as 10.1.0.5/24`, { field, value: text });
  }
  const subnet = network.subnets.find((s) => IpPrefix.parse(s.subnet).contains(address.address));
  if (!subnet) {
    throw new InvalidConfigError(`${field} ${text} is outside the subnets of network ${network.name} (${network.subnets.map((s) => s.subnet).join(', ')})`, { field, value: text });
  }
  return { address, ...(subnet.gateway ? { gateway: IpAddress.parse(subnet.gateway) } : {}) };
}

/**
 * The MAC Docker's own bridge driver gives an endpoint: 02:42 and the four bytes of its IPv4
 * address (libnetwork `netutils.GenerateMACFromIP`). A container reconnected with the same
 * address keeps its MAC, so its neighbours' ARP caches stay right.
 */
export function macFromAddresses(addresses: readonly AssignedAddress[]): string | undefined {
  const v4 = addresses.find((a) => a.address.address.family === 4);
  if (!v4) return undefined;
  return ['02', '42', ...[...v4.address.address.toBytes()].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function assignedOf(a: { readonly address: string; readonly gateway?: string }): AssignedAddress {
  return { address: parseIpWithPrefix(a.address), ...(a.gateway ? { gateway: IpAddress.parse(a.gateway) } : {}) };
}

export function portMappingRecord(m: PortMapping): PortMappingRecord {
  return {
    protocol: m.protocol,
    hostPort: m.hostPort,
    containerPort: m.containerPort,
    ...(m.hostIp ? { hostIp: m.hostIp.toString() } : {}),
    ...(m.hostPortEnd !== undefined ? { hostPortEnd: m.hostPortEnd } : {}),
  };
}

/** Ids become store keys and interface-name hashes: plain tokens only. */
export function checkId(id: string, field: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id)) {
    throw new InvalidConfigError(`${field} ${JSON.stringify(id)} is not a valid id (letters, digits, "_", "." and "-", up to 128)`, { field, value: id });
  }
}
