/**
 * What a lab's code works with: its steps (commands shown as a user types them, run for
 * real, checked), the places in it a user can enter (`berth lab shell NAME PLACE`) and draw
 * (every namespace of the topology), and the teardown, run in reverse order of set-up.
 */
import { StepLog, type LabReport, type StepRecord, type StepSink } from './report.js';
import { runCommand, type Ran } from './process.js';

/**
 * A namespace of the topology: the lab's own ("host"), an `ip netns` one, or a process's. A
 * host's role: a host of containers, an external client, or the fabric joining hosts.
 */
export type Place = PlaceEntry &
  (
    | { readonly kind: 'host'; readonly role: 'host' | 'external' | 'fabric'; readonly netns: string }
    | { readonly kind: 'container'; readonly host: string; readonly netns: () => Promise<string | undefined> }
  );

/** How a user enters a place from inside the lab's namespaces (`berth lab shell`). */
export interface PlaceEntry {
  readonly name: string;
  /** Runs a command there: this, then the command. */
  readonly exec: readonly string[];
  /** An interactive shell there. */
  readonly shell: readonly string[];
}

export interface Command {
  /** As a user types it. */
  readonly show: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Written to its stdin (a CNI plugin's network configuration). */
  readonly stdin?: string;
  readonly timeoutMs?: number;
}

/** `args` joined for display, quoted where a shell would need it. */
export function shellJoin(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

export interface ContextOptions {
  /** Test-only: each lab breaks what it teaches on purpose, so its checks must fail. */
  readonly sabotage?: boolean;
}

export class LabContext {
  readonly log: StepLog;
  readonly places: Place[] = [];
  readonly sabotage: boolean;
  readonly #cleanups: { what: string; fn: () => Promise<unknown> | unknown }[] = [];

  constructor(
    readonly name: string,
    /** The lab's scratch directory (in its own /run). */
    readonly dir: string,
    sink: StepSink,
    opts: ContextOptions = {},
  ) {
    this.log = new StepLog(sink);
    this.sabotage = opts.sabotage ?? false;
  }

  /** Runs a command as a step of the lab; checks go on the answer. */
  async step(cmd: Command, note?: string): Promise<StepRecord> {
    const ran: Ran = await runCommand(cmd.argv, { ...(cmd.env ? { env: cmd.env } : {}), ...(cmd.stdin !== undefined ? { stdin: cmd.stdin } : {}), timeoutMs: cmd.timeoutMs ?? 60_000 });
    return this.log.open(cmd.show, ran, note);
  }

  /**
   * A step whose command may need a moment to succeed (a server starting): run quietly until
   * it exits 0 or `ms` passed; the last attempt is the step shown.
   */
  async stepUntil(cmd: Command, ms: number, note?: string): Promise<StepRecord> {
    const deadline = Date.now() + ms;
    let ran: Ran;
    do {
      ran = await runCommand(cmd.argv, { ...(cmd.env ? { env: cmd.env } : {}), timeoutMs: cmd.timeoutMs ?? 60_000 });
      if (ran.code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    return this.log.open(cmd.show, ran, note);
  }

  /** A command run in the lab's host namespace (ip, ping, wget...), shown as typed. */
  sh(argv: readonly string[], note?: string, timeoutMs?: number): Promise<StepRecord> {
    return this.step({ show: shellJoin(argv), argv, ...(timeoutMs ? { timeoutMs } : {}) }, note);
  }

  /** A command run in an `ip netns` namespace of the lab, shown as `ip netns exec NS ...`. */
  inNetns(netns: string, argv: readonly string[], note?: string): Promise<StepRecord> {
    const full = ['ip', 'netns', 'exec', netns, ...argv];
    return this.step({ show: shellJoin(full), argv: full }, note);
  }

  addPlace(place: Place): void {
    this.places.push(place);
  }

  /** Registers a teardown step (run in reverse order, each even when one before failed). */
  defer(what: string, fn: () => Promise<unknown> | unknown): void {
    this.#cleanups.push({ what, fn });
  }

  /** Runs every teardown step; answers what failed. */
  async teardown(): Promise<string[]> {
    const errors: string[] = [];
    while (this.#cleanups.length) {
      const { what, fn } = this.#cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${(err as Error).message}`);
      }
    }
    return errors;
  }

  report(error?: string): LabReport {
    return this.log.report(this.name, error);
  }
}
