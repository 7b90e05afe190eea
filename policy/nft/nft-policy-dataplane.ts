/**
 * Applies PolicyIRs to the kernel through libnftables (dataplane/linux's `Nftables` port):
 * render, diff against what was last applied, and run the difference as one transaction.
 *
 * The first apply in a process replaces the whole table in one transaction (whatever an earlier
 * process left there), so a restarted agent needs no memory of the past. A failed transaction
 * changes nothing in the kernel; the next apply then replaces the whole table again rather
 * than trusting a diff against a state that may have drifted (felix's "fail closed" resync).
 */
import type { Nftables } from '../../dataplane/linux/ports.js';
import type { PolicyIR } from '../compile/ir.js';
import { deleteNftTable, diffNftState, replaceNftState } from './nft-diff.js';
import type { NftState } from './nft-state.js';
import { NftRenderer, type NftRenderOptions } from './render-nft.js';

/** What one apply did. */
export interface ApplyReport {
  /** `replace`: the whole table was written; `diff`: only the changes; `none`: nothing changed. */
  readonly mode: 'replace' | 'diff' | 'none';
  /** Commands in the transaction. */
  readonly commands: number;
  /** Milliseconds spent rendering and diffing, and in libnftables. */
  readonly renderMs: number;
  readonly kernelMs: number;
}

export class NftPolicyDataplane {
  readonly #nft: Nftables;
  readonly #renderer: NftRenderer;
  #applied: NftState | undefined;

  /** `nft`: the context of the namespace whose forward hook is filtered (the host's). */
  constructor(nft: Nftables, options: NftRenderOptions = {}) {
    this.#nft = nft;
    this.#renderer = new NftRenderer(options);
  }

  /** The state last applied successfully (undefined before the first apply or after a failure). */
  get applied(): NftState | undefined {
    return this.#applied;
  }

  /**
   * Makes the table match `ir` in one transaction, with `extra` commands appended to it. Throws KernelError (and changes nothing)
   * when libnftables refuses the batch.
   */
  apply(ir: PolicyIR, extra: readonly object[] = []): ApplyReport {
    const t0 = performance.now();
    const next = this.#renderer.render(ir);
    const prev = this.#applied;
    const commands = prev ? diffNftState(prev, next) : replaceNftState(next);
    // Commands outside the rendered state (opening guarded pods) ride in the same transaction.
    if (extra.length) commands.push(...(commands.length ? [] : [{ add: { table: { family: 'inet', name: next.table } } }]), ...extra);
    const t1 = performance.now();
    if (commands.length) {
      // Until this transaction succeeds, what the kernel holds is not known for sure.
      this.#applied = undefined;
      this.#nft.run(commands);
    }
    this.#applied = next;
    const t2 = performance.now();
    return { mode: !prev ? 'replace' : commands.length ? 'diff' : 'none', commands: commands.length, renderMs: t1 - t0, kernelMs: t2 - t1 };
  }

  /** The commands `apply(ir)` would run now, without running them (for dry runs and tests). */
  plan(ir: PolicyIR): object[] {
    const next = this.#renderer.render(ir);
    return this.#applied ? diffNftState(this.#applied, next) : replaceNftState(next);
  }

  /** Removes the table (all policy filtering stops). Idempotent. */
  clear(): void {
    this.#nft.run(deleteNftTable(this.#renderer.table));
    this.#applied = undefined;
  }
}
