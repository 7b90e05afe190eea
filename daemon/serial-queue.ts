/**
 * Runs async operations one at a time, in arrival order. berthd's state changes (a network
 * record, its bridge, its endpoints, the IPAM pools) span several awaits; running them one
 * after another keeps every check-then-act (subnet overlap, "network has endpoints") true
 * until its act is done. Each operation costs a few milliseconds, so one queue is enough.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every operation queued before it; its outcome is returned as is. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
