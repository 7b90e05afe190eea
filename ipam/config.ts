/**
 * berth-ipam's configuration: host-local's keys with host-local's defaults, so berth-ipam can
 * stand in for host-local under any plugin. Parsed once into a validated, readonly value.
 *
 * Defaults are those of host-local's code (which differ from its docs): rangeStart = network+1,
 * rangeEnd = broadcast-1 (IPv4) or the last address (IPv6), gateway = network+1. The gateway
 * is never handed out, so with the defaults the first address allocated is network+2.
 *
 * Errors: DecodeError when a key has the wrong JSON type, InvalidConfigError when a value makes
 * no sense; both name the field by its full path (`ipam.ranges[0][1].rangeStart`) and value.
 */
import { readFileSync } from 'node:fs';
import { DecodeError, InvalidConfigError } from '../core/errors.js';
import { IpAddress, IpParseError, IpPrefix, parseIpWithPrefix } from '../core/ip.js';
import type { Dns, IpRange, Route } from '../core/model.js';
import type { RangeSet } from './range-set.js';
import { parseResolvConf } from './resolv-conf.js';

/** The validated IPAM configuration. */
export interface IpamConfig {
  /**
   * Range sets in allocation order (`runtimeConfig.ipRanges`, then the legacy top-level range,
   * then `ipam.ranges`); each yields one address. Every range has its defaults filled in and
   * its `gateway` set.
   */
  readonly rangeSets: readonly RangeSet[];
  /** `ipam.routes`, to be copied into the result. */
  readonly routes: readonly Route[];
  /** `ipam.dataDir` when given; the store's default (/var/lib/berth) applies otherwise. */
  readonly dataDir: string | undefined;
  /** `ipam.resolvConf`, read and parsed, when given. */
  readonly dns: Dns | undefined;
  /**
   * Addresses asked for by `CNI_ARGS` `IP=`, `args.cni.ips` and `runtimeConfig.ips`, in that
   * order, without duplicates. Prefix lengths given with them are ignored: the range set's
   * subnet decides.
   */
  readonly requestedIps: readonly IpAddress[];
}

/** The raw pieces of a CNI plugin configuration that IPAM reads. */
export interface IpamConfigInput {
  /** The `ipam` object of the plugin configuration, as parsed JSON. */
  readonly ipam: unknown;
  /** The plugin configuration's `runtimeConfig` (capability arguments `ipRanges`, `ips`). */
  readonly runtimeConfig?: unknown;
  /** The plugin configuration's `args` (`args.cni.ips`). */
  readonly args?: unknown;
  /** `CNI_ARGS`, already split into pairs (`IP` is read; a comma-separated list is accepted). */
  readonly cniArgs?: ReadonlyMap<string, string>;
}

type Obj = Readonly<Record<string, unknown>>;

/** A range set still tagged with where it came from, for error messages. */
interface SourcedSet {
  readonly path: string;
  readonly ranges: readonly { readonly path: string; readonly range: IpRange }[];
}

/** Parses and validates the configuration; throws DecodeError or InvalidConfigError. */
export function parseIpamConfig(input: IpamConfigInput): IpamConfig {
  const ipam = asObject(input.ipam, 'ipam');
  if (!ipam) throw new InvalidConfigError('ipam is missing: berth-ipam needs an ipam object with ranges', { field: 'ipam' });
  const runtime = asObject(input.runtimeConfig, 'runtimeConfig') ?? {};

  const sets: SourcedSet[] = [];
  const ipRanges = asArray(runtime['ipRanges'], 'runtimeConfig.ipRanges') ?? [];
  ipRanges.forEach((raw, i) => sets.push(parseRangeSet(raw, `runtimeConfig.ipRanges[${i}]`)));
  const legacy = parseLegacyRange(ipam);
  if (legacy) sets.push(legacy);
  const ranges = asArray(ipam['ranges'], 'ipam.ranges') ?? [];
  ranges.forEach((raw, i) => sets.push(parseRangeSet(raw, `ipam.ranges[${i}]`)));
  if (sets.length === 0) {
    throw new InvalidConfigError('ipam has no address ranges: set ipam.ranges (or the single-range ipam.subnet)', { field: 'ipam.ranges' });
  }
  checkSetsDisjoint(sets);

  const resolvConf = asString(ipam['resolvConf'], 'ipam.resolvConf');
  const dataDir = asString(ipam['dataDir'], 'ipam.dataDir');
  if (dataDir === '') throw new InvalidConfigError('ipam.dataDir must not be empty', { field: 'ipam.dataDir', value: '' });

  return {
    rangeSets: sets.map((s) => s.ranges.map((r) => r.range)),
    routes: parseRoutes(ipam['routes']),
    dataDir,
    dns: resolvConf === undefined ? undefined : readResolvConf(resolvConf),
    requestedIps: parseRequestedIps(input, runtime),
  };
}

function parseLegacyRange(ipam: Obj): SourcedSet | undefined {
  if (ipam['subnet'] === undefined || ipam['subnet'] === null) {
    for (const key of ['rangeStart', 'rangeEnd', 'gateway']) {
      if (ipam[key] !== undefined && ipam[key] !== null) {
        throw new InvalidConfigError(`ipam.${key} is set but ipam.subnet is not: the single top-level range needs its subnet`, {
          field: `ipam.${key}`,
          value: String(ipam[key]),
        });
      }
    }
    return undefined;
  }
  return { path: 'ipam', ranges: [{ path: 'ipam', range: parseRange(ipam, 'ipam') }] };
}

function parseRangeSet(raw: unknown, path: string): SourcedSet {
  const list = asArray(raw, path);
  if (!list || list.length === 0) throw new InvalidConfigError(`${path} is an empty range set: it needs at least one range`, { field: path });
  const ranges = list.map((item, j) => {
    const rpath = `${path}[${j}]`;
    const obj = asObject(item, rpath);
    if (!obj) throw new DecodeError(`${rpath} must be a range object ({"subnet": ...}), not null`, { field: rpath });
    return { path: rpath, range: parseRange(obj, rpath) };
  });
  const first = ranges[0] as SourcedSet['ranges'][number];
  ranges.forEach((r, j) => {
    if (r.range.subnet.family !== first.range.subnet.family) {
      throw new InvalidConfigError(
        `${r.path}.subnet ${r.range.subnet} is IPv${r.range.subnet.family}, but ${first.path}.subnet is IPv${first.range.subnet.family}: the ranges of a range set share one family`,
        { field: `${r.path}.subnet`, value: String(r.range.subnet) },
      );
    }
    for (const earlier of ranges.slice(0, j)) {
      if (overlaps(earlier.range, r.range)) {
        throw new InvalidConfigError(`${r.path} (${bounds(r.range)}) overlaps ${earlier.path} (${bounds(earlier.range)})`, {
          field: r.path,
          value: bounds(r.range),
        });
      }
    }
  });
  return { path, ranges };
}

/** One range, with host-local's defaults filled in. */
function parseRange(obj: Obj, path: string): IpRange {
  const field = (key: string) => `${path}.${key}`;
  const subnetText = asString(obj['subnet'], field('subnet'));
  if (subnetText === undefined) throw new InvalidConfigError(`${field('subnet')} is required`, { field: field('subnet') });
  const subnet = parseSubnet(subnetText, field('subnet'));

  const address = (key: string): IpAddress | undefined => {
    const text = asString(obj[key], field(key));
    if (text === undefined) return undefined;
    const ip = IpAddress.tryParse(text);
    if (!ip) throw new InvalidConfigError(`${field(key)} ${JSON.stringify(text)} is not an IP address`, { field: field(key), value: text });
    if (ip.family !== subnet.family) {
      throw new InvalidConfigError(`${field(key)} ${ip} is IPv${ip.family} but subnet ${subnet} is IPv${subnet.family}`, { field: field(key), value: text });
    }
    if (!subnet.contains(ip)) throw new InvalidConfigError(`${field(key)} ${ip} is outside subnet ${subnet}`, { field: field(key), value: text });
    return ip;
  };
  const givenStart = address('rangeStart');
  const givenEnd = address('rangeEnd');
  const gateway = address('gateway') ?? subnet.first.plus(1n);
  const rangeStart = givenStart ?? subnet.first.plus(1n);
  const rangeEnd = givenEnd ?? (subnet.family === 4 ? subnet.last.plus(-1n) : subnet.last);
  if (rangeStart.value > rangeEnd.value) {
    // Blame the key the user wrote; when both are given, the end.
    const key = givenEnd ? 'rangeEnd' : 'rangeStart';
    const message = key === 'rangeEnd' ? `${field('rangeEnd')} ${rangeEnd} is before rangeStart ${rangeStart}` : `${field('rangeStart')} ${rangeStart} is after the end of the range, ${rangeEnd}`;
    throw new InvalidConfigError(message, { field: field(key), value: String(key === 'rangeEnd' ? rangeEnd : rangeStart) });
  }
  return { subnet, rangeStart, rangeEnd, gateway };
}

function parseSubnet(text: string, field: string): IpPrefix {
  let loose: IpPrefix;
  try {
    loose = IpPrefix.parse(text, { strict: false });
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
    throw new InvalidConfigError(`${field} ${JSON.stringify(text)} is not a subnet in CIDR notation (such as 10.1.0.0/24): ${err.message}`, { field, value: text });
  }
  const written = IpAddress.parse(text.slice(0, text.indexOf('/')));
  if (!written.equals(loose.network)) {
    throw new InvalidConfigError(`${field} ${text} has host bits set: the subnet is ${loose}`, { field, value: text });
  }
  if (loose.network.bits - loose.length < 2) {
    throw new InvalidConfigError(`${field} ${text} is too small to allocate from: a subnet needs at least 2 host bits (/${loose.network.bits - 2} or shorter)`, {
      field,
      value: text,
    });
  }
  return loose;
}

function checkSetsDisjoint(sets: readonly SourcedSet[]): void {
  sets.forEach((set, i) => {
    for (const earlier of sets.slice(0, i)) {
      for (const r of set.ranges) {
        const hit = earlier.ranges.find((e) => overlaps(e.range, r.range));
        if (hit) {
          throw new InvalidConfigError(`range set ${set.path} overlaps range set ${earlier.path}: ${r.path} (${bounds(r.range)}) and ${hit.path} (${bounds(hit.range)})`, {
            field: set.path,
            value: bounds(r.range),
          });
        }
      }
    }
  });
}

function overlaps(a: IpRange, b: IpRange): boolean {
  return a.subnet.family === b.subnet.family && a.rangeStart.value <= b.rangeEnd.value && b.rangeStart.value <= a.rangeEnd.value;
}

function bounds(r: IpRange): string {
  return `${r.rangeStart}-${r.rangeEnd}`;
}

function parseRoutes(raw: unknown): Route[] {
  const list = asArray(raw, 'ipam.routes') ?? [];
  return list.map((item, i) => {
    const path = `ipam.routes[${i}]`;
    const obj = asObject(item, path);
    if (!obj) throw new DecodeError(`${path} must be a route object ({"dst": ...}), not null`, { field: path });
    const dstText = asString(obj['dst'], `${path}.dst`);
    if (dstText === undefined) throw new InvalidConfigError(`${path}.dst is required`, { field: `${path}.dst` });
    let dst: IpPrefix;
    try {
      // Like the reference plugins, host bits in a route destination are masked off.
      dst = IpPrefix.parse(dstText, { strict: false });
    } catch {
      throw new InvalidConfigError(`${path}.dst ${JSON.stringify(dstText)} is not a destination in CIDR notation (such as 0.0.0.0/0)`, { field: `${path}.dst`, value: dstText });
    }
    const gwText = asString(obj['gw'], `${path}.gw`);
    let gw: IpAddress | undefined;
    if (gwText !== undefined) {
      gw = IpAddress.tryParse(gwText);
      if (!gw) throw new InvalidConfigError(`${path}.gw ${JSON.stringify(gwText)} is not an IP address`, { field: `${path}.gw`, value: gwText });
      if (gw.family !== dst.family) {
        throw new InvalidConfigError(`${path}.gw ${gw} is IPv${gw.family} but dst ${dst} is IPv${dst.family}`, { field: `${path}.gw`, value: gwText });
      }
    }
    const extras: { -readonly [K in 'mtu' | 'advmss' | 'priority' | 'table' | 'scope']?: number } = {};
    for (const key of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
      const v = obj[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
        throw new DecodeError(`${path}.${key} must be a non-negative integer, not ${JSON.stringify(v)}`, { field: `${path}.${key}`, value: JSON.stringify(v) });
      }
      extras[key] = v;
    }
    return { dst, ...(gw ? { gw } : {}), ...extras };
  });
}

function parseRequestedIps(input: IpamConfigInput, runtime: Obj): IpAddress[] {
  const found = new Map<string, IpAddress>();
  const add = (text: string, field: string) => {
    const ip = parseRequested(text.trim(), field);
    found.set(ip.toString(), ip);
  };
  const envIp = input.cniArgs?.get('IP');
  if (envIp !== undefined && envIp !== '') for (const part of envIp.split(',')) add(part, 'CNI_ARGS IP');

  const args = asObject(input.args, 'args');
  const cni = args ? asObject(args['cni'], 'args.cni') : undefined;
  const argIps = cni ? asArray(cni['ips'], 'args.cni.ips') : undefined;
  argIps?.forEach((v, i) => add(requireString(v, `args.cni.ips[${i}]`), `args.cni.ips[${i}]`));

  const runtimeIps = asArray(runtime['ips'], 'runtimeConfig.ips');
  runtimeIps?.forEach((v, i) => add(requireString(v, `runtimeConfig.ips[${i}]`), `runtimeConfig.ips[${i}]`));
  return [...found.values()];
}

/** `10.1.0.5` or `10.1.0.5/24` (host-local accepts both; the prefix length is not used). */
function parseRequested(text: string, field: string): IpAddress {
  try {
    return text.includes('/') ? parseIpWithPrefix(text).address : IpAddress.parse(text);
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
    throw new InvalidConfigError(`${field} ${JSON.stringify(text)} is not an IP address`, { field, value: text });
  }
}

function readResolvConf(path: string): Dns {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidConfigError(`ipam.resolvConf ${path} cannot be read: ${(err as Error).message}`, { field: 'ipam.resolvConf', value: path }, { cause: err });
  }
  return parseResolvConf(text);
}

// ---- JSON shape checks: null counts as absent, as in Go's decoder ----

function asObject(v: unknown, field: string): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new DecodeError(`${field} must be an object, not ${describe(v)}`, { field, value: JSON.stringify(v) });
  return v as Obj;
}

function asArray(v: unknown, field: string): readonly unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new DecodeError(`${field} must be a list, not ${describe(v)}`, { field, value: JSON.stringify(v) });
  return v;
}

function asString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new DecodeError(`${field} must be a string, not ${describe(v)}`, { field, value: JSON.stringify(v) });
  return v;
}

function requireString(v: unknown, field: string): string {
  const s = asString(v, field);
  if (s === undefined) throw new DecodeError(`${field} must be a string, not null`, { field });
  return s;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
