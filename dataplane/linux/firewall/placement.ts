/**
 * Where berth's accept goes inside an owner's chain (pure; reads listings, no I/O).
 *
 * The owner's user chain is where the admin's own rules live (Docker documents
 * `iptables -I DOCKER-USER -i ext_if -j DROP` to close published ports to the outside), so
 * berth's accept must not jump ahead of them: it goes after the admin's rules and before the
 * chain's trailing catch-all (Docker's final `-j RETURN`, a closing `-j DROP`/`REJECT`, with
 * any unconditional LOG or counter just before it), or at the end when there is none. Rules an
 * admin adds later with `-I` land above berth's, which is what they mean; rules added with
 * `-A` land after Docker's RETURN and never run, with or without berth.
 */

/** Verdicts that end the chain for every packet reaching them. */
const NFT_TERMINAL = new Set(['accept', 'drop', 'reject', 'return', 'goto']);
/** Statements that decide nothing: an unconditional rule of only these falls through. */
const NFT_NEUTRAL = new Set(['counter', 'log']);
const XT_TERMINAL = new Set(['ACCEPT', 'DROP', 'REJECT', 'RETURN']);

type RuleKind = 'catch-all' | 'neutral' | 'other';

/** A rule of an nftables listing: a catch-all (no match, a terminal verdict), neutral (no match, no verdict), or anything else. */
function nftRuleKind(expr: readonly Record<string, unknown>[]): RuleKind {
  let terminal = false;
  for (const e of expr) {
    const [key] = Object.keys(e);
    if (key === undefined) continue;
    if (NFT_NEUTRAL.has(key)) continue;
    if (NFT_TERMINAL.has(key)) {
      terminal = true;
      continue;
    }
    // iptables-nft's untranslated targets show as `xt` statements; matches make a rule conditional.
    const xt = e.xt as { type?: string; name?: string } | undefined;
    if (key === 'xt' && xt?.type === 'target') {
      if (xt.name === 'LOG') continue;
      if (xt.name && XT_TERMINAL.has(xt.name)) {
        terminal = true;
        continue;
      }
    }
    return 'other';
  }
  return terminal ? 'catch-all' : 'neutral';
}

/** Index of the first rule of the trailing catch-all block (neutral rules just before the first catch-all included), or -1. */
function catchAllStart(kinds: readonly RuleKind[]): number {
  const first = kinds.indexOf('catch-all');
  if (first < 0) return -1;
  let start = first;
  while (start > 0 && kinds[start - 1] === 'neutral') start--;
  return start;
}

/** Whether a rule's comment marks it as berth's own (every rule berth puts in another owner's chain has one). */
export function isBerthComment(comment: unknown): boolean {
  return typeof comment === 'string' && comment.startsWith('berth:');
}

/**
 * Where berth's rule goes in a foreign nftables chain, from `nft -j list chain ...`: before the
 * rule with handle `before`, or at the end.
 */
export function nftPlacement(chainListing: readonly object[]): { before: number } | 'end' {
  const rules: { handle: number; expr: readonly Record<string, unknown>[] }[] = [];
  for (const item of chainListing as { rule?: { handle?: number; expr?: unknown; comment?: string } }[]) {
    const r = item.rule;
    if (!r || typeof r.handle !== 'number' || !Array.isArray(r.expr)) continue;
    // A berth rule already there is not the admin's: it does not decide where a new one goes.
    if (isBerthComment(r.comment)) continue;
    rules.push({ handle: r.handle, expr: r.expr as Record<string, unknown>[] });
  }
  const start = catchAllStart(rules.map((r) => nftRuleKind(r.expr)));
  return start < 0 ? 'end' : { before: rules[start]!.handle };
}

/** A rule of `iptables -S CHAIN` (the part after `-A CHAIN `). */
function legacyRuleKind(spec: string): RuleKind {
  // A comment is no condition; iptables prints it first.
  const rest = spec.replace(/^-m comment --comment ("[^"]*"|\S+) /, '');
  const m = /^-j (\S+)(.*)$/.exec(rest);
  if (!m) return 'other';
  const [, target, options] = m as unknown as [string, string, string];
  if (target === 'LOG') return 'neutral';
  if (!XT_TERMINAL.has(target)) return 'other';
  return options.trim() === '' || /^ --reject-with \S+$/.test(options) ? 'catch-all' : 'other';
}

/**
 * Where berth's rule goes in a legacy chain, from `iptables-legacy -S CHAIN`: the 1-based
 * position for `-I CHAIN N`, or undefined to append (`-A`).
 */
export function legacyPlacement(chain: string, rulesText: string): number | undefined {
  const prefix = `-A ${chain} `;
  const specs = rulesText
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
  const start = catchAllStart(specs.map(legacyRuleKind));
  return start < 0 ? undefined : start + 1;
}
