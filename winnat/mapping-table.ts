/**
 * The NAT state's transitions, as pure functions: add or remove an instance, set or remove
 * one owner's mappings (picking ephemeral ports and refusing conflicts). Each returns the
 * very state it was given when nothing changes, so callers can skip the write and the
 * kernel. Anything wrong throws before a new state exists: all or nothing.
 */
import { InvalidConfigError, NotFoundError, PoolExhaustedError, PortConflictError } from '../core/errors.js';
import type { IpAddress } from '../core/ip.js';
import { NAT_PROTOCOLS, formatMapping, sameOwner, type MappingOwner, type MappingRequest, type NatInstanceSpec, type NatState, type PortRange, type StaticMapping } from './model.js';

const IFNAME_RE = /^[^/:\s]{1,15}$/;
const TOKEN_RE = /^[^\s]+$/;

/** New-NetNat, or Set-NetNat when the name exists with other settings. */
export function putInstance(s: NatState, spec: NatInstanceSpec): NatState {
  validateInstance(spec);
  for (const other of s.instances) {
    if (other.name === spec.name) continue;
    if (other.internalPrefix.overlaps(spec.internalPrefix)) {
      throw new InvalidConfigError(`Cannot create NAT instance "${spec.name}": its internal prefix ${spec.internalPrefix} overlaps ${other.internalPrefix} of NAT instance "${other.name}"`, {
        field: 'internalPrefix',
        value: spec.internalPrefix.toString(),
      });
    }
    if (other.internalInterface === spec.internalInterface) {
      throw new InvalidConfigError(`Cannot create NAT instance "${spec.name}": interface ${spec.internalInterface} already serves NAT instance "${other.name}"`, {
        field: 'internalInterface',
        value: spec.internalInterface,
      });
    }
  }
  const current = s.instances.find((i) => i.name === spec.name);
  if (current && sameInstance(current, spec)) return s;
  return { ...s, instances: [...s.instances.filter((i) => i.name !== spec.name), spec] };
}

/** Remove-NetNat: the instance and every mapping of it. */
export function removeInstance(s: NatState, name: string): NatState {
  if (!s.instances.some((i) => i.name === name)) return s;
  return { ...s, instances: s.instances.filter((i) => i.name !== name), mappings: s.mappings.filter((m) => m.nat !== name) };
}

/**
 * Makes `requests` the complete set of `owner`'s mappings on instance `nat` (what it held
 * before and no longer asks for goes). Requests for port 0 get a free port of `ephemeral`,
 * the one they had when the owner asked for the same thing before.
 */
export function setOwnerMappings(
  s: NatState,
  args: { readonly nat: string; readonly owner: MappingOwner; readonly requests: readonly MappingRequest[]; readonly ephemeral: PortRange },
): { state: NatState; mappings: StaticMapping[] } {
  const { nat, owner, requests, ephemeral } = args;
  const instance = s.instances.find((i) => i.name === nat);
  if (!instance) throw new NotFoundError(`Cannot publish ports on NAT instance "${nat}": it does not exist`, { field: 'nat', value: nat });
  validateOwner(owner);
  const others = s.mappings.filter((m) => !(m.nat === nat && sameOwner(m.owner, owner)));
  const previous = s.mappings.filter((m) => m.nat === nat && sameOwner(m.owner, owner));
  const chosen: (StaticMapping | undefined)[] = requests.map(() => undefined);
  const accepted: StaticMapping[] = [];
  const accept = (i: number, m: StaticMapping) => {
    refuseConflicts(m, others, accepted, chosen);
    chosen[i] = m;
    accepted.push(m);
  };

  // Fixed ports first, so that the ports picked for the others avoid them.
  requests.forEach((r, i) => {
    validateRequest(r, i, instance);
    if (r.externalPort !== 0) accept(i, toMapping(nat, owner, r, r.externalPort, false));
  });
  const cursors = { ...s.cursors };
  requests.forEach((r, i) => {
    if (r.externalPort !== 0) return;
    const before = previous.find(
      (p) =>
        p.ephemeral &&
        p.protocol === r.protocol &&
        sameAddress(p.externalAddress, normalAddress(r.externalAddress)) &&
        p.internalAddress.equals(r.internalAddress) &&
        p.internalPort === r.internalPort,
    );
    const reuse = before && !findConflict(before, [...others, ...accepted]) ? before.externalPort : undefined;
    const port = reuse ?? pickPort(r, [...others, ...accepted], ephemeral, cursors[r.protocol]);
    if (reuse === undefined) cursors[r.protocol] = port;
    accept(i, toMapping(nat, owner, r, port, true));
  });

  const mappings = chosen as StaticMapping[];
  if (sameMappings(previous, mappings)) return { state: s, mappings };
  return { state: { ...s, mappings: [...others, ...mappings], cursors }, mappings };
}

/** Remove-NetNatStaticMapping for everything `owner` holds on `nat`. */
export function removeOwnerMappings(s: NatState, nat: string, owner: MappingOwner): NatState {
  const kept = s.mappings.filter((m) => !(m.nat === nat && sameOwner(m.owner, owner)));
  return kept.length === s.mappings.length ? s : { ...s, mappings: kept };
}

/** Keeps only the mappings of `nat` whose owner `keep` accepts (garbage collection). */
export function retainOwners(s: NatState, nat: string, keep: (owner: MappingOwner) => boolean): NatState {
  const kept = s.mappings.filter((m) => m.nat !== nat || keep(m.owner));
  return kept.length === s.mappings.length ? s : { ...s, mappings: kept };
}

// --- validation ---

function validateInstance(spec: NatInstanceSpec): void {
  if (!TOKEN_RE.test(spec.name))
    throw new InvalidConfigError(`NAT instance name ${JSON.stringify(spec.name)} is invalid: it must be non-empty and hold no spaces`, { field: 'name', value: spec.name });
  if (spec.internalPrefix.family !== 4) {
    throw new InvalidConfigError(`Cannot create NAT instance "${spec.name}" for ${spec.internalPrefix}: WinNAT translates IPv4 only`, {
      field: 'internalPrefix',
      value: spec.internalPrefix.toString(),
    });
  }
  if (!IFNAME_RE.test(spec.internalInterface)) {
    throw new InvalidConfigError(`Cannot create NAT instance "${spec.name}": ${JSON.stringify(spec.internalInterface)} is not an interface name`, {
      field: 'internalInterface',
      value: spec.internalInterface,
    });
  }
}

function validateOwner(o: MappingOwner): void {
  for (const [k, v] of [
    ['containerId', o.containerId],
    ['endpoint', o.endpoint],
  ] as const) {
    if (!TOKEN_RE.test(v)) throw new InvalidConfigError(`The owner's ${k} ${JSON.stringify(v)} is invalid: it must be non-empty and hold no spaces`, { field: k, value: v });
  }
}

function validateRequest(r: MappingRequest, i: number, instance: NatInstanceSpec): void {
  const field = (k: string) => `mappings[${i}].${k}`;
  if (!(NAT_PROTOCOLS as readonly string[]).includes(r.protocol)) {
    throw new InvalidConfigError(`Cannot publish protocol ${JSON.stringify(r.protocol)}: WinNAT maps TCP and UDP only`, { field: field('protocol'), value: String(r.protocol) });
  }
  const port = (k: string, v: number | undefined, min: number) => {
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < min || v > 65535) throw new InvalidConfigError(`${field(k)} ${v} is out of range (${min}-65535)`, { field: field(k), value: String(v) });
  };
  port('externalPort', r.externalPort, 0);
  port('internalPort', r.internalPort, 1);
  if (r.externalPortEnd !== undefined) {
    port('externalPortEnd', r.externalPortEnd, 1);
    if (r.externalPort === 0)
      throw new InvalidConfigError(`${field('externalPortEnd')} needs a non-zero externalPort: a range is published as a whole`, { field: field('externalPortEnd'), value: String(r.externalPortEnd) });
    if (r.externalPortEnd < r.externalPort) {
      throw new InvalidConfigError(`${field('externalPortEnd')} ${r.externalPortEnd} is below the range's start ${r.externalPort}`, {
        field: field('externalPortEnd'),
        value: String(r.externalPortEnd),
      });
    }
    const last = r.internalPort + (r.externalPortEnd - r.externalPort);
    if (last > 65535)
      throw new InvalidConfigError(`${field('internalPort')} ${r.internalPort} leaves no room for the range ${r.externalPort}-${r.externalPortEnd} (it would end at ${last})`, {
        field: field('internalPort'),
        value: String(r.internalPort),
      });
  }
  if (r.externalAddress && r.externalAddress.family !== 4) {
    throw new InvalidConfigError(`Cannot publish on ${r.externalAddress}: WinNAT translates IPv4 only`, { field: field('externalAddress'), value: r.externalAddress.toString() });
  }
  if (!instance.internalPrefix.contains(r.internalAddress)) {
    throw new InvalidConfigError(`Cannot publish to ${r.internalAddress}: it is outside ${instance.internalPrefix}, the internal prefix of NAT instance "${instance.name}"`, {
      field: field('internalAddress'),
      value: r.internalAddress.toString(),
    });
  }
}

// --- conflicts and allocation ---

/** 0.0.0.0 and absent both mean "every host address". */
function normalAddress(a: IpAddress | undefined): IpAddress | undefined {
  return a && a.value === 0n ? undefined : a;
}

function sameAddress(a: IpAddress | undefined, b: IpAddress | undefined): boolean {
  return a === undefined ? b === undefined : b !== undefined && a.equals(b);
}

/** Two mappings compete for packets when protocol, address (either "every") and ports overlap. */
function competes(a: StaticMapping, b: StaticMapping): boolean {
  if (a.protocol !== b.protocol) return false;
  if (a.externalAddress && b.externalAddress && !a.externalAddress.equals(b.externalAddress)) return false;
  return a.externalPort <= b.externalPortEnd && b.externalPort <= a.externalPortEnd;
}

function findConflict(m: StaticMapping, held: readonly StaticMapping[]): StaticMapping | undefined {
  return held.find((h) => competes(m, h));
}

function refuseConflicts(m: StaticMapping, others: readonly StaticMapping[], accepted: readonly StaticMapping[], chosen: readonly (StaticMapping | undefined)[]): void {
  const port = m.externalPortEnd !== m.externalPort ? `ports ${m.externalPort}-${m.externalPortEnd}` : `port ${m.externalPort}`;
  const holder = findConflict(m, others);
  if (holder) {
    throw new PortConflictError(
      `Cannot publish ${formatMapping(m)} for container ${m.owner.containerId}: ${m.protocol} ${port} is already published by container ${holder.owner.containerId} (network ${holder.nat}, endpoint ${holder.owner.endpoint}: ${formatMapping(holder)})`,
      // The message already names the holder; no separate details to repeat it.
      { field: 'externalPort', value: String(m.externalPort) },
    );
  }
  const twin = findConflict(m, accepted);
  if (twin) {
    throw new PortConflictError(`Cannot publish ${formatMapping(m)} for container ${m.owner.containerId}: the same request also publishes ${formatMapping(twin)} (mapping ${chosen.indexOf(twin)})`, {
      field: 'externalPort',
      value: String(m.externalPort),
    });
  }
}

function pickPort(r: MappingRequest, held: readonly StaticMapping[], range: PortRange, cursor: number): number {
  const address = normalAddress(r.externalAddress);
  const used = new Set<number>();
  for (const h of held) {
    if (h.protocol !== r.protocol) continue;
    if (address && h.externalAddress && !address.equals(h.externalAddress)) continue;
    for (let p = Math.max(h.externalPort, range.start); p <= Math.min(h.externalPortEnd, range.end); p++) used.add(p);
  }
  const size = range.end - range.start + 1;
  const from = cursor >= range.start && cursor <= range.end ? cursor - range.start + 1 : 0;
  for (let k = 0; k < size; k++) {
    const p = range.start + ((from + k) % size);
    if (!used.has(p)) return p;
  }
  throw new PoolExhaustedError(`Cannot pick a host port for ${r.protocol} on ${address ?? '0.0.0.0'}: all ${size} ports of the ephemeral range ${range.start}-${range.end} are published`, {
    field: 'externalPort',
    value: '0',
  });
}

function toMapping(nat: string, owner: MappingOwner, r: MappingRequest, port: number, ephemeral: boolean): StaticMapping {
  const address = normalAddress(r.externalAddress);
  return {
    nat,
    owner: { containerId: owner.containerId, endpoint: owner.endpoint },
    protocol: r.protocol,
    ...(address ? { externalAddress: address } : {}),
    externalPort: port,
    externalPortEnd: ephemeral ? port : (r.externalPortEnd ?? port),
    internalAddress: r.internalAddress,
    internalPort: r.internalPort,
    ephemeral,
  };
}

function sameInstance(a: NatInstanceSpec, b: NatInstanceSpec): boolean {
  return a.internalPrefix.toString() === b.internalPrefix.toString() && a.internalInterface === b.internalInterface && a.loopback === b.loopback;
}

function mappingKey(m: StaticMapping): string {
  return `${formatMapping(m)} ${m.ephemeral}`;
}

function sameMappings(a: readonly StaticMapping[], b: readonly StaticMapping[]): boolean {
  if (a.length !== b.length) return false;
  const keys = new Set(a.map(mappingKey));
  return b.every((m) => keys.has(mappingKey(m)));
}
