/**
 * Teardown that keeps going: every part is tried even when an earlier one failed (addresses
 * are released even when the links are gone), and the first failure is reported at the end.
 */
export class BestEffort {
  private readonly errors: unknown[] = [];

  /** Runs `fn`, remembering its failure instead of throwing it. */
  async attempt(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.errors.push(err);
    }
  }

  /** Throws the first failure, if there was one. */
  done(): void {
    if (this.errors.length) throw this.errors[0];
  }
}
