/**
 * WinNAT on Linux: NAT instances and static mappings kept in a state document and rendered
 * into one nftables table.
 *
 * Every change is one section under the state port's exclusive lock: read the document,
 * compute the new state (pure, mapping-table.ts), apply the difference of the two states'
 * elements to the kernel as one nftables transaction, write the document. The lock spans
 * the kernel change because creating and deleting the table do not commute: a process that
 * removes the last instance must not delete a table that another has just filled. Nothing
 * is written when the kernel refused the change, so the document never claims more than the
 * kernel holds; where the two drifted apart anyway (a process killed between the two writes,
 * someone flushing the ruleset), the difference fails to apply and the table is rebuilt
 * from the document in one transaction instead.
 */
import { CheckFailedError, NotFoundError } from '../core/errors.js';
import type { Nftables, Sysctl } from '../dataplane/linux/ports.js';
import type { NftCommand } from '../dataplane/nft-commands.js';
import { describeState, type NatDescription } from './describe.js';
import { putInstance, removeInstance, removeOwnerMappings, retainOwners, setOwnerMappings } from './mapping-table.js';
import { DEFAULT_EPHEMERAL_PORTS, sameOwner, type MappingOwner, type MappingRequest, type NatInstanceSpec, type NatState, type PortRange, type StaticMapping } from './model.js';
import { TABLE, chainsMissing, deleteTable, diffElements, elementsOf, formatElement, missingElements, parseListing, replaceTable } from './render-nftables.js';
import { decodeState, encodeState, type NatStateDocument } from './state-document.js';

/**
 * Where the NAT state lives: one document, shared by every process that publishes ports on
 * the host (CNI plugins, berthd), so that no two of them hand out the same port.
 */
export interface NatStatePort {
  /** The document as last written, read without waiting for the lock; undefined when none. */
  read(): NatStateDocument | undefined;
  /**
   * Runs `fn` exactly once while holding an exclusive lock on the document (one that a dying
   * process releases), then writes the document `fn` returns: undefined deletes it, the very
   * object `fn` was given leaves it untouched. `fn` may do I/O; when it throws nothing is
   * written.
   */
  transact<R>(fn: (doc: NatStateDocument | undefined) => { readonly doc: NatStateDocument | undefined; readonly result: R }): R;
}

export interface WinNatDeps {
  readonly state: NatStatePort;
  /** nftables of the host's namespace. */
  readonly nftables: () => Nftables;
  /** Sysctls of the host's namespace (route_localnet for `loopback`). */
  readonly sysctl: Sysctl;
  /** Where ports for requests of port 0 come from. @default 49152-65535 */
  readonly ephemeralPorts?: PortRange;
}

export class WinNat {
  private readonly ephemeral: PortRange;

  constructor(private readonly deps: WinNatDeps) {
    this.ephemeral = deps.ephemeralPorts ?? DEFAULT_EPHEMERAL_PORTS;
  }

  /**
   * New-NetNat: creates the instance, or updates it to `spec`. Idempotent; a repeat costs a
   * read of the state and no kernel change. InvalidConfigError for an IPv6 prefix, or one
   * that overlaps another instance's.
   */
  ensureInstance(spec: NatInstanceSpec): void {
    this.change((s) => ({ state: putInstance(s, spec), result: undefined }), [spec]);
  }

  /**
   * Remove-NetNat: the instance and all its mappings; the table goes with the last instance.
   * With `onlyIf`, decided under the lock (for "remove when the network's last endpoint is
   * gone", against a concurrent first endpoint). Returns whether it was removed; removing
   * an absent instance succeeds.
   */
  removeInstance(name: string, opts: { readonly onlyIf?: () => boolean } = {}): boolean {
    return this.change((s) => {
      if (!s.instances.some((i) => i.name === name) || (opts.onlyIf && !opts.onlyIf())) return { state: s, result: false };
      return { state: removeInstance(s, name), result: true };
    });
  }

  /**
   * Add-NetNatStaticMapping for one owner, as a whole: `requests` become everything `owner`
   * publishes on `instance` (created or updated first, in the same change). Requests for port
   * 0 get a free port of the ephemeral range (the same one again on a repeat). Returns the
   * mappings in request order. PortConflictError names the holder of a taken port;
   * PoolExhaustedError when no ephemeral port is left; nothing changes on error.
   */
  setStaticMappings(instance: NatInstanceSpec, owner: MappingOwner, requests: readonly MappingRequest[]): StaticMapping[] {
    return this.change(
      (s) => {
        const withInstance = putInstance(s, instance);
        const r = setOwnerMappings(withInstance, { nat: instance.name, owner, requests, ephemeral: this.ephemeral });
        return { state: r.state, result: r.mappings };
      },
      [instance],
    );
  }

  /**
   * Throws what setStaticMappings would throw against the state as it is now, and changes
   * nothing (no lock): a cheap refusal before the caller builds anything. The real decision
   * is setStaticMappings'.
   */
  precheck(instance: NatInstanceSpec, owner: MappingOwner, requests: readonly MappingRequest[]): void {
    setOwnerMappings(putInstance(this.state(), instance), { nat: instance.name, owner, requests, ephemeral: this.ephemeral });
  }

  /** Remove-NetNatStaticMapping of everything `owner` publishes on `nat`. Idempotent. */
  removeStaticMappings(nat: string, owner: MappingOwner): void {
    this.change((s) => ({ state: removeOwnerMappings(s, nat, owner), result: undefined }));
  }

  /** Removes the mappings of `nat` whose owner `keep` rejects (garbage collection). */
  retainStaticMappings(nat: string, keep: (owner: MappingOwner) => boolean): void {
    this.change((s) => ({ state: retainOwners(s, nat, keep), result: undefined }));
  }

  /** What `owner` publishes on `nat` now (no lock, no kernel). */
  staticMappingsOf(nat: string, owner: MappingOwner): StaticMapping[] {
    return this.state().mappings.filter((m) => m.nat === nat && sameOwner(m.owner, owner));
  }

  /** Get-NetNat and Get-NetNatStaticMapping, from the state (no lock, no kernel). */
  describe(): NatDescription {
    return describeState(this.state());
  }

  /**
   * Verifies that the kernel holds the rules of instance `nat` (and of `owner`'s mappings,
   * when given) as the state says. CheckFailedError names what is missing.
   */
  verify(nat: string, owner?: MappingOwner): void {
    const state = this.state();
    const instance = state.instances.find((i) => i.name === nat);
    if (!instance) throw new CheckFailedError(`NAT instance "${nat}" does not exist`);
    const scoped: NatState = { ...state, instances: [instance], mappings: state.mappings.filter((m) => m.nat === nat && (!owner || sameOwner(m.owner, owner))) };
    const listing = parseListing(this.listTable());
    if (!listing.exists) throw new CheckFailedError(`table ip ${TABLE} of NAT instance "${nat}" does not exist`);
    const chains = chainsMissing(listing);
    if (chains.length) throw new CheckFailedError(`table ip ${TABLE} lacks chains ${chains.join(', ')}`);
    const missing = missingElements(elementsOf(scoped), listing.elements);
    if (missing.length) {
      const shown = missing.slice(0, 3).map(formatElement).join('; ');
      throw new CheckFailedError(`table ip ${TABLE} lacks ${missing.length} element(s) of NAT instance "${nat}": ${shown}${missing.length > 3 ? '; ...' : ''}`);
    }
  }

  /** Rebuilds the table from the state (start-up, drift repair), in one transaction. */
  resync(): void {
    this.deps.state.transact((doc) => {
      const state = decodeState(doc);
      this.deps.nftables().run(replaceTable(state));
      for (const i of state.instances) if (i.loopback) this.setRouteLocalnet(i.internalInterface, true);
      return { doc, result: undefined };
    });
  }

  // --- internals ---

  private state(): NatState {
    return decodeState(this.deps.state.read());
  }

  /**
   * One change: new state from the old, kernel brought along, document written. `touched`
   * instances get their sysctls checked even when the state did not change (a bridge
   * re-created under an unchanged instance starts with route_localnet off).
   */
  private change<R>(mutate: (s: NatState) => { state: NatState; result: R }, touched: readonly NatInstanceSpec[] = []): R {
    this.warmUp(mutate);
    return this.deps.state.transact((doc) => {
      const before = decodeState(doc);
      const { state: after, result } = mutate(before);
      if (after !== before) this.applyKernel(before, after);
      // Sysctls after the kernel's rules: nothing is loosened for rules that failed to apply.
      for (const i of before.instances) {
        if (i.loopback && !after.instances.some((a) => a.internalInterface === i.internalInterface && a.loopback)) this.setRouteLocalnet(i.internalInterface, false);
      }
      for (const t of touched) {
        const now = after.instances.find((i) => i.name === t.name);
        if (now) this.setRouteLocalnet(now.internalInterface, now.loopback);
      }
      if (after === before) return { doc, result };
      return { doc: after.instances.length === 0 ? undefined : encodeState(after), result };
    });
  }

  /**
   * Loading libnftables takes about 2 ms: when the state as it is now says the change will
   * reach the kernel, load it before taking the lock, which every publishing process on the
   * host waits for. A wrong guess costs nothing but that; the locked section decides.
   */
  private warmUp(mutate: (s: NatState) => { state: NatState }): void {
    try {
      const now = this.state();
      if (mutate(now).state !== now) this.deps.nftables();
    } catch {
      // The section under the lock will meet the same error and report it.
    }
  }

  private applyKernel(before: NatState, after: NatState): void {
    const nft = this.deps.nftables();
    let cmds: NftCommand[];
    if (after.instances.length === 0) cmds = [deleteTable()];
    else if (before.instances.length === 0) cmds = replaceTable(after);
    else cmds = diffElements(elementsOf(before), elementsOf(after));
    if (cmds.length === 0) return;
    try {
      nft.run(cmds);
    } catch {
      // The kernel is not what the state says: replace the whole table with what it should be.
      nft.run(replaceTable(after));
    }
  }

  /** route_localnet lets 127.0.0.1 be DNATed out of `ifname`; set only for `loopback`. */
  private setRouteLocalnet(ifname: string, on: boolean): void {
    const key = `net/ipv4/conf/${ifname}/route_localnet`;
    const want = on ? '1' : '0';
    try {
      if (this.deps.sysctl.read(key).trim() !== want) this.deps.sysctl.write(key, want);
    } catch (err) {
      // No interface (yet, or any more): nothing to set; the next change of the instance sets it.
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  /** The table's listing; empty when there is no table. Any other failure to list throws. */
  private listTable(): object[] {
    try {
      return this.deps.nftables().list(`table ip ${TABLE}`);
    } catch (err) {
      if (err instanceof NotFoundError) return [];
      throw err;
    }
  }
}
