/**
 * Keeps berth's forwarded traffic flowing past other owners' forward drops (Docker, ufw, a
 * plain iptables FORWARD policy, an nftables ruleset), without opening anything else:
 * forward-blockers.ts finds the drops, passage-rules.ts writes berth's half (a mark on its
 * own traffic) and the owner's half (one accept of that mark, in the owner's user chain).
 *
 * The device set in `inet berth-passage` is the shared memory of which devices are berth's:
 * drivers in any process (CNI plugins, berthd) add and remove their devices, and whoever
 * re-checks later (berthd, on its start, on a Docker engine start and periodically) opens the
 * passage again for all of them. With the last device, every berth rule in foreign chains
 * and the table go.
 */
import { NotFoundError } from '../../../core/errors.js';
import type { IpPrefix } from '../../../core/ip.js';
import type { NftCommand, NftFamily } from '../../nft-commands.js';
import type { ForwardPassage, Nftables, PassageOptions, PassageReport } from '../ports.js';
import { describeBlocker, nftablesBlockers, isBerthTable, placeName, type ForwardBlocker, type PassagePlace } from './forward-blockers.js';
import { deleteLegacyRules, insertLegacyRule, legacyBlockers, legacyRulePresent } from './iptables-legacy.js';
import {
  PASSAGE_PRIORITY,
  PASSAGE_TABLE,
  addDevice,
  addRouted,
  deleteDevice,
  deleteRouted,
  deleteForeignRules,
  deleteMarkingChain,
  deletePassageTable,
  foreignRuleHandles,
  placeForeignRule,
  markingChain,
  parsePassageListing,
  passageSkeleton,
  type PassageState,
} from './passage-rules.js';

/** The legacy iptables half, replaceable in tests of the decisions. */
export interface LegacyIptables {
  blockers(): ForwardBlocker[];
  present(place: PassagePlace): boolean;
  insert(place: PassagePlace): void;
  remove(place: PassagePlace): void;
}

export const LINUX_LEGACY_IPTABLES: LegacyIptables = {
  blockers: legacyBlockers,
  present: legacyRulePresent,
  insert: insertLegacyRule,
  remove: deleteLegacyRules,
};

export interface ForwardPassageDeps {
  readonly nftables: () => Nftables;
  /** Exclusive, crash-safe lock shared by every process that manages berth's devices. */
  readonly withLock: <T>(name: string, fn: () => T) => T;
  readonly legacy?: LegacyIptables;
}

const LOCK = 'forward-passage';

export class NftForwardPassage implements ForwardPassage {
  readonly #nft: () => Nftables;
  readonly #withLock: ForwardPassageDeps['withLock'];
  readonly #legacy: LegacyIptables;

  constructor(deps: ForwardPassageDeps) {
    this.#nft = deps.nftables;
    this.#withLock = deps.withLock;
    this.#legacy = deps.legacy ?? LINUX_LEGACY_IPTABLES;
  }

  open(device: string, opts: PassageOptions = {}): PassageReport {
    return this.#withLock(LOCK, () => this.#converge({ add: device, routed: prefixesOf(opts) }));
  }

  close(device: string, opts: PassageOptions = {}): PassageReport {
    return this.#withLock(LOCK, () => this.#converge({ remove: device, unrouted: prefixesOf(opts) }));
  }

  refresh(): PassageReport {
    return this.#withLock(LOCK, () => this.#converge({}));
  }

  /** Brings the kernel to: the devices as asked, and a passage through every current blocker. */
  #converge(change: { add?: string; remove?: string; routed?: readonly string[]; unrouted?: readonly string[] }): PassageReport {
    const nft = this.#nft();
    const state = this.#state();
    const devices = new Set(state.devices);
    if (change.add) devices.add(change.add);
    if (change.remove) devices.delete(change.remove);
    if (devices.size === 0) {
      this.#removeForeignRules();
      if (state.exists) nft.run([...passageSkeleton(), ...deletePassageTable()]);
      return { devices: [], passages: [] };
    }
    const blockers = this.#blockers();
    const cmds: NftCommand[] = [];
    if (!state.exists) cmds.push(...passageSkeleton());
    if (change.add && !state.devices.includes(change.add)) cmds.push(...addDevice(change.add));
    if (change.remove && state.devices.includes(change.remove)) cmds.push(...deleteDevice(change.remove));
    const routed = (change.routed ?? []).filter((p) => !state.routed.includes(p));
    // A table of an older berth lacks routed6: the skeleton's adds are no-ops for what exists.
    if (state.exists && routed.length) cmds.push(...passageSkeleton());
    for (const p of routed) cmds.push(...addRouted(p));
    for (const p of change.unrouted ?? []) if (state.routed.includes(p)) cmds.push(...deleteRouted(p));
    const present = new Map<ForwardBlocker, boolean>();
    if (blockers.length) {
      const guarded = [...new Set(blockers.flatMap((b) => b.protectedInterfaces))].sort();
      if (!state.marking || !state.markingRouted || guarded.join('\0') !== [...state.guarded].sort().join('\0')) cmds.push(...markingChain(guarded));
      for (const b of blockers) {
        // berth's rule counts wherever it sits in the chain: an admin's later `-I` puts rules above it on purpose.
        if (b.place.backend === 'nftables') {
          const listing = this.#list(`chain ${placeName(b.place)}`);
          const has = foreignRuleHandles(listing).length > 0;
          if (!has) cmds.push(...placeForeignRule(b.place, listing));
          present.set(b, has);
        } else {
          present.set(b, this.#legacy.present(b.place));
        }
      }
    } else if (state.marking) {
      // Nobody drops any more (the owner went away or changed its policy): stop marking.
      cmds.push(...deleteMarkingChain());
    }
    // A re-check that finds everything in place writes nothing.
    if (cmds.length) nft.run(cmds);
    for (const b of blockers) {
      if (b.place.backend === 'iptables-legacy' && !present.get(b)) this.#legacy.insert(b.place);
    }
    return { devices: [...devices].sort(), passages: blockers.map((b) => this.#passageOf(b, !present.get(b))) };
  }

  /** A passage that is in place now; `added` when this call put berth's rule there (it was missing). */
  #passageOf(b: ForwardBlocker, added: boolean): PassageReport['passages'][number] {
    const late = b.priority <= PASSAGE_PRIORITY;
    return {
      owner: b.owner,
      place: b.place,
      reason: describeBlocker(b) + (late ? `; its priority ${b.priority} runs before berth's marking (${PASSAGE_PRIORITY}), so the accept cannot match` : ''),
      present: true,
      added,
      protectedInterfaces: b.protectedInterfaces,
    };
  }

  #state(): PassageState {
    const tables = this.#list('tables');
    const exists = tables.some((i) => (i as { table?: { family?: string; name?: string } }).table?.name === PASSAGE_TABLE && (i as { table: { family?: string } }).table.family === 'inet');
    if (!exists) return { exists: false, devices: [], routed: [], marking: false, markingRouted: false, guarded: [] };
    return parsePassageListing(this.#list(`table inet ${PASSAGE_TABLE}`));
  }

  #blockers(): ForwardBlocker[] {
    const chains = this.#list('chains');
    const found = nftablesBlockers(chains, (family, table, chain) => this.#list(`chain ${family} ${table} ${chain}`));
    return [...found, ...this.#legacy.blockers()];
  }

  /**
   * Every berth rule in a place berth may have used, whatever the policies are now: the
   * owners' user chains and every foreign forward base chain, in nftables and in legacy.
   */
  #removeForeignRules(): void {
    const chains = this.#list('chains') as { chain?: { family: NftFamily; table: string; name: string; hook?: string } }[];
    const cmds: NftCommand[] = [];
    for (const { chain: c } of chains) {
      if (!c || isBerthTable(c.table)) continue;
      if (c.hook !== 'forward' && c.name !== 'DOCKER-USER' && c.name !== 'ufw-user-forward') continue;
      const place: PassagePlace = { backend: 'nftables', family: c.family, table: c.table, chain: c.name };
      const handles = foreignRuleHandles(this.#list(`chain ${c.family} ${c.table} ${c.name}`));
      cmds.push(...deleteForeignRules(place, handles));
    }
    if (cmds.length) this.#nft().run(cmds);
    for (const family of ['ip', 'ip6'] as const) {
      for (const chain of ['DOCKER-USER', 'ufw-user-forward', 'FORWARD']) this.#legacy.remove({ backend: 'iptables-legacy', family, table: 'filter', chain });
    }
  }

  /** A listing; an object that is gone (deleted by its owner meanwhile) lists as nothing. */
  #list(what: string): object[] {
    try {
      return this.#nft().list(what);
    } catch (err) {
      if (err instanceof NotFoundError) return [];
      throw err;
    }
  }
}

/** PassageOptions.routedFrom as the set elements' text. */
function prefixesOf(opts: PassageOptions): string[] {
  const r = opts.routedFrom;
  if (!r) return [];
  return (Array.isArray(r) ? (r as readonly IpPrefix[]) : [r as IpPrefix]).map(String);
}
