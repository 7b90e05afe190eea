/**
 * The desired content of berth's policy table as plain data: chains with their rules, sets and
 * verdict maps with their elements, each keyed by name. Rendering produces one; the diff
 * turns two of them into the libnftables commands that change the first into the second.
 *
 * Objects are immutable and shared between renders when they did not change, so that the diff
 * can skip them by identity before comparing contents.
 */

import type { NftDataType, NftElem, NftExpr } from '../../dataplane/nft-commands.js';

/** The table berth owns for policy (core/workload.ts, shared with the drivers' guard). */
export { POLICY_TABLE } from '../../core/workload.js';

/** A base chain's hook (`type filter hook forward priority N; policy accept`). */
export interface BaseChainHook {
  readonly hook: 'forward';
  readonly prio: number;
}

export interface NftRule {
  /** libnftables JSON expressions, verdict last. */
  readonly expr: readonly NftExpr[];
  readonly comment?: string;
}

export interface NftChain {
  readonly name: string;
  readonly base?: BaseChainHook;
  readonly rules: readonly NftRule[];
}

export interface NftSet {
  readonly name: string;
  /** A verdict map when set; a plain set otherwise. */
  readonly verdictMap: boolean;
  /** nft type name, or names for a concatenation (`["ipv4_addr", "inet_proto", "inet_service"]`). */
  readonly type: NftDataType | readonly NftDataType[];
  readonly interval: boolean;
  /** Element key (canonical text) → element JSON (for a map: `[key, verdict]`). */
  readonly elements: ReadonlyMap<string, NftElem>;
}

export interface NftState {
  readonly table: string;
  readonly chains: ReadonlyMap<string, NftChain>;
  readonly sets: ReadonlyMap<string, NftSet>;
}

/** How many kernel objects a state holds: chains, rules, sets and maps, elements. */
export function countObjects(state: NftState): { chains: number; rules: number; sets: number; elements: number; total: number } {
  let rules = 0;
  let elements = 0;
  for (const c of state.chains.values()) rules += c.rules.length;
  for (const s of state.sets.values()) elements += s.elements.size;
  const chains = state.chains.size;
  const sets = state.sets.size;
  return { chains, rules, sets, elements, total: chains + rules + sets + elements };
}
