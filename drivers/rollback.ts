/**
 * An explicit undo stack: each step that creates something pushes its inverse right away;
 * on failure the inverses run last-in-first-out, past their own errors.
 */
import { BerthError, asBerthError } from '../core/errors.js';

export class Rollback {
  private readonly undo: { what: string; fn: () => void | Promise<void> }[] = [];

  /** Registers the inverse of a step that has just succeeded. */
  push(what: string, fn: () => void | Promise<void>): void {
    this.undo.push({ what, fn });
  }

  /**
   * Runs the inverses in reverse order and rethrows `cause`, with any undo failures added
   * to its details so that nothing is hidden.
   */
  async fail(cause: unknown): Promise<never> {
    const failures: string[] = [];
    for (const step of this.undo.reverse()) {
      try {
        await step.fn();
      } catch (err) {
        failures.push(`${step.what}: ${asBerthError(err).message}`);
      }
    }
    this.undo.length = 0;
    throw withUndoFailures(cause, failures);
  }

  /** Runs `body`; on any error undoes what was pushed, then rethrows. */
  async run<T>(body: (rb: Rollback) => Promise<T>): Promise<T> {
    try {
      return await body(this);
    } catch (err) {
      return this.fail(err);
    }
  }

  /**
   * `run` for synchronous work (under a file lock, say): every inverse pushed must be
   * synchronous too; one that returns a promise is a programming error, reported as such.
   */
  runSync<T>(body: (rb: Rollback) => T): T {
    try {
      return body(this);
    } catch (cause) {
      const failures: string[] = [];
      for (const step of this.undo.reverse()) {
        try {
          const out = step.fn();
          if (out instanceof Promise) failures.push(`${step.what}: an asynchronous undo inside runSync`);
        } catch (err) {
          failures.push(`${step.what}: ${asBerthError(err).message}`);
        }
      }
      this.undo.length = 0;
      throw withUndoFailures(cause, failures);
    }
  }
}

/** `cause`, with what the undo could not do added to its details. */
function withUndoFailures(cause: unknown, failures: readonly string[]): unknown {
  if (failures.length === 0) return cause;
  const e = asBerthError(cause);
  const details = [e.fields.details, `rollback left: ${failures.join('; ')}`].filter(Boolean).join('; ');
  return new BerthError(e.code, e.message, { ...e.fields, details }, { cause });
}
