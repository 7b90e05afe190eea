/**
 * Forward drops kept by iptables-legacy (x_tables, invisible to nftables). Their format is
 * the iptables tool's own, so berth uses that tool here: only when the kernel shows a legacy
 * filter table in this namespace, and only on a network change or a re-check, never per pod.
 */
import { existsSync, readFileSync } from 'node:fs';
import { KernelError } from '../../../core/errors.js';
import { legacyBlocker, type ForwardBlocker, type PassagePlace } from './forward-blockers.js';
import { legacyRuleSpec } from './passage-rules.js';
import { legacyPlacement } from './placement.js';

const TOOLS = { ip: 'iptables-legacy', ip6: 'ip6tables-legacy' } as const;
const NAMES = { ip: '/proc/net/ip_tables_names', ip6: '/proc/net/ip6_tables_names' } as const;
const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

/** Whether this namespace has a legacy filter table of the family at all (no process needed). */
function hasLegacyFilter(family: 'ip' | 'ip6'): boolean {
  try {
    return readFileSync(NAMES[family], 'utf8').split('\n').includes('filter');
  } catch {
    return false;
  }
}

function tool(family: 'ip' | 'ip6'): string | undefined {
  for (const dir of SEARCH) {
    const path = `${dir}/${TOOLS[family]}`;
    if (existsSync(path)) return path;
  }
  return undefined;
}

function run(family: 'ip' | 'ip6', args: string[]): { status: number; stdout: string; stderr: string } {
  const bin = tool(family);
  if (!bin)
    throw new KernelError(`A legacy iptables filter table exists but ${TOOLS[family]} is not installed (Debian: apt-get install iptables)`, { operation: `${TOOLS[family]} ${args.join(' ')}` });
  // Loaded on first use, so a CNI plugin's start never pays for child_process. This file is
  // the dataplane's one sanctioned process (see the header); eslint.config.js names it.
  const { spawnSync } = process.getBuiltinModule('node:child_process');
  // -w: wait for the xtables lock rather than fail while Docker or ufw holds it.
  const r = spawnSync(bin, ['-w', '5', '-t', 'filter', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The legacy FORWARD drops of both families. */
export function legacyBlockers(): ForwardBlocker[] {
  const out: ForwardBlocker[] = [];
  for (const family of ['ip', 'ip6'] as const) {
    if (!hasLegacyFilter(family)) continue;
    const r = run(family, ['-S']);
    if (r.status !== 0) throw new KernelError(`Cannot read the legacy filter table: ${r.stderr.trim()}`, { operation: `${TOOLS[family]} -t filter -S` });
    const b = legacyBlocker(family, r.stdout);
    if (b) out.push(b);
  }
  return out;
}

function familyOf(place: PassagePlace): 'ip' | 'ip6' {
  return place.family === 'ip6' ? 'ip6' : 'ip';
}

export function legacyRulePresent(place: PassagePlace): boolean {
  return run(familyOf(place), ['-C', place.chain, ...legacyRuleSpec()]).status === 0;
}

/** Adds berth's rule after the admin's rules in the chain (before its trailing catch-all, see placement.ts). */
export function insertLegacyRule(place: PassagePlace): void {
  const family = familyOf(place);
  const listed = run(family, ['-S', place.chain]);
  if (listed.status !== 0) throw new KernelError(`Cannot read ${place.chain}: ${listed.stderr.trim()}`, { operation: `${TOOLS[family]} -t filter -S ${place.chain}` });
  const at = legacyPlacement(place.chain, listed.stdout);
  const args = at === undefined ? ['-A', place.chain, ...legacyRuleSpec()] : ['-I', place.chain, String(at), ...legacyRuleSpec()];
  const r = run(family, args);
  if (r.status !== 0) throw new KernelError(`Cannot add berth's accept to ${place.chain}: ${r.stderr.trim()}`, { operation: `${TOOLS[familyOf(place)]} -t filter ${args.join(' ')}` });
}

/** Removes every copy of berth's rule from the chain; a chain or table that is gone is fine. */
export function deleteLegacyRules(place: PassagePlace): void {
  const family = familyOf(place);
  if (!hasLegacyFilter(family)) return;
  for (let i = 0; i < 16 && run(family, ['-D', place.chain, ...legacyRuleSpec()]).status === 0; i++);
}
