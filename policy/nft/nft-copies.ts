/**
 * The policy table holds its content twice, as copy `a_…` and copy `b_…`; the two base chains
 * (`egress`, `ingress`) dispatch into one of them, and the guard sets are shared.
 *
 * Why two: an nftables transaction is atomic for the rules, but not for one packet's view of
 * rules and sets together. A packet picks the rule generation once, when it enters a base
 * chain, while each set or map lookup reads the generation that is current at that moment. A
 * packet that enters just before a commit can therefore meet the old rules with the new set
 * contents; a new verdict-map element that jumps to a chain still empty in the old rules falls
 * off its end and is accepted by the base chain's policy. So a change never touches what the
 * base chains use: it rewrites the other copy and, in the same transaction, points the base
 * chains at it. A packet on the old rules meets only the old copy, which the transaction
 * leaves alone; a packet on the new rules meets only the new copy.
 */
import { GUARD_SETS } from '../../core/workload.js';
import type { NftElem, NftExpr } from '../../dataplane/nft-commands.js';
import type { NftChain, NftRule, NftSet, NftState } from './nft-state.js';

export type CopyId = 'a' | 'b';

export const otherCopy = (copy: CopyId): CopyId => (copy === 'a' ? 'b' : 'a');

const GUARD_NAMES: ReadonlySet<string> = new Set(Object.values(GUARD_SETS));

/** Whether a set of the table is shared by both copies (the guard sets, owned by the drivers). */
export const isSharedSet = (name: string): boolean => GUARD_NAMES.has(name);

/** The copy an object's name belongs to; undefined for the shared objects and for unknown ones. */
export function copyOfName(name: string): CopyId | undefined {
  return name.startsWith('a_') ? 'a' : name.startsWith('b_') ? 'b' : undefined;
}

/**
 * Renames a rendered state into one copy. Objects are remembered by identity, so a chain or
 * set that the renderer gives back unchanged comes out as the same object, and the diff
 * still skips it without comparing.
 */
export class CopyNamer {
  readonly copy: CopyId;
  readonly #baseChains: ReadonlySet<string>;
  readonly #chains = new WeakMap<NftChain, NftChain>();
  readonly #sets = new WeakMap<NftSet, NftSet>();
  readonly #elements = new WeakMap<object, NftElem>();

  /** `baseChains`: the names of the hooked chains, which both copies share. */
  constructor(copy: CopyId, baseChains: Iterable<string>) {
    this.copy = copy;
    this.#baseChains = new Set(baseChains);
  }

  name(name: string): string {
    return this.#baseChains.has(name) || GUARD_NAMES.has(name) ? name : `${this.copy}_${name}`;
  }

  state(logical: NftState): NftState {
    const chains = new Map<string, NftChain>();
    const sets = new Map<string, NftSet>();
    for (const c of logical.chains.values()) {
      const renamed = this.#chain(c);
      chains.set(renamed.name, renamed);
    }
    for (const s of logical.sets.values()) {
      const renamed = this.#set(s);
      sets.set(renamed.name, renamed);
    }
    return { table: logical.table, chains, sets };
  }

  #chain(chain: NftChain): NftChain {
    let out = this.#chains.get(chain);
    if (!out) {
      const rules = chain.rules.map((r): NftRule => ({ ...r, expr: r.expr.map((e) => this.#refs(e) as NftExpr) }));
      out = { ...chain, name: this.name(chain.name), rules };
      this.#chains.set(chain, out);
    }
    return out;
  }

  #set(set: NftSet): NftSet {
    if (GUARD_NAMES.has(set.name)) return set;
    let out = this.#sets.get(set);
    if (!out) {
      // Plain sets hold values only; a verdict map's elements name chains of this copy.
      const elements = set.verdictMap ? new Map([...set.elements].map(([key, elem]) => [key, this.#element(elem)])) : set.elements;
      out = { ...set, name: this.name(set.name), elements };
      this.#sets.set(set, out);
    }
    return out;
  }

  #element(elem: NftElem): NftElem {
    if (typeof elem !== 'object' || elem === null) return elem;
    let out = this.#elements.get(elem);
    if (out === undefined) {
      out = this.#refs(elem) as NftElem;
      this.#elements.set(elem, out);
    }
    return out;
  }

  /** libnftables JSON with its references renamed: `@set` operands and jump/goto targets. */
  #refs(value: unknown): unknown {
    if (typeof value === 'string') return value.startsWith('@') ? `@${this.name(value.slice(1))}` : value;
    if (Array.isArray(value)) return value.map((v) => this.#refs(v));
    if (typeof value !== 'object' || value === null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = key === 'target' && typeof v === 'string' ? this.name(v) : this.#refs(v);
    return out;
  }
}

/** The part of a state that belongs to its copy (everything but the base chains and guard sets). */
export function copyObjects(state: NftState): NftState {
  return {
    table: state.table,
    chains: new Map([...state.chains].filter(([, c]) => !c.base)),
    sets: new Map([...state.sets].filter(([name]) => !GUARD_NAMES.has(name))),
  };
}

/** The shared part of a state: the base chains and the guard sets. */
export function sharedObjects(state: NftState): NftState {
  return {
    table: state.table,
    chains: new Map([...state.chains].filter(([, c]) => c.base)),
    sets: new Map([...state.sets].filter(([name]) => GUARD_NAMES.has(name))),
  };
}
