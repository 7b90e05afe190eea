/**
 * CNI results: one internal shape (the 1.1.0 wire form) and its conversion to and from
 * every older version a runtime may ask for. Field names are the spec's.
 */
import { DecodeError } from '../core/errors.js';
import { compareVersions } from './version.js';

export interface ResultInterface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface ResultIp {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface ResultRoute {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface ResultDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** A result in the current (1.1.0) shape, without `cniVersion`. */
export interface Result {
  interfaces?: ResultInterface[];
  ips?: ResultIp[];
  routes?: ResultRoute[];
  dns?: ResultDns;
}

/** Renders `result` as the wire object of `version`. */
export function renderResult(result: Result, version: string): Record<string, unknown> {
  if (compareVersions(version, '0.3.0') < 0) return renderLegacy(result, version);
  const modern = compareVersions(version, '1.0.0') >= 0;
  const v11 = compareVersions(version, '1.1.0') >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces?.length) {
    out.interfaces = result.interfaces.map((i) => {
      const o: ResultInterface = { name: i.name };
      if (i.mac) o.mac = i.mac;
      if (v11 && i.mtu) o.mtu = i.mtu;
      if (i.sandbox) o.sandbox = i.sandbox;
      if (v11 && i.socketPath) o.socketPath = i.socketPath;
      if (v11 && i.pciID) o.pciID = i.pciID;
      return o;
    });
  }
  if (result.ips?.length) {
    out.ips = result.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      // 0.3.x and 0.4.0 carried the family explicitly; 1.0.0 dropped it.
      if (!modern) o.version = ip.address.includes(':') ? '6' : '4';
      if (ip.interface !== undefined) o.interface = ip.interface;
      o.address = ip.address;
      if (ip.gateway) o.gateway = ip.gateway;
      return o;
    });
  }
  if (result.routes?.length) {
    out.routes = result.routes.map((r) => {
      const o: ResultRoute = { dst: r.dst };
      if (r.gw) o.gw = r.gw;
      if (v11) {
        if (r.mtu !== undefined) o.mtu = r.mtu;
        if (r.advmss !== undefined) o.advmss = r.advmss;
        if (r.priority !== undefined) o.priority = r.priority;
        if (r.table !== undefined) o.table = r.table;
        if (r.scope !== undefined) o.scope = r.scope;
      }
      return o;
    });
  }
  if (result.dns && hasDns(result.dns)) out.dns = result.dns;
  return out;
}

/** 0.1.0 / 0.2.0: `ip4` and `ip6` objects, one address each. */
function renderLegacy(result: Result, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  for (const fam of ['4', '6'] as const) {
    const ip = result.ips?.find((i) => (i.address.includes(':') ? '6' : '4') === fam);
    if (!ip) continue;
    const routes = (result.routes ?? []).filter((r) => (r.dst.includes(':') ? '6' : '4') === fam).map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
    const o: Record<string, unknown> = { ip: ip.address };
    if (ip.gateway) o.gateway = ip.gateway;
    if (routes.length) o.routes = routes;
    out[`ip${fam}`] = o;
  }
  if (result.dns && hasDns(result.dns)) out.dns = result.dns;
  return out;
}

function hasDns(d: ResultDns): boolean {
  return Boolean(d.nameservers?.length || d.domain || d.search?.length || d.options?.length);
}

/**
 * Reads a result of any version (a `prevResult`, or a delegate's output) into the
 * internal shape. Throws DecodeError naming the field on a malformed one.
 */
export function parseResult(raw: unknown, field = 'prevResult'): Result {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new DecodeError(`${field} must be an object`, { field });
  const r = raw as Record<string, unknown>;
  const version = typeof r.cniVersion === 'string' && r.cniVersion !== '' ? r.cniVersion : '0.1.0';
  const out: Result = {};
  if (compareVersions(version, '0.3.0') < 0) {
    const ips: ResultIp[] = [];
    const routes: ResultRoute[] = [];
    for (const fam of ['ip4', 'ip6']) {
      const o = r[fam] as Record<string, unknown> | undefined;
      if (!o) continue;
      ips.push(withOptional({ address: str(o.ip, `${field}.${fam}.ip`) }, 'gateway', optStr(o.gateway, `${field}.${fam}.gateway`)));
      for (const [i, rt] of arr(o.routes, `${field}.${fam}.routes`).entries()) routes.push(parseRoute(rt, `${field}.${fam}.routes[${i}]`));
    }
    if (ips.length) out.ips = ips;
    if (routes.length) out.routes = routes;
  } else {
    const ifs = arr(r.interfaces, `${field}.interfaces`).map((x, i) => parseInterface(x, `${field}.interfaces[${i}]`));
    if (ifs.length) out.interfaces = ifs;
    const ips = arr(r.ips, `${field}.ips`).map((x, i) => parseIp(x, `${field}.ips[${i}]`));
    if (ips.length) out.ips = ips;
    const routes = arr(r.routes, `${field}.routes`).map((x, i) => parseRoute(x, `${field}.routes[${i}]`));
    if (routes.length) out.routes = routes;
  }
  if (r.dns !== undefined) out.dns = parseDns(r.dns, `${field}.dns`);
  return out;
}

function parseInterface(x: unknown, f: string): ResultInterface {
  const o = obj(x, f);
  const i: ResultInterface = { name: str(o.name, `${f}.name`) };
  const mac = optStr(o.mac, `${f}.mac`);
  if (mac) i.mac = mac;
  const sandbox = optStr(o.sandbox, `${f}.sandbox`);
  if (sandbox) i.sandbox = sandbox;
  if (typeof o.mtu === 'number') i.mtu = o.mtu;
  const sp = optStr(o.socketPath, `${f}.socketPath`);
  if (sp) i.socketPath = sp;
  const pci = optStr(o.pciID, `${f}.pciID`);
  if (pci) i.pciID = pci;
  return i;
}

function parseIp(x: unknown, f: string): ResultIp {
  const o = obj(x, f);
  const ip: ResultIp = withOptional({ address: str(o.address, `${f}.address`) }, 'gateway', optStr(o.gateway, `${f}.gateway`));
  if (o.interface !== undefined) {
    if (typeof o.interface !== 'number' || !Number.isInteger(o.interface) || o.interface < 0) throw new DecodeError(`${f}.interface must be a non-negative integer`, { field: `${f}.interface` });
    ip.interface = o.interface;
  }
  return ip;
}

function parseRoute(x: unknown, f: string): ResultRoute {
  const o = obj(x, f);
  const r: ResultRoute = withOptional({ dst: str(o.dst, `${f}.dst`) }, 'gw', optStr(o.gw, `${f}.gw`));
  for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new DecodeError(`${f}.${k} must be a non-negative integer`, { field: `${f}.${k}` });
    r[k] = v;
  }
  return r;
}

export function parseDns(x: unknown, f: string): ResultDns {
  const o = obj(x, f);
  const d: ResultDns = {};
  const ns = strArr(o.nameservers, `${f}.nameservers`);
  if (ns.length) d.nameservers = ns;
  const domain = optStr(o.domain, `${f}.domain`);
  if (domain) d.domain = domain;
  const search = strArr(o.search, `${f}.search`);
  if (search.length) d.search = search;
  const options = strArr(o.options, `${f}.options`);
  if (options.length) d.options = options;
  return d;
}

function withOptional<T extends object, K extends string>(base: T, key: K, v: string | undefined): T & Partial<Record<K, string>> {
  if (v) (base as Record<string, unknown>)[key] = v;
  return base as T & Partial<Record<K, string>>;
}

function obj(x: unknown, f: string): Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) throw new DecodeError(`${f} must be an object`, { field: f });
  return x as Record<string, unknown>;
}

function arr(x: unknown, f: string): unknown[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) throw new DecodeError(`${f} must be an array`, { field: f });
  return x;
}

function str(x: unknown, f: string): string {
  if (typeof x !== 'string' || x === '') throw new DecodeError(`${f} must be a non-empty string`, { field: f });
  return x;
}

function optStr(x: unknown, f: string): string | undefined {
  if (x === undefined || x === null || x === '') return undefined;
  if (typeof x !== 'string') throw new DecodeError(`${f} must be a string`, { field: f });
  return x;
}

function strArr(x: unknown, f: string): string[] {
  return arr(x, f).map((v, i) => str(v, `${f}[${i}]`));
}
