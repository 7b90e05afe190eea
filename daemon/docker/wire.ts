/**
 * Reading Docker's plugin request bodies: each field checked for presence and JSON type, with
 * errors that name the call and the field, so a broken request is answered with a message a
 * person can act on rather than with a crash or a silent default.
 */
import { DecodeError, InvalidConfigError } from '../../core/errors.js';
import { IpAddress } from '../../core/ip.js';
import type { PortMapping, Protocol } from '../../core/model.js';

/** A decoded request body: a JSON object (an empty body reads as `{}`). */
export type Body = Readonly<Record<string, unknown>>;

/** Fields of one request, read against the call's name for error messages. */
export class Fields {
  constructor(
    private readonly call: string,
    private readonly body: Body,
  ) {}

  /** A non-empty string field; DecodeError when missing, empty or not a string. */
  required(name: string): string {
    const v = this.body[name];
    if (v === undefined || v === null || v === '') throw new DecodeError(`${this.call}: the request has no ${name}`, { field: name });
    if (typeof v !== 'string') throw new DecodeError(`${this.call}: ${name} must be a string, not ${describe(v)}`, { field: name, value: JSON.stringify(v) });
    return v;
  }

  /** A string field that may be absent or null (then ''). */
  optional(name: string): string {
    const v = this.body[name];
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new DecodeError(`${this.call}: ${name} must be a string, not ${describe(v)}`, { field: name, value: JSON.stringify(v) });
    return v;
  }

  bool(name: string): boolean {
    const v = this.body[name];
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') throw new DecodeError(`${this.call}: ${name} must be true or false, not ${describe(v)}`, { field: name, value: JSON.stringify(v) });
    return v;
  }

  /** An object field (absent or null: empty). */
  object(name: string, from: Body = this.body, path = name): Body {
    const v = from[name];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw new DecodeError(`${this.call}: ${path} must be an object, not ${describe(v)}`, { field: path, value: JSON.stringify(v) });
    return v as Body;
  }

  /** A list field (absent or null: empty). */
  list(name: string, from: Body = this.body, path = name): readonly unknown[] {
    const v = from[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new DecodeError(`${this.call}: ${path} must be a list, not ${describe(v)}`, { field: path, value: JSON.stringify(v) });
    return v;
  }

  /** A map of strings (Docker's `map[string]string`), such as IPAM Options. */
  stringMap(name: string, from: Body = this.body, path = name): Record<string, string> {
    const obj = this.object(name, from, path);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v !== 'string') throw new DecodeError(`${this.call}: ${path}.${k} must be a string, not ${describe(v)}`, { field: `${path}.${k}`, value: JSON.stringify(v) });
      out[k] = v;
    }
    return out;
  }

  /** Throws the standard DecodeError for `path`. */
  invalid(path: string, why: string, value?: unknown): never {
    throw new DecodeError(`${this.call}: ${path} ${why}`, { field: path, ...(value === undefined ? {} : { value: JSON.stringify(value) }) });
  }
}

const PROTOCOLS: Readonly<Record<number, Protocol>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/**
 * `com.docker.network.portmap`: `[{Proto, IP, Port, HostIP, HostPort, HostPortEnd}]` with
 * Proto as an IP protocol number (docker-remote-and-hns.md §1.3).
 */
export function parsePortMap(fields: Fields, raw: unknown, path: string): PortMapping[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) fields.invalid(path, 'must be a list', raw);
  return raw.map((item, i) => {
    const at = `${path}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) fields.invalid(at, 'must be an object', item);
    const m = item as Record<string, unknown>;
    const proto = PROTOCOLS[Number(m['Proto'])];
    if (!proto) throw new InvalidConfigError(`Port mapping ${i + 1}: protocol ${JSON.stringify(m['Proto'])} cannot be published (tcp, udp or sctp only)`, { field: `${at}.Proto` });
    const port = (key: string, min: number) => {
      const v = m[key] ?? 0;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535) fields.invalid(`${at}.${key}`, `must be a port number from ${min} to 65535`, v);
      return v;
    };
    const containerPort = port('Port', 1);
    const hostPort = port('HostPort', 0);
    const hostPortEnd = port('HostPortEnd', 0);
    const hostIpText = typeof m['HostIP'] === 'string' ? m['HostIP'] : '';
    const hostIp = hostIpText === '' ? undefined : IpAddress.tryParse(hostIpText);
    if (hostIpText !== '' && !hostIp) fields.invalid(`${at}.HostIP`, 'is not an IP address', hostIpText);
    return {
      protocol: proto,
      containerPort,
      hostPort,
      ...(hostIp ? { hostIp } : {}),
      ...(hostPortEnd > hostPort && hostPort > 0 ? { hostPortEnd } : {}),
    };
  });
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
