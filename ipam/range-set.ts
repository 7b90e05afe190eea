/**
 * Range sets: the unit that yields one address. A set is one or more ranges of one family;
 * allocation walks them in order, wrapping from the last back to the first (host-local's
 * rotation), and never hands out a range's gateway, its subnet's network address or, for IPv4,
 * its broadcast address.
 */
import type { IpAddress } from '../core/ip.js';
import type { IpRange } from '../core/model.js';

/** One or more ranges of one family; an allocation takes exactly one address from a set. */
export type RangeSet = readonly IpRange[];

/** The range of `set` whose [rangeStart, rangeEnd] holds `address`, if any. */
export function rangeFor(set: RangeSet, address: IpAddress): IpRange | undefined {
  return set.find((r) => inRange(r, address.family, address.value));
}

/** Why `address` may never be handed out from `range`, or undefined when it may. */
export function reservedReason(range: IpRange, address: IpAddress): string | undefined {
  const v = address.value;
  if (range.gateway?.value === v && range.gateway.family === address.family) return `the gateway of ${range.subnet}`;
  if (v === range.subnet.first.value) return `the network address of ${range.subnet}`;
  if (range.subnet.family === 4 && v === range.subnet.last.value) return `the broadcast address of ${range.subnet}`;
  return undefined;
}

/** How many addresses the set can hand out (reserved ones excluded). */
export function capacityOf(set: RangeSet): bigint {
  let total = 0n;
  for (const r of set) {
    total += r.rangeEnd.value - r.rangeStart.value + 1n;
    for (const v of reservedValues(r)) if (v >= r.rangeStart.value && v <= r.rangeEnd.value) total--;
  }
  return total;
}

/**
 * The addresses of `set` in allocation order: starting right after `cursor` (the set's last
 * reservation) when the cursor lies in the set, else at the first range's start; through
 * each range's end, on to the next range, wrapping to the first; each address once; reserved
 * addresses left out. Lazy, so the caller pays only for the candidates it tries.
 */
export function* candidates(set: RangeSet, cursor: IpAddress | undefined): Generator<{ range: IpRange; value: bigint }> {
  let first = 0;
  let start = set[0]?.rangeStart.value ?? 0n;
  const at = cursor ? set.findIndex((r) => inRange(r, cursor.family, cursor.value)) : -1;
  if (cursor && at >= 0) {
    const range = set[at] as IpRange;
    if (cursor.value < range.rangeEnd.value) {
      first = at;
      start = cursor.value + 1n;
    } else {
      first = (at + 1) % set.length;
      start = (set[first] as IpRange).rangeStart.value;
    }
  }
  // The first range is visited twice: from `start` to its end now, from its start to just
  // before `start` at the very end.
  for (let step = 0; step <= set.length; step++) {
    const range = set[(first + step) % set.length] as IpRange;
    const from = step === 0 ? start : range.rangeStart.value;
    const to = step === set.length ? start - 1n : range.rangeEnd.value;
    if (step === set.length && start === range.rangeStart.value) break;
    const reserved = reservedValues(range);
    for (let v = from; v <= to; v++) {
      if (!reserved.includes(v)) yield { range, value: v };
    }
  }
}

/** A stable name for a set, used to keep its rotation cursor: its ranges' bounds. */
export function rangeSetId(set: RangeSet): string {
  return set.map((r) => `${r.rangeStart}-${r.rangeEnd}`).join(',');
}

/**
 * The set as a person reads it: the subnet alone when a range spans it by default, else
 * `start-end (subnet)`; ranges joined by commas.
 */
export function describeRangeSet(set: RangeSet): string {
  return set
    .map((r) => {
      const defaultEnd = r.subnet.family === 4 ? r.subnet.last.value - 1n : r.subnet.last.value;
      const whole = r.rangeStart.value === r.subnet.first.value + 1n && r.rangeEnd.value === defaultEnd;
      return whole ? `${r.subnet}` : `${r.rangeStart}-${r.rangeEnd} (${r.subnet})`;
    })
    .join(', ');
}

function inRange(r: IpRange, family: number, value: bigint): boolean {
  return r.subnet.family === family && value >= r.rangeStart.value && value <= r.rangeEnd.value;
}

function reservedValues(r: IpRange): bigint[] {
  const values = [r.subnet.first.value];
  if (r.subnet.family === 4) values.push(r.subnet.last.value);
  if (r.gateway && r.gateway.family === r.subnet.family && !values.includes(r.gateway.value)) values.push(r.gateway.value);
  return values;
}
