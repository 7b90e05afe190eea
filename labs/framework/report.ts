/**
 * What a lab shows: its steps, each the command a user would type with its output, and the
 * checks made on it (✔/✘ with the reason). Steps are handed to a sink as they end, so the
 * user sees the lab progress; the report at the end is what `--format json` prints.
 */
import type { Ran } from './process.js';

export interface LabCheck {
  /** What is claimed: "c1 reaches c2 by its address". */
  readonly what: string;
  readonly ok: boolean;
  /** Why it passed or failed, from what was measured. */
  readonly reason: string;
}

export interface LabStep {
  /** Why this step is there, in a sentence (printed as a comment above the command). */
  readonly note?: string;
  /** The command as a user would type it. */
  readonly command: string;
  readonly exitCode: number;
  /** What it printed (stdout, then stderr), trimmed. */
  readonly output: string;
  readonly checks: readonly LabCheck[];
}

export interface LabReport {
  readonly lab: string;
  readonly passed: boolean;
  readonly steps: readonly LabStep[];
  readonly checks: { readonly passed: number; readonly failed: number };
  readonly durationMs: number;
  /** Set when the lab could not go on (a set-up failure, not a failed check). */
  readonly error?: string;
}

export type StepSink = (step: LabStep) => void;

/** A step being recorded: its command has run; checks are added until the next step starts. */
export class StepRecord {
  readonly checks: LabCheck[] = [];
  constructor(
    readonly command: string,
    readonly ran: Ran,
    readonly note?: string,
  ) {}

  get code(): number {
    return this.ran.code;
  }

  get stdout(): string {
    return this.ran.stdout;
  }

  /** Adds a check; answers `ok`. */
  check(what: string, ok: boolean, reason: string): boolean {
    this.checks.push({ what, ok, reason });
    return ok;
  }

  /** The check that the command succeeded, its reason the first line of what it said. */
  succeeded(what: string): boolean {
    const said = firstLine(this.ran.stderr) || firstLine(this.ran.stdout);
    return this.check(what, this.ran.code === 0, this.ran.code === 0 ? 'exit status 0' : `exit status ${this.ran.code}: ${said}`);
  }

  /** The check that the command failed (a refusal the lab demonstrates). */
  failed(what: string): boolean {
    const said = firstLine(this.ran.stderr) || firstLine(this.ran.stdout);
    return this.check(what, this.ran.code !== 0, this.ran.code !== 0 ? `exit status ${this.ran.code}${said ? `: ${said}` : ''}` : 'it succeeded');
  }

  toStep(): LabStep {
    const output = [this.ran.stdout.trimEnd(), this.ran.stderr.trimEnd()].filter(Boolean).join('\n');
    return { ...(this.note ? { note: this.note } : {}), command: this.command, exitCode: this.ran.code, output, checks: [...this.checks] };
  }
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  );
}

/** The steps of one run, handed to the sink as each ends. */
export class StepLog {
  readonly #sink: StepSink;
  readonly #done: LabStep[] = [];
  #open: StepRecord | undefined;
  readonly #started = Date.now();

  constructor(sink: StepSink) {
    this.#sink = sink;
  }

  /** Starts a new step (ending the one before) with a command that has run. */
  open(command: string, ran: Ran, note?: string): StepRecord {
    this.flush();
    this.#open = new StepRecord(command, ran, note);
    return this.#open;
  }

  /** Ends the open step: it goes to the sink. */
  flush(): void {
    if (!this.#open) return;
    const step = this.#open.toStep();
    this.#open = undefined;
    this.#done.push(step);
    this.#sink(step);
  }

  report(lab: string, error?: string): LabReport {
    this.flush();
    const all = this.#done.flatMap((s) => s.checks);
    const failed = all.filter((c) => !c.ok).length;
    return {
      lab,
      passed: failed === 0 && error === undefined && all.length > 0,
      steps: [...this.#done],
      checks: { passed: all.length - failed, failed },
      durationMs: Date.now() - this.#started,
      ...(error !== undefined ? { error } : {}),
    };
  }
}
