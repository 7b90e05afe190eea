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
import * as nft from '../../dataplane/nft-commands.js';
import type { NftCommand, NftElem, NftTableRef, NftValue } from '../../dataplane/nft-commands.js';
import type { NftChain, NftRule, NftSet, NftState } from './nft-state.js';

/** The commands to go from `prev` (undefined: nothing known) to `next`. */
export function diffNftState(prev: NftState | undefined, next: NftState): NftCommand[] {
  const T: NftTableRef = { family: 'inet', table: next.table };
  const head: NftCommand[] = [nft.addTable('inet', next.table)];
  const setElements: NftCommand[] = [];
  const chainRules: NftCommand[] = [];
  const mapElements: NftCommand[] = [];
  const tail: NftCommand[] = [];

  for (const chain of next.chains.values()) {
    const old = prev?.chains.get(chain.name);
    if (old === chain) continue;
    if (!old) head.push(addChain(T, chain));
    else if (sameRules(old.rules, chain.rules)) continue;
    else chainRules.push(nft.flushChain(T, chain.name));
    for (const r of chain.rules) chainRules.push(nft.addRule(T, chain.name, r));
  }

  for (const set of next.sets.values()) {
    const old = prev?.sets.get(set.name);
    if (old === set) continue;
    if (!old) head.push(addSet(T, set));
    const target = set.verdictMap ? mapElements : setElements;
    const removed: NftValue[] = [];
    const added: NftElem[] = [];
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
    if (removed.length) target.push(nft.deleteElements(T, set.name, removed));
    if (added.length) target.push(nft.addElements(T, set.name, added));
  }

  if (prev) {
    const gone = [...prev.chains.values()].filter((c) => !next.chains.has(c.name));
    for (const c of gone) if (c.rules.length) tail.push(nft.flushChain(T, c.name));
    for (const c of gone) tail.push(nft.deleteChain(T, c.name));
    for (const s of prev.sets.values()) {
      if (!next.sets.has(s.name)) tail.push(s.verdictMap ? nft.deleteMap(T, s.name) : nft.deleteSet(T, s.name));
    }
  }
  const body = [...setElements, ...chainRules, ...mapElements, ...tail];
  // Nothing changed: no transaction at all (the table itself is known to exist).
  if (prev && head.length === 1 && body.length === 0) return [];
  return [...head, ...body];
}

/** Commands that remove the table and everything in it; valid whether or not it exists. */
export function deleteNftTable(table: string): NftCommand[] {
  return [nft.addTable('inet', table), nft.deleteTable('inet', table)];
}

function addChain(T: NftTableRef, chain: NftChain): NftCommand {
  return nft.addChain(T, chain.name, chain.base ? { type: 'filter', hook: chain.base.hook, prio: chain.base.prio, policy: 'accept' } : undefined);
}

function addSet(T: NftTableRef, set: NftSet): NftCommand {
  const flags = set.interval ? (['interval'] as const) : undefined;
  return set.verdictMap ? nft.addMap(T, set.name, set.type, 'verdict', flags) : nft.addSet(T, set.name, set.type, flags);
}

/** The key part of an element, as `delete element` wants it (a map element's key alone). */
function keyOf(elem: NftElem, set: NftSet): NftValue {
  return set.verdictMap && isPair(elem) ? elem[0] : (elem as NftValue);
}

const isPair = (elem: NftElem): elem is readonly [NftValue, NftValue] => Array.isArray(elem);

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
export function deleteNftObjects(table: string, objects: { chains: readonly string[]; maps: readonly string[]; sets: readonly string[] }): NftCommand[] {
  const T: NftTableRef = { family: 'inet', table };
  return [
    ...objects.chains.map((name) => nft.flushChain(T, name)),
    ...objects.maps.map((name) => nft.deleteMap(T, name)),
    ...objects.chains.map((name) => nft.deleteChain(T, name)),
    ...objects.sets.map((name) => nft.deleteSet(T, name)),
  ];
}
