/**
 * IP addresses and prefixes as values, with the arithmetic IPAM needs.
 * Addresses are held as bigint so IPv4 and IPv6 share one code path.
 * Text output is canonical (RFC 5952 for IPv6), so it can be compared as strings.
 */

export type IpFamily = 4 | 6;

const V4_BITS = 32;
const V6_BITS = 128;

/** Thrown by the parsers; callers wrap it into an error that names the config field. */
export class IpParseError extends Error {}

export class IpAddress {
  private constructor(
    readonly family: IpFamily,
    readonly value: bigint,
  ) {}

  static fromBigInt(family: IpFamily, value: bigint): IpAddress {
    const max = (1n << BigInt(family === 4 ? V4_BITS : V6_BITS)) - 1n;
    if (value < 0n || value > max) throw new IpParseError(`address value out of range for IPv${family}`);
    return new IpAddress(family, value);
  }

  static fromBytes(bytes: Uint8Array): IpAddress {
    if (bytes.length !== 4 && bytes.length !== 16) throw new IpParseError(`an address has 4 or 16 bytes, not ${bytes.length}`);
    let v = 0n;
    for (const b of bytes) v = (v << 8n) | BigInt(b);
    return new IpAddress(bytes.length === 4 ? 4 : 6, v);
  }

  /** Parses `10.1.2.3` or `fd00::1` (also `::ffff:1.2.3.4`). No prefix, no zone. */
  static parse(text: string): IpAddress {
    if (text.includes(':')) return new IpAddress(6, parseV6(text));
    return new IpAddress(4, parseV4(text));
  }

  static tryParse(text: string): IpAddress | undefined {
    try {
      return IpAddress.parse(text);
    } catch {
      return undefined;
    }
  }

  get bits(): number {
    return this.family === 4 ? V4_BITS : V6_BITS;
  }

  /** Network byte order, 4 or 16 bytes. */
  toBytes(): Uint8Array {
    const n = this.family === 4 ? 4 : 16;
    const out = new Uint8Array(n);
    let v = this.value;
    for (let i = n - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  }

  plus(delta: bigint): IpAddress {
    return IpAddress.fromBigInt(this.family, this.value + delta);
  }

  equals(other: IpAddress): boolean {
    return this.family === other.family && this.value === other.value;
  }

  compare(other: IpAddress): number {
    if (this.family !== other.family) return this.family - other.family;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  toString(): string {
    return this.family === 4 ? formatV4(this.value) : formatV6(this.value);
  }
}

export class IpPrefix {
  private constructor(
    /** The network address (host bits zero). */
    readonly network: IpAddress,
    readonly length: number,
  ) {}

  /**
   * Parses `10.1.0.0/24`. With `strict` (the default) host bits must be zero, as CNI subnets
   * require; without it they are cleared.
   */
  static parse(text: string, opts: { strict?: boolean } = {}): IpPrefix {
    const { address, length } = splitCidr(text);
    const net = maskValue(address, length);
    if ((opts.strict ?? true) && net !== address.value) {
      throw new IpParseError(`${text} has host bits set (the network is ${IpAddress.fromBigInt(address.family, net)}/${length})`);
    }
    return new IpPrefix(IpAddress.fromBigInt(address.family, net), length);
  }

  static of(address: IpAddress, length: number): IpPrefix {
    if (!Number.isInteger(length) || length < 0 || length > address.bits) throw new IpParseError(`prefix length ${length} is out of range`);
    return new IpPrefix(IpAddress.fromBigInt(address.family, maskValue(address, length)), length);
  }

  get family(): IpFamily {
    return this.network.family;
  }

  /** Number of addresses covered. */
  get size(): bigint {
    return 1n << BigInt(this.network.bits - this.length);
  }

  get first(): IpAddress {
    return this.network;
  }

  /** The last address covered (the broadcast address for IPv4). */
  get last(): IpAddress {
    return this.network.plus(this.size - 1n);
  }

  contains(address: IpAddress): boolean {
    return address.family === this.family && address.value >= this.network.value && address.value <= this.last.value;
  }

  overlaps(other: IpPrefix): boolean {
    return other.family === this.family && other.network.value <= this.last.value && this.network.value <= other.last.value;
  }

  /** The netmask as an address (`255.255.255.0`). */
  get mask(): IpAddress {
    const bits = BigInt(this.network.bits);
    const ones = ((1n << BigInt(this.length)) - 1n) << (bits - BigInt(this.length));
    return IpAddress.fromBigInt(this.family, ones);
  }

  toString(): string {
    return `${this.network}/${this.length}`;
  }
}

/** An address with its prefix length, as put on an interface: `10.22.0.7/24`. */
export interface IpWithPrefix {
  readonly address: IpAddress;
  readonly length: number;
}

export function parseIpWithPrefix(text: string): IpWithPrefix {
  return splitCidr(text);
}

export function formatIpWithPrefix(v: IpWithPrefix): string {
  return `${v.address}/${v.length}`;
}

/** The prefix an interface address belongs to (`10.22.0.7/24` → `10.22.0.0/24`). */
export function prefixOf(v: IpWithPrefix): IpPrefix {
  return IpPrefix.of(v.address, v.length);
}

function splitCidr(text: string): { address: IpAddress; length: number } {
  const slash = text.indexOf('/');
  if (slash < 0) throw new IpParseError(`${JSON.stringify(text)} has no prefix length`);
  const address = IpAddress.parse(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) throw new IpParseError(`${JSON.stringify(text)} has an invalid prefix length`);
  const length = Number(lenText);
  if (length > address.bits) throw new IpParseError(`${JSON.stringify(text)}: prefix length ${length} exceeds ${address.bits}`);
  return { address, length };
}

function maskValue(address: IpAddress, length: number): bigint {
  const host = BigInt(address.bits - length);
  return (address.value >> host) << host;
}

function parseV4(text: string): bigint {
  const parts = text.split('.');
  if (parts.length !== 4) throw new IpParseError(`${JSON.stringify(text)} is not an IPv4 address`);
  let v = 0n;
  for (const p of parts) {
    // Leading zeros are refused: they are ambiguous (octal in some parsers).
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) throw new IpParseError(`${JSON.stringify(text)} is not an IPv4 address`);
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseV6(text: string): bigint {
  const bad = () => new IpParseError(`${JSON.stringify(text)} is not an IPv6 address`);
  let head = text;
  let tailV4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) throw bad();
  const toGroups = (s: string): number[] => {
    if (s === '') return [];
    return s.split(':').map((g) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw bad();
      return parseInt(g, 16);
    });
  };
  const left = toGroups(halves[0] ?? '');
  const right = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  let groups: number[];
  if (halves.length === 2) {
    const fill = 8 - left.length - right.length;
    if (fill < 1) throw bad();
    groups = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) throw bad();
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  if (tailV4 !== undefined) v = (v & ~0xffffffffn) | tailV4;
  return v;
}

function formatV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String(Number((v >> s) & 0xffn))).join('.');
}

function formatV6(v: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run of two or more zero groups (the first on a tie).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
