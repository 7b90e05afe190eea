/**
 * What the kernel's policy table holds, read once when a process starts applying (it knows
 * nothing of what an earlier process wrote): the names of its objects and the copy that the
 * base chains dispatch into (nft-copies.ts).
 */
import { NotFoundError } from '../../core/errors.js';
import type { Nftables } from '../../dataplane/linux/ports.js';
import { copyOfName, type CopyId } from './nft-copies.js';

export interface TableContent {
  /** Chains by name; `base` when hooked. */
  readonly chains: ReadonlyMap<string, { readonly base: boolean }>;
  readonly sets: readonly string[];
  readonly maps: readonly string[];
  /** The copy the base chains' rules refer to; undefined when none (or a layout without copies). */
  readonly active: CopyId | undefined;
}

/** The table's content, or undefined when there is no such table. Other failures throw. */
export function readPolicyTable(nft: Nftables, table: string): TableContent | undefined {
  let listing: object[];
  try {
    listing = nft.list(`table inet ${table}`);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const chains = new Map<string, { base: boolean }>();
  const sets: string[] = [];
  const maps: string[] = [];
  const baseRules: unknown[] = [];
  for (const item of listing as Record<string, { name?: string; hook?: string; chain?: string; expr?: unknown }>[]) {
    if (item.chain?.name) chains.set(item.chain.name, { base: item.chain.hook !== undefined });
    else if (item.set?.name) sets.push(item.set.name);
    else if (item.map?.name) maps.push(item.map.name);
    else if (item.rule) baseRules.push(item.rule);
  }
  let active: CopyId | undefined;
  for (const rule of baseRules as { chain: string; expr: unknown }[]) {
    if (!chains.get(rule.chain)?.base) continue;
    for (const ref of JSON.stringify(rule.expr).matchAll(/"@([^"]+)"/g)) active ??= copyOfName(ref[1]!);
  }
  return { chains, sets, maps, active };
}
