/**
 * Who else decides on forwarded packets: the base chains of other owners on the forward hook
 * whose policy is drop, read from listings (pure; no I/O here).
 *
 * A packet is forwarded only if every base chain on the hook accepts it, so an accept in
 * berth's own tables cannot override someone else's drop. What berth can do is ask the owner,
 * in the place the owner documents for its users, to accept berth's traffic:
 *
 * | owner    | recognised by                                   | berth's rule goes to          |
 * | -------- | ----------------------------------------------- | ----------------------------- |
 * | docker   | table `filter` holds chain `DOCKER-USER`        | `DOCKER-USER`                 |
 * | ufw      | table `filter` holds chain `ufw-user-forward`   | `ufw-user-forward`            |
 * | iptables | table `filter`, base chain `FORWARD`            | `FORWARD`                     |
 * | nftables | any other table (an admin's own ruleset)        | the dropping chain            |
 *
 * Inside that chain it goes after the admin's own rules (placement.ts), so they still decide.
 *
 * The same table covers iptables-nft (seen here as nftables tables `ip filter`/`ip6 filter`)
 * and iptables-legacy (read from `iptables-legacy -S`, see iptables-legacy.ts).
 */
import type { NftFamily } from '../../nft-commands.js';

export type FirewallOwner = 'docker' | 'ufw' | 'iptables' | 'nftables';
/** How the owner's rules are stored: nftables (native or iptables-nft) or legacy x_tables. */
export type FirewallBackend = 'nftables' | 'iptables-legacy';

/** A chain berth adds its one accept rule to. */
export interface PassagePlace {
  readonly backend: FirewallBackend;
  /** nftables family (`ip`, `ip6`, `inet`); for iptables-legacy `ip` (iptables) or `ip6` (ip6tables). */
  readonly family: NftFamily;
  readonly table: string;
  readonly chain: string;
}

/** A place as nftables names it: `ip filter FORWARD`. */
export function placeName(p: PassagePlace): string {
  return `${p.family} ${p.table} ${p.chain}`;
}

/** A foreign forward-hook chain that drops what it does not accept, and where berth answers it. */
export interface ForwardBlocker {
  readonly owner: FirewallOwner;
  /** The dropping base chain (`ip filter FORWARD`). */
  readonly chain: PassagePlace;
  /** Its hook priority (0 for iptables' filter table). */
  readonly priority: number;
  /** Where berth's accept goes. */
  readonly place: PassagePlace;
  /**
   * For Docker: the interfaces of Docker's own networks (from `-o IF -j DOCKER` in FORWARD),
   * which berth's traffic must not be let into: Docker protects them with its drop.
   */
  readonly protectedInterfaces: readonly string[];
}

/** Tables berth owns; their chains are never foreign. */
export function isBerthTable(name: string): boolean {
  return name === 'berth' || name.startsWith('berth-');
}

/** Docker's own bridge names when none can be read from its rules (default bridge, user networks). */
export const DOCKER_DEFAULT_BRIDGES = ['docker0', 'br-*'] as const;

interface ChainItem {
  readonly family: NftFamily;
  readonly table: string;
  readonly name: string;
  readonly hook?: string;
  readonly prio?: number;
  readonly policy?: string;
}

type Listing = readonly object[];

function chainsOf(items: Listing): ChainItem[] {
  const out: ChainItem[] = [];
  for (const item of items as { chain?: Partial<ChainItem> }[]) {
    const c = item.chain;
    if (c && typeof c.family === 'string' && typeof c.table === 'string' && typeof c.name === 'string') out.push(c as ChainItem);
  }
  return out;
}

/**
 * The dropping forward chains of other owners in an nftables listing (`nft -j list chains`,
 * or anything that includes the chains). `rulesOf` lists one chain's rules, used for Docker's
 * FORWARD only (to learn Docker's bridges); undefined means not known.
 */
export function nftablesBlockers(chains: Listing, rulesOf: (family: string, table: string, chain: string) => Listing | undefined): ForwardBlocker[] {
  const all = chainsOf(chains);
  const tableHas = (family: string, table: string, name: string) => all.some((c) => c.family === family && c.table === table && c.name === name);
  const blockers: ForwardBlocker[] = [];
  for (const c of all) {
    if (c.hook !== 'forward' || c.policy !== 'drop' || isBerthTable(c.table)) continue;
    const chain: PassagePlace = { backend: 'nftables', family: c.family, table: c.table, chain: c.name };
    const at = (name: string): PassagePlace => ({ ...chain, chain: name });
    const priority = typeof c.prio === 'number' ? c.prio : 0;
    if (tableHas(c.family, c.table, 'DOCKER-USER')) {
      const rules = rulesOf(c.family, c.table, c.name);
      blockers.push({ owner: 'docker', chain, priority, place: at('DOCKER-USER'), protectedInterfaces: dockerBridges(rules ? nftJumpOutputs(rules, 'DOCKER') : []) });
    } else if (tableHas(c.family, c.table, 'ufw-user-forward')) {
      blockers.push({ owner: 'ufw', chain, priority, place: at('ufw-user-forward'), protectedInterfaces: [] });
    } else if (c.table === 'filter' && c.name === 'FORWARD' && (c.family === 'ip' || c.family === 'ip6')) {
      blockers.push({ owner: 'iptables', chain, priority, place: chain, protectedInterfaces: [] });
    } else {
      blockers.push({ owner: 'nftables', chain, priority, place: chain, protectedInterfaces: [] });
    }
  }
  return blockers;
}

/** `oifname X ... jump TARGET` rules of a chain listing: the X's. */
function nftJumpOutputs(rules: Listing, target: string): string[] {
  const out: string[] = [];
  for (const item of rules as { rule?: { expr?: unknown[] } }[]) {
    const expr = item.rule?.expr;
    if (!Array.isArray(expr)) continue;
    const jumps = expr.some((e) => (e as { jump?: { target?: string } }).jump?.target === target);
    if (!jumps) continue;
    for (const e of expr as { match?: { op?: string; left?: { meta?: { key?: string } }; right?: unknown } }[]) {
      const m = e.match;
      if (m && m.op === '==' && m.left?.meta?.key === 'oifname' && typeof m.right === 'string') out.push(m.right);
    }
  }
  return out;
}

/** Docker's bridges as read from its rules, plus its default names, without repeats. */
function dockerBridges(read: readonly string[]): string[] {
  return [...new Set([...read, ...DOCKER_DEFAULT_BRIDGES])];
}

/**
 * The dropping FORWARD chain in the output of `iptables-legacy -S` (or `ip6tables-legacy -S`)
 * of the filter table, if any. `family` is `ip` or `ip6`.
 */
export function legacyBlocker(family: 'ip' | 'ip6', rulesText: string): ForwardBlocker | undefined {
  const lines = rulesText.split('\n').map((l) => l.trim());
  if (!lines.includes('-P FORWARD DROP')) return undefined;
  const chain: PassagePlace = { backend: 'iptables-legacy', family, table: 'filter', chain: 'FORWARD' };
  const at = (name: string): PassagePlace => ({ ...chain, chain: name });
  if (lines.includes('-N DOCKER-USER')) {
    const read = lines.map((l) => /^-A FORWARD -o (\S+) -j DOCKER$/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
    return { owner: 'docker', chain, priority: 0, place: at('DOCKER-USER'), protectedInterfaces: dockerBridges(read.map(legacyWildcard)) };
  }
  if (lines.includes('-N ufw-user-forward')) return { owner: 'ufw', chain, priority: 0, place: at('ufw-user-forward'), protectedInterfaces: [] };
  return { owner: 'iptables', chain, priority: 0, place: chain, protectedInterfaces: [] };
}

/** iptables writes an interface wildcard as `br+`; nftables as `br*`. */
function legacyWildcard(name: string): string {
  return name.endsWith('+') ? `${name.slice(0, -1)}*` : name;
}

/** "Docker's ip filter FORWARD drops forwarded traffic (policy drop)": why berth added a rule. */
export function describeBlocker(b: ForwardBlocker): string {
  const who = { docker: 'Docker', ufw: 'ufw', iptables: 'iptables', nftables: 'an nftables ruleset' }[b.owner];
  const via = b.chain.backend === 'iptables-legacy' ? ' (iptables-legacy)' : '';
  return `${who}'s ${placeName(b.chain)}${via} drops forwarded traffic it does not accept (policy drop)`;
}
