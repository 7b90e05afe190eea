/**
 * Applies PolicyIRs to the kernel through libnftables (dataplane/linux's `Nftables` port):
 * render, diff against what was last applied, and run the difference as one transaction.
 *
 * The table holds two copies of the rendered content and the base chains dispatch into one of
 * them (nft-copies.ts says why). Every change rewrites the other copy, which still holds the
 * state before last, and points the base chains at it, in one transaction.
 *
 * The first apply in a process reads the table once: it rewrites the copy the base chains do
 * not use from scratch, switches to it, and then removes everything else an earlier process
 * left there, so a restarted agent needs no memory of the past. A failed transaction changes
 * nothing in the kernel; the next apply then starts over the same way rather than trusting a
 * diff against a state that may have drifted (felix's "fail closed" resync).
 */
import type { Nftables } from '../../dataplane/linux/ports.js';
import * as nft from '../../dataplane/nft-commands.js';
import type { NftCommand, NftTableRef } from '../../dataplane/nft-commands.js';
import type { PolicyIR } from '../compile/ir.js';
import { CopyNamer, copyObjects, copyOfName, isSharedSet, otherCopy, sharedObjects, type CopyId } from './nft-copies.js';
import { deleteNftObjects, deleteNftTable, diffNftState } from './nft-diff.js';
import { readPolicyTable, type TableContent } from './nft-listing.js';
import type { NftState } from './nft-state.js';
import { NftRenderer, type NftRenderOptions } from './render-nft.js';

/** What one apply did. */
export interface ApplyReport {
  /** `replace`: the table was written afresh; `diff`: only the changes; `none`: nothing changed. */
  readonly mode: 'replace' | 'diff' | 'none';
  /** Commands in the transaction that made the change. */
  readonly commands: number;
  /** Milliseconds spent rendering and diffing, and in libnftables. */
  readonly renderMs: number;
  readonly kernelMs: number;
}

/** Commands that ride along with an apply (the guard sets' elements, core/workload.ts). */
export interface ApplyExtra {
  /** Run in the transaction that makes the change (closing pods: safe at any moment). */
  readonly with?: readonly NftCommand[];
  /**
   * Run in a transaction of their own once the change is in force (opening pods: a packet that
   * met the old rules must not find its pod open before the pod's policy is in force).
   */
  readonly after?: readonly NftCommand[];
}

export interface PolicyDataplaneOptions extends NftRenderOptions {
  /**
   * After writing the table afresh, also write the copy not in use (a second transaction), so
   * that the first change rewrites only what differs instead of a whole copy. For a long-lived
   * agent, where it moves the cost of a whole copy from the first change to the start; a
   * one-shot apply (the CLI) has no next change to spare it.
   */
  readonly warmStandby?: boolean;
}

interface Applied {
  readonly copy: CopyId;
  /** Rendered, in the active copy's names; with the base chains and the guard sets. */
  readonly state: NftState;
  /** The same before renaming: what the next render is compared with. */
  readonly logical: NftState;
}

export class NftPolicyDataplane {
  readonly #nft: Nftables;
  readonly #renderer: NftRenderer;
  readonly #warmStandby: boolean;
  readonly #namers = new Map<CopyId, CopyNamer>();
  #applied: Applied | undefined;
  /** What the copy not in use holds (its own objects only); undefined when it holds nothing. */
  #standby: NftState | undefined;

  /** `nft`: the context of the namespace whose forward hook is filtered (the host's). */
  constructor(nft: Nftables, options: PolicyDataplaneOptions = {}) {
    this.#nft = nft;
    this.#renderer = new NftRenderer(options);
    this.#warmStandby = options.warmStandby ?? false;
  }

  /** The state in force, as last applied (undefined before the first apply or after a failure). */
  get applied(): NftState | undefined {
    return this.#applied?.state;
  }

  /**
   * Makes the table match `ir` in one transaction, with `extra` commands around it. Throws
   * KernelError (and changes nothing) when libnftables refuses the batch.
   */
  apply(ir: PolicyIR, extra: ApplyExtra = {}): ApplyReport {
    const t0 = performance.now();
    const prev = this.#applied;
    const change = this.#change(ir);
    if (!change) {
      // No change: the guard commands alone, in one transaction (the pods' policies are in force).
      const commands = [...(extra.with ?? []), ...(extra.after ?? [])];
      const t1 = performance.now();
      if (commands.length) this.#nft.run([nft.addTable('inet', this.#renderer.table), ...commands]);
      return { mode: 'none', commands: commands.length, renderMs: t1 - t0, kernelMs: performance.now() - t1 };
    }
    const { copy, next, logical, content } = change;
    const commands = [...change.commands, ...(extra.with ?? [])];
    const t1 = performance.now();
    // Until this transaction succeeds, what the kernel holds is not known for sure.
    this.#applied = undefined;
    this.#standby = undefined;
    this.#nft.run(commands);
    this.#standby = prev ? copyObjects(prev.state) : undefined;
    this.#applied = { copy, state: next, logical };
    if (content) {
      const bases = new Set([...next.chains.values()].filter((c) => c.base).map((c) => c.name));
      // What an earlier process left that the new copy does not use: the other copy, older layouts.
      const leftovers = namesOf(content, (name, base) => copyOfName(name) !== copy && !isSharedSet(name) && !(base && bases.has(name)));
      try {
        if (leftovers.chains.length + leftovers.maps.length + leftovers.sets.length) this.#nft.run(deleteNftObjects(logical.table, leftovers));
      } catch (err) {
        // The next apply must read the table again rather than write over leftovers.
        this.#applied = undefined;
        throw err;
      }
    }
    if (extra.after?.length) this.#nft.run(extra.after);
    if (!prev && this.#warmStandby) this.#warm(otherCopy(copy), logical);
    return { mode: prev ? 'diff' : 'replace', commands: commands.length, renderMs: t1 - t0, kernelMs: performance.now() - t1 };
  }

  /** The commands `apply(ir)` would run now to make the change, without running them (dry runs, tests). */
  plan(ir: PolicyIR): NftCommand[] {
    return this.#change(ir)?.commands ?? [];
  }

  /**
   * What making the table match `ir` takes: undefined when nothing changed; otherwise the copy
   * to write, its state, and the one transaction (after reading the table on a first apply).
   */
  #change(ir: PolicyIR): { copy: CopyId; next: NftState; logical: NftState; content: TableContent | undefined; commands: NftCommand[] } | undefined {
    const logical = this.#renderer.render(ir);
    const prev = this.#applied;
    if (prev && diffNftState(prev.logical, logical).length === 0) return undefined;
    const content = prev ? undefined : readPolicyTable(this.#nft, logical.table);
    const copy = prev ? otherCopy(prev.copy) : otherCopy(content?.active ?? 'b');
    const next = this.#namer(copy, logical).state(logical);
    return { copy, next, logical, content, commands: this.#changeCommands(copy, next, content) };
  }

  /**
   * Writes `copy`, not in use, to hold what the copy in force holds. Nothing refers to it, so
   * packets are not affected. A refused transaction leaves it empty (transactions are all or
   * nothing), and the next change then writes it whole.
   */
  #warm(copy: CopyId, logical: NftState): void {
    const own = copyObjects(this.#namer(copy, logical).state(logical));
    try {
      this.#nft.run(diffNftState(undefined, own));
      this.#standby = own;
    } catch {
      this.#standby = undefined;
    }
  }

  /** Removes the table (all policy filtering stops). Idempotent. */
  clear(): void {
    this.#nft.run(deleteNftTable(this.#renderer.table));
    this.#applied = undefined;
    this.#standby = undefined;
  }

  /**
   * One transaction: the standby copy `copy` becomes `next` (from what it holds, or from
   * scratch on a first apply, when `content` is what the table holds), then the base chains
   * switch to it.
   */
  #changeCommands(copy: CopyId, next: NftState, content: TableContent | undefined): NftCommand[] {
    const own = copyObjects(next);
    const shared = sharedObjects(next);
    // Each diff opens with `add table`; one is enough.
    if (this.#applied) return [...diffNftState(this.#standby, own), ...diffNftState(sharedObjects(this.#applied.state), shared).slice(1)];
    const T: NftTableRef = { family: 'inet', table: next.table };
    const bases = [...shared.chains.values()];
    // Base chains and guard sets: `add` keeps an existing one (and the guards' elements); the
    // base chains' rules are rewritten whole, as what an earlier process left there is not known.
    const empty: NftState = { ...shared, chains: new Map(bases.map((c) => [c.name, { ...c, rules: [] }])) };
    return [
      ...diffNftState(undefined, empty),
      ...(content
        ? deleteNftObjects(
            next.table,
            namesOf(content, (name) => copyOfName(name) === copy),
          )
        : []),
      ...diffNftState(undefined, own).slice(1),
      ...bases.flatMap((c) => [nft.flushChain(T, c.name), ...c.rules.map((r) => nft.addRule(T, c.name, r))]),
    ];
  }

  #namer(copy: CopyId, logical: NftState): CopyNamer {
    let namer = this.#namers.get(copy);
    if (!namer) {
      namer = new CopyNamer(
        copy,
        [...logical.chains.values()].filter((c) => c.base).map((c) => c.name),
      );
      this.#namers.set(copy, namer);
    }
    return namer;
  }
}

/** The names in `content` that `keep` selects, grouped as deleteNftObjects wants them. */
function namesOf(content: TableContent, keep: (name: string, base: boolean) => boolean): { chains: string[]; maps: string[]; sets: string[] } {
  return {
    chains: [...content.chains].filter(([name, c]) => keep(name, c.base)).map(([name]) => name),
    maps: content.maps.filter((name) => keep(name, false)),
    sets: content.sets.filter((name) => keep(name, false)),
  };
}
