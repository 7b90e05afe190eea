/**
 * Two desired states → the libnftables JSON commands that turn the first into the second, as
 * ONE batch (one transaction; nft-copies.ts says what that does and does not make atomic). Only what differs is
 * sent: set elements that came or went, chains whose rules changed (flushed and rewritten
 * whole, so no rule handles are needed), chains and sets that came or went.
 *
 * Order inside the batch (the kernel resolves names as it goes, else ENOENT/EBUSY):
 *   1. table; new chains (empty); new sets and maps
 *   2. elements of plain sets (deletions, then additions)
 *   3. changed and new chains: flush, then their rules (they name sets that now exist)
 *   4. verdict-map elements (they jump to chains that now exist)
 *   5. chains that go: flushed first (their jumps and set references go), then deleted
 *   6. sets and maps that go (nothing refers to them any more)
 */
import type { NftChain, NftRule, NftSet, NftState } from './nft-state.js';

/** The commands to go from `prev` (undefined: nothing known) to `next`. */
export function diffNftState(prev: NftState | undefined, next: NftState): object[] {
  const T = { family: 'inet', table: next.table } as const;
  const head: object[] = [{ add: { table: { family: 'inet', name: next.table } } }];
  const setElements: object[] = [];
  const chainRules: object[] = [];
  const mapElements: object[] = [];
  const tail: object[] = [];

  for (const chain of next.chains.values()) {
    const old = prev?.chains.get(chain.name);
    if (old === chain) continue;
    if (!old) head.push({ add: { chain: chainSpec(T, chain) } });
    else if (sameRules(old.rules, chain.rules)) continue;
    else chainRules.push({ flush: { chain: { ...T, name: chain.name } } });
    for (const r of chain.rules) chainRules.push({ add: { rule: ruleSpec(T, chain.name, r) } });
  }

  for (const set of next.sets.values()) {
    const old = prev?.sets.get(set.name);
    if (old === set) continue;
    if (!old) head.push({ add: { [set.verdictMap ? 'map' : 'set']: setSpec(T, set) } });
    const target = set.verdictMap ? mapElements : setElements;
    const removed: unknown[] = [];
    const added: unknown[] = [];
    if (old) {
      for (const [key, elem] of old.elements) {
        const now = set.elements.get(key);
        if (now === undefined || (set.verdictMap && !sameElement(now, elem))) removed.push(keyOf(elem, set));
      }
    }
    for (const [key, elem] of set.elements) {
      const was = old?.elements.get(key);
      if (was === undefined || (set.verdictMap && !sameElement(was, elem))) added.push(elem);
    }
    if (removed.length) target.push({ delete: { element: { ...T, name: set.name, elem: removed } } });
    if (added.length) target.push({ add: { element: { ...T, name: set.name, elem: added } } });
  }

  if (prev) {
    const gone = [...prev.chains.values()].filter((c) => !next.chains.has(c.name));
    for (const c of gone) if (c.rules.length) tail.push({ flush: { chain: { ...T, name: c.name } } });
    for (const c of gone) tail.push({ delete: { chain: { ...T, name: c.name } } });
    for (const s of prev.sets.values()) {
      if (!next.sets.has(s.name)) tail.push({ delete: { [s.verdictMap ? 'map' : 'set']: { ...T, name: s.name } } });
    }
  }
  const body = [...setElements, ...chainRules, ...mapElements, ...tail];
  // Nothing changed: no transaction at all (the table itself is known to exist).
  if (prev && head.length === 1 && body.length === 0) return [];
  return [...head, ...body];
}

/** Commands that remove the table and everything in it; valid whether or not it exists. */
export function deleteNftTable(table: string): object[] {
  return [{ add: { table: { family: 'inet', name: table } } }, { delete: { table: { family: 'inet', name: table } } }];
}

function chainSpec(T: { family: string; table: string }, chain: NftChain): object {
  if (!chain.base) return { ...T, name: chain.name };
  return { ...T, name: chain.name, type: 'filter', hook: chain.base.hook, prio: chain.base.prio, policy: 'accept' };
}

function ruleSpec(T: { family: string; table: string }, chain: string, r: NftRule): object {
  return r.comment ? { ...T, chain, expr: r.expr, comment: r.comment } : { ...T, chain, expr: r.expr };
}

function setSpec(T: { family: string; table: string }, set: NftSet): object {
  const spec: Record<string, unknown> = { ...T, name: set.name, type: set.type };
  if (set.verdictMap) spec.map = 'verdict';
  if (set.interval) spec.flags = ['interval'];
  return spec;
}

/** The key part of an element, as `delete element` wants it (a map element's key alone). */
function keyOf(elem: unknown, set: NftSet): unknown {
  return set.verdictMap && Array.isArray(elem) ? elem[0] : elem;
}

/** Element values: usually the same object when unchanged; compared as JSON otherwise. */
function sameElement(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function sameRules(a: readonly NftRule[], b: readonly NftRule[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Commands that delete the named objects of a table, whatever refers to what among them:
 * their chains are flushed first (jumps and set references go), then maps (their elements
 * jump to chains), chains and sets. Nothing outside the list may refer to them.
 */
export function deleteNftObjects(table: string, objects: { chains: readonly string[]; maps: readonly string[]; sets: readonly string[] }): object[] {
  const T = { family: 'inet', table } as const;
  return [
    ...objects.chains.map((name) => ({ flush: { chain: { ...T, name } } })),
    ...objects.maps.map((name) => ({ delete: { map: { ...T, name } } })),
    ...objects.chains.map((name) => ({ delete: { chain: { ...T, name } } })),
    ...objects.sets.map((name) => ({ delete: { set: { ...T, name } } })),
  ];
}
