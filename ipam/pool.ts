/**
 * The state of one network's addresses: ONE store document per network, read, changed and
 * written back in a single read-modify-write per operation. One document (rather than a file
 * per address, as host-local keeps) is what makes an operation atomic as a whole: a process
 * killed at any point leaves the old document or the new one, never half an allocation, and
 * a dual-stack allocation either takes both addresses or neither.
 *
 *   {
 *     "format": 1,
 *     "holdings": ["10.1.0.2 c1 eth0 24 10.1.0.1", "10.1.0.3 c2 eth0 24 10.1.0.1", "fd00::2 c1 eth0 64 fd00::1"],
 *     "cursors": { "10.1.0.1-10.1.0.254": "10.1.0.3" }
 *   }
 *
 * A holding is one line, `address containerId ifname prefixLength [gateway]` (CNI forbids
 * whitespace in container ids and interface names), and the list is kept sorted by the text of
 * the line. Because a space sorts before every character of an address, that is also order by
 * address, so an address is found by binary search without parsing anything. An owner's
 * addresses are found by one pass over the in-memory list comparing one substring per line.
 * This shape is chosen for cost: the document is parsed and written on every operation, and
 * V8 parses an array of short strings several times faster than an object with one property
 * per address (measured in ipam/README.md).
 *
 * `cursors` holds, per range set, the last address reserved from it (host-local's
 * `last_reserved_ip.N`), keyed by the set's bounds rather than its position in the config.
 * Addresses are always in core/ip's canonical text, so text equality is address equality.
 */
import { BerthError, IoError } from '../core/errors.js';
import type { JsonValue } from '../store/store.js';

/** Who holds an address, and how it was handed out. */
export interface Holding {
  /** Canonical text of the address. */
  readonly address: string;
  readonly containerId: string;
  readonly ifname: string;
  /** The subnet's prefix length at allocation time. */
  readonly prefixLength: number;
  /** The range's gateway at allocation time, canonical text. */
  readonly gateway?: string;
}

const FORMAT = 1;

export class Pool {
  private constructor(
    /** Holding lines, sorted (see the file comment). */
    private readonly lines: string[],
    private readonly cursors: Map<string, string>,
  ) {}

  /**
   * Reads a stored document (undefined: the network has no state yet). A document that does
   * not hold together is reported as IoError rather than repaired: guessing could hand out an
   * address that is in use.
   */
  static decode(value: JsonValue | undefined, network: string): Pool {
    if (value === undefined) return new Pool([], new Map());
    const damaged = (why: string) => new IoError(`The IPAM state of network ${JSON.stringify(network)} is damaged: ${why}`, { operation: `decode ipam state ${network}` });
    const doc = value as { format?: unknown; holdings?: unknown; cursors?: unknown };
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw damaged('it is not an object');
    if (doc.format !== FORMAT) {
      if (typeof doc.format === 'number' && doc.format > FORMAT) {
        throw new IoError(`The IPAM state of network ${JSON.stringify(network)} was written by a newer berth (format ${doc.format}; this one reads ${FORMAT})`);
      }
      throw damaged(`unknown format ${JSON.stringify(doc.format)}`);
    }
    if (!Array.isArray(doc.holdings)) throw damaged('"holdings" is not a list');
    const lines = doc.holdings as unknown[];
    // Binary search relies on order and uniqueness: check both in one cheap pass. The shape
    // of a line is checked when it is parsed (only the lines an operation touches).
    let previous = '';
    let previousKey = '\u0000';
    for (const line of lines) {
      const sp = typeof line === 'string' ? line.indexOf(' ') : -1;
      if (sp <= 0) throw damaged(`the holding ${JSON.stringify(line)} is malformed`);
      const text = line as string;
      if (text.startsWith(previousKey)) throw damaged(`${previousKey.trim()} is held twice`);
      if (text <= previous) throw damaged('the holdings are not in order');
      previous = text;
      previousKey = text.slice(0, sp + 1);
    }
    const cursors = new Map<string, string>();
    const rawCursors = doc.cursors;
    if (typeof rawCursors !== 'object' || rawCursors === null || Array.isArray(rawCursors)) throw damaged('"cursors" is not an object');
    for (const [id, address] of Object.entries(rawCursors)) {
      if (typeof address !== 'string') throw damaged(`the cursor of ${id} is malformed`);
      cursors.set(id, address);
    }
    // A copy: the stored value must not change under the store (an update may be retried).
    return new Pool((lines as string[]).slice(), cursors);
  }

  encode(): JsonValue {
    return { format: FORMAT, holdings: this.lines, cursors: Object.fromEntries(this.cursors) };
  }

  /** Number of addresses held. */
  get size(): number {
    return this.lines.length;
  }

  /** Who holds `address` (canonical text), if anyone. */
  holder(address: string): Holding | undefined {
    const at = this.search(address);
    return at.found ? parseLine(this.lines[at.index] as string) : undefined;
  }

  /** The addresses held by one attachment. */
  heldBy(containerId: string, ifname: string): Holding[] {
    const owner = ` ${containerId} ${ifname} `;
    const found: Holding[] = [];
    for (const line of this.lines) {
      if (line.startsWith(owner, line.indexOf(' '))) found.push(parseLine(line));
    }
    return found;
  }

  /** Every holding, in address-text order. */
  *holdings(): Generator<Holding> {
    for (const line of this.lines) yield parseLine(line);
  }

  /** The last address reserved from the range set `setId`. */
  cursor(setId: string): string | undefined {
    return this.cursors.get(setId);
  }

  /**
   * Records a reservation of a free address and moves the set's rotation cursor to it.
   * The caller has checked that the address is free.
   */
  reserve(holding: Holding, setId: string): void {
    const at = this.search(holding.address);
    if (at.found) throw new BerthError('internal', `Cannot reserve ${holding.address}: it is already held`);
    this.lines.splice(at.index, 0, formatLine(holding));
    this.cursors.set(setId, holding.address);
  }

  /** Drops every address of one attachment and returns them. Cursors stay where they are. */
  releaseOwner(containerId: string, ifname: string): Holding[] {
    const released = this.heldBy(containerId, ifname);
    for (const h of released) this.lines.splice(this.search(h.address).index, 1);
    return released;
  }

  /** Drops every holding for which `keep` is false, in one pass; returns what it dropped. */
  releaseUnless(keep: (h: Holding) => boolean): Holding[] {
    const released: Holding[] = [];
    let w = 0;
    for (const line of this.lines) {
      const h = parseLine(line);
      if (keep(h)) this.lines[w++] = line;
      else released.push(h);
    }
    this.lines.length = w;
    return released;
  }

  /** Binary search for the line of `address`, or the index where it would go. */
  private search(address: string): { found: boolean; index: number } {
    const key = `${address} `;
    let lo = 0;
    let hi = this.lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const line = this.lines[mid] as string;
      if (line.startsWith(key)) return { found: true, index: mid };
      if (line < key) lo = mid + 1;
      else hi = mid;
    }
    return { found: false, index: lo };
  }
}

function formatLine(h: Holding): string {
  const base = `${h.address} ${h.containerId} ${h.ifname} ${h.prefixLength}`;
  return h.gateway === undefined ? base : `${base} ${h.gateway}`;
}

function parseLine(line: string): Holding {
  const [address = '', containerId = '', ifname = '', prefix = '', gateway, ...rest] = line.split(' ');
  if (address === '' || containerId === '' || ifname === '' || !/^\d{1,3}$/.test(prefix) || gateway === '' || rest.length > 0) {
    throw new IoError(`The IPAM state is damaged: the holding ${JSON.stringify(line)} is malformed`);
  }
  return { address, containerId, ifname, prefixLength: Number(prefix), ...(gateway !== undefined ? { gateway } : {}) };
}
