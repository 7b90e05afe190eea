/**
 * The state of one network's addresses: ONE store document per network, read, changed and
 * written back in a single read-modify-write per operation. One document (rather than a file
 * per address, as host-local keeps) is what makes an operation atomic as a whole: a process
 * killed at any point leaves the old document or the new one, never half an allocation, and
 * a dual-stack allocation either takes both addresses or neither.
 *
 * The document indexes allocations both ways so that no operation scans for them:
 *
 *   {
 *     "format": 1,
 *     "addresses": { "10.1.0.2": { "containerId": "c1", "ifname": "eth0", "prefixLength": 24, "gateway": "10.1.0.1" } },
 *     "owners":    { "c1/eth0": ["10.1.0.2", "fd00::2"] },
 *     "cursors":   { "10.1.0.1-10.1.0.254": "10.1.0.2" }
 *   }
 *
 * Addresses are in canonical text (core/ip's formatting), so text equality is address
 * equality. `cursors` holds, per range set, the last address reserved from it (host-local's
 * `last_reserved_ip.N`), keyed by the set's bounds rather than its position in the config.
 */
import { IoError } from '../core/errors.js';
import type { JsonValue } from '../store/store.js';

/** Who holds an address, and how it was handed out. */
export interface Holding {
  readonly containerId: string;
  readonly ifname: string;
  /** The subnet's prefix length at allocation time. */
  readonly prefixLength: number;
  /** The range's gateway at allocation time, canonical text. */
  readonly gateway?: string;
}

const FORMAT = 1;

/** An address together with its holding. */
export interface HeldAddress {
  readonly address: string;
  readonly holding: Holding;
}

export class Pool {
  private constructor(
    private readonly addresses: Map<string, Holding>,
    private readonly owners: Map<string, string[]>,
    private readonly cursors: Map<string, string>,
  ) {}

  /**
   * Reads a stored document (undefined: the network has no state yet). A document that does
   * not hold together is reported as IoError rather than repaired: guessing could hand out an
   * address that is in use.
   */
  static decode(value: JsonValue | undefined, network: string): Pool {
    const pool = new Pool(new Map(), new Map(), new Map());
    if (value === undefined) return pool;
    const damaged = (why: string) => new IoError(`The IPAM state of network ${JSON.stringify(network)} is damaged: ${why}`, { operation: `decode ipam state ${network}` });
    const doc = value as { format?: unknown; addresses?: unknown; owners?: unknown; cursors?: unknown };
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw damaged('it is not an object');
    if (doc.format !== FORMAT) {
      if (typeof doc.format === 'number' && doc.format > FORMAT) {
        throw new IoError(`The IPAM state of network ${JSON.stringify(network)} was written by a newer berth (format ${doc.format}; this one reads ${FORMAT})`);
      }
      throw damaged(`unknown format ${JSON.stringify(doc.format)}`);
    }
    for (const [address, h] of Object.entries(asRecord(doc.addresses, 'addresses', damaged))) {
      const holding = h as Partial<Holding> | null;
      if (
        typeof holding !== 'object' ||
        holding === null ||
        typeof holding.containerId !== 'string' ||
        typeof holding.ifname !== 'string' ||
        typeof holding.prefixLength !== 'number' ||
        (holding.gateway !== undefined && typeof holding.gateway !== 'string')
      ) {
        throw damaged(`the entry of ${address} is malformed`);
      }
      pool.addresses.set(address, holding as Holding);
    }
    let indexed = 0;
    for (const [owner, list] of Object.entries(asRecord(doc.owners, 'owners', damaged))) {
      if (!Array.isArray(list) || list.length === 0) throw damaged(`the owner entry ${owner} is malformed`);
      for (const address of list) {
        const h = typeof address === 'string' ? pool.addresses.get(address) : undefined;
        if (!h || ownerKey(h.containerId, h.ifname) !== owner) throw damaged(`owner ${owner} lists ${String(address)}, which it does not hold`);
      }
      pool.owners.set(owner, list as string[]);
      indexed += list.length;
    }
    if (indexed !== pool.addresses.size) throw damaged('the owner index does not cover every address');
    for (const [id, address] of Object.entries(asRecord(doc.cursors, 'cursors', damaged))) {
      if (typeof address !== 'string') throw damaged(`the cursor of ${id} is malformed`);
      pool.cursors.set(id, address);
    }
    return pool;
  }

  encode(): JsonValue {
    return {
      format: FORMAT,
      addresses: Object.fromEntries(this.addresses) as unknown as JsonValue,
      owners: Object.fromEntries(this.owners),
      cursors: Object.fromEntries(this.cursors),
    };
  }

  /** Number of addresses held. */
  get size(): number {
    return this.addresses.size;
  }

  holder(address: string): Holding | undefined {
    return this.addresses.get(address);
  }

  /** The addresses held by one attachment, in the order they were reserved. */
  heldBy(containerId: string, ifname: string): HeldAddress[] {
    return (this.owners.get(ownerKey(containerId, ifname)) ?? []).map((address) => ({ address, holding: this.addresses.get(address) as Holding }));
  }

  /** Every held address. */
  *entries(): Generator<HeldAddress> {
    for (const [address, holding] of this.addresses) yield { address, holding };
  }

  /** The attachments holding addresses, as [containerId, ifname] pairs. */
  *attachments(): Generator<{ readonly containerId: string; readonly ifname: string }> {
    for (const list of this.owners.values()) {
      const h = this.addresses.get(list[0] as string) as Holding;
      yield { containerId: h.containerId, ifname: h.ifname };
    }
  }

  /** The last address reserved from the range set `setId`. */
  cursor(setId: string): string | undefined {
    return this.cursors.get(setId);
  }

  /** Records the reservation and moves the set's rotation cursor to it. */
  reserve(address: string, holding: Holding, setId: string): void {
    this.addresses.set(address, holding);
    const key = ownerKey(holding.containerId, holding.ifname);
    const list = this.owners.get(key);
    if (list) list.push(address);
    else this.owners.set(key, [address]);
    this.cursors.set(setId, address);
  }

  /** Drops every address of one attachment and returns them. Cursors stay where they are. */
  releaseOwner(containerId: string, ifname: string): HeldAddress[] {
    const released = this.heldBy(containerId, ifname);
    for (const { address } of released) this.addresses.delete(address);
    this.owners.delete(ownerKey(containerId, ifname));
    return released;
  }
}

/** Container ids and interface names never contain `/` (CNI forbids it in both). */
function ownerKey(containerId: string, ifname: string): string {
  return `${containerId}/${ifname}`;
}

function asRecord(v: unknown, what: string, damaged: (why: string) => Error): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw damaged(`"${what}" is not an object`);
  return v as Record<string, unknown>;
}
