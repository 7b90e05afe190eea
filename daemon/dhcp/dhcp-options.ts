/**
 * The DHCP options berth's client sends and reads (RFC 2132, RFC 3397, RFC 3442), between raw
 * option bytes (dhcp-message.ts) and typed values. Readers answer undefined for a missing or
 * malformed option, so one bad option never costs the whole reply.
 */
import { IpAddress, IpPrefix } from '../../core/ip.js';
import type { Route } from '../../core/model.js';

export const Option = {
  SubnetMask: 1,
  Router: 3,
  DomainServer: 6,
  HostName: 12,
  DomainName: 15,
  RequestedAddress: 50,
  LeaseTime: 51,
  ServerId: 54,
  ParameterRequestList: 55,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  ClientId: 61,
  DomainSearch: 119,
  ClasslessRoutes: 121,
} as const;

/** What the client asks for (option 55). */
export const REQUESTED_PARAMETERS = [
  Option.SubnetMask,
  Option.Router,
  Option.DomainServer,
  Option.DomainName,
  Option.LeaseTime,
  Option.RenewalTime,
  Option.RebindingTime,
  Option.DomainSearch,
  Option.ClasslessRoutes,
];

/** RT_SCOPE_LINK: a classless route whose router is 0.0.0.0 is on the link. */
export const SCOPE_LINK = 253;

export function ipv4(value: Uint8Array | undefined): IpAddress | undefined {
  return value?.length === 4 ? IpAddress.fromBytes(value) : undefined;
}

/** A list of IPv4 addresses (routers, DNS servers): a multiple of 4 bytes, at least one. */
export function ipv4List(value: Uint8Array | undefined): IpAddress[] | undefined {
  if (!value || value.length === 0 || value.length % 4 !== 0) return undefined;
  const out: IpAddress[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(IpAddress.fromBytes(value.subarray(i, i + 4)));
  return out;
}

export function uint32(value: Uint8Array | undefined): number | undefined {
  if (value?.length !== 4) return undefined;
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
}

/** Printable text (domain name); undefined when empty or holding control bytes. */
export function text(value: Uint8Array | undefined): string | undefined {
  if (!value) return undefined;
  // Some servers include a trailing NUL.
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  if (end === 0) return undefined;
  const s = new TextDecoder('utf-8', { fatal: false }).decode(value.subarray(0, end));
  return /^[\x20-\x7e]+$/.test(s) ? s : undefined;
}

/** The subnet mask (option 1) as a prefix length; undefined when the mask is not contiguous. */
export function maskLength(value: Uint8Array | undefined): number | undefined {
  const n = uint32(value);
  if (n === undefined) return undefined;
  const host = ~n >>> 0;
  // Contiguous: the host bits are all ones from the bottom (host + 1 is a power of two).
  if ((host & (host + 1)) !== 0) return undefined;
  return 32 - Math.log2(host + 1);
}

/**
 * Option 121 (RFC 3442): width, the destination's significant bytes, the router. Undefined
 * when malformed (the client then falls back to option 3, as if the option were absent).
 */
export function classlessRoutes(value: Uint8Array | undefined): Route[] | undefined {
  if (!value || value.length === 0) return undefined;
  const routes: Route[] = [];
  let i = 0;
  while (i < value.length) {
    const width = value[i]!;
    if (width > 32) return undefined;
    const significant = Math.ceil(width / 8);
    if (i + 1 + significant + 4 > value.length) return undefined;
    const dst = new Uint8Array(4);
    dst.set(value.subarray(i + 1, i + 1 + significant));
    const router = IpAddress.fromBytes(value.subarray(i + 1 + significant, i + 5 + significant));
    i += 5 + significant;
    const prefix = IpPrefix.of(IpAddress.fromBytes(dst), width);
    routes.push(router.value === 0n ? { dst: prefix, scope: SCOPE_LINK } : { dst: prefix, gw: router });
  }
  return routes;
}

/**
 * Option 119 (RFC 3397): domain names in DNS wire form, compression pointers relative to the
 * option's start. Undefined when malformed.
 */
export function domainSearch(value: Uint8Array | undefined): string[] | undefined {
  if (!value || value.length === 0) return undefined;
  const names: string[] = [];
  let i = 0;
  while (i < value.length) {
    const name = readName(value, i);
    if (!name) return undefined;
    if (name.name) names.push(name.name);
    i = name.next;
  }
  return names.length ? names : undefined;
}

function readName(buf: Uint8Array, start: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let i = start;
  let next: number | undefined;
  // Each jump must go backwards, which also bounds the loop.
  let limit = start;
  for (;;) {
    const len = buf[i];
    if (len === undefined) return undefined;
    if (len === 0) {
      next ??= i + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      const low = buf[i + 1];
      if (low === undefined) return undefined;
      const to = ((len & 0x3f) << 8) | low;
      if (to >= limit) return undefined;
      next ??= i + 2;
      limit = to;
      i = to;
      continue;
    }
    if (len > 63 || i + 1 + len > buf.length) return undefined;
    const label = text(buf.subarray(i + 1, i + 1 + len));
    if (!label) return undefined;
    labels.push(label);
    i += 1 + len;
  }
  return { name: labels.join('.'), next };
}

/** Option 61: type 0 (not a hardware address) and the lease's key (RFC 2132 §9.14), at most 255 bytes. */
export function clientIdOf(key: string): Uint8Array {
  const bytes = new TextEncoder().encode(key).subarray(0, 254);
  return Uint8Array.of(0, ...bytes);
}

/** Option 12: the host name, kept to the characters and length a DNS label allows. */
export function hostNameOf(name: string): Uint8Array | undefined {
  const clean = name
    .replace(/[^A-Za-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  return clean ? new TextEncoder().encode(clean) : undefined;
}

export function uint16Bytes(n: number): Uint8Array {
  return Uint8Array.of((n >> 8) & 0xff, n & 0xff);
}
