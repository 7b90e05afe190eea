/**
 * The per-node blocks of an overlay's cluster subnet: every /subnetLen inside it, numbered from
 * the lowest. Node leases hand these out; this module only does the address math.
 */
import { InvalidConfigError } from '../../core/errors.js';
import { type IpAddress, IpPrefix } from '../../core/ip.js';

export class SubnetPool {
  /** Host bits of one block: block `i` starts at `subnet.first + (i << blockBits)`. */
  private readonly blockBits: bigint;

  /** Throws InvalidConfigError when `subnetLen` does not cut `subnet` into usable blocks. */
  constructor(
    readonly subnet: IpPrefix,
    readonly subnetLen: number,
  ) {
    const bits = subnet.network.bits;
    // A block needs the VTEP's overlay address, the gateway and at least one workload: /30 at
    // most for IPv4 (as flannel), /126 for IPv6.
    if (!Number.isInteger(subnetLen) || subnetLen < subnet.length || subnetLen > bits - 2) {
      throw new InvalidConfigError(`subnetLen ${subnetLen} does not fit ${subnet}: it must be between ${subnet.length} and ${bits - 2}`, {
        field: 'subnetLen',
        value: String(subnetLen),
      });
    }
    this.blockBits = BigInt(bits - subnetLen);
  }

  /** Number of blocks. */
  get count(): bigint {
    return 1n << BigInt(this.subnetLen - this.subnet.length);
  }

  /** Block number `index` (0 is the lowest). */
  at(index: bigint): IpPrefix {
    return IpPrefix.of(this.subnet.first.plus(index << this.blockBits), this.subnetLen);
  }

  /** Whether `prefix` is exactly one of the blocks (same family, inside, right length). */
  holds(prefix: IpPrefix): boolean {
    return prefix.length === this.subnetLen && this.subnet.contains(prefix.network);
  }

  /**
   * The lowest block that overlaps none of `taken`, or undefined when every block is taken.
   * `taken` may hold prefixes of any length (leases cut with an earlier subnetLen) or outside
   * the pool; they block whatever blocks they overlap.
   */
  lowestFree(taken: Iterable<IpPrefix>): IpPrefix | undefined {
    const spans: [bigint, bigint][] = [];
    for (const p of taken) {
      if (!p.overlaps(this.subnet)) continue;
      spans.push([this.indexOf(maxAddress(p.first, this.subnet.first)), this.indexOf(minAddress(p.last, this.subnet.last))]);
    }
    spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let candidate = 0n;
    for (const [start, end] of spans) {
      if (start > candidate) break;
      if (end >= candidate) candidate = end + 1n;
    }
    return candidate < this.count ? this.at(candidate) : undefined;
  }

  private indexOf(address: IpAddress): bigint {
    return (address.value - this.subnet.first.value) >> this.blockBits;
  }
}

function maxAddress(a: IpAddress, b: IpAddress): IpAddress {
  return a.compare(b) >= 0 ? a : b;
}

function minAddress(a: IpAddress, b: IpAddress): IpAddress {
  return a.compare(b) <= 0 ? a : b;
}
