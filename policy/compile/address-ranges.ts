/**
 * Address range arithmetic for ipBlock: a CIDR minus its `except` prefixes becomes disjoint
 * ranges (never a higher-priority deny, which would break additivity between peers), and
 * ranges go back to CIDRs for backends that only take prefixes (HNS).
 */
import { IpAddress, IpPrefix } from '../../core/ip.js';
import type { AddressRange } from './ir.js';

/** The range a prefix covers. */
export function prefixRange(p: IpPrefix): AddressRange {
  return { family: p.family, first: p.first.value, last: p.last.value };
}

/** `ranges` minus `cut`: sorted, disjoint input gives sorted, disjoint output. */
export function subtractRange(ranges: readonly AddressRange[], cut: AddressRange): AddressRange[] {
  const out: AddressRange[] = [];
  for (const r of ranges) {
    if (r.family !== cut.family || cut.last < r.first || cut.first > r.last) {
      out.push(r);
      continue;
    }
    if (cut.first > r.first) out.push({ family: r.family, first: r.first, last: cut.first - 1n });
    if (cut.last < r.last) out.push({ family: r.family, first: cut.last + 1n, last: r.last });
  }
  return out;
}

/** `cidr` minus every `except` prefix (both as written; host bits are cleared). */
export function ipBlockRanges(cidr: string, except: readonly string[]): AddressRange[] {
  let ranges = [prefixRange(IpPrefix.parse(cidr, { strict: false }))];
  for (const e of except) ranges = subtractRange(ranges, prefixRange(IpPrefix.parse(e, { strict: false })));
  return ranges;
}

/** Whether an address falls in one of the ranges. */
export function rangesContain(ranges: readonly AddressRange[], address: IpAddress): boolean {
  return ranges.some((r) => r.family === address.family && address.value >= r.first && address.value <= r.last);
}

/** The fewest prefixes that cover exactly one range (`10.0.0.0-10.0.0.5` → /30 + /31). */
export function rangeToPrefixes(range: AddressRange): IpPrefix[] {
  const bits = range.family === 4 ? 32 : 128;
  const out: IpPrefix[] = [];
  let first = range.first;
  while (first <= range.last) {
    // The largest aligned block starting at `first` that does not pass `last`.
    let size = 0;
    while (size < bits) {
      const next = size + 1;
      const block = 1n << BigInt(next);
      if (first % block !== 0n || first + block - 1n > range.last) break;
      size = next;
    }
    out.push(IpPrefix.of(IpAddress.fromBigInt(range.family, first), bits - size));
    first += 1n << BigInt(size);
  }
  return out;
}

/** A range as text: `10.0.0.0/24` when it is one prefix, `10.0.0.0-10.0.0.5` otherwise. */
export function formatRange(range: AddressRange): string {
  const prefixes = rangeToPrefixes(range);
  if (prefixes.length === 1) return prefixes[0]!.toString();
  return `${IpAddress.fromBigInt(range.family, range.first)}-${IpAddress.fromBigInt(range.family, range.last)}`;
}
