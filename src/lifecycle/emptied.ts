/**
 * Promises that resolve when a set of things (the open sockets) becomes empty, each after its own
 * time limit at the latest: a shutdown waits for the moment the last one ends instead of looking
 * at the count every few milliseconds.
 */
export class Emptied {
  private readonly waiters = new Set<() => void>();

  /** Resolves at the next `emptied()`, or after `timeoutMs`; at once when `empty` already. */
  wait(empty: boolean, timeoutMs: number): Promise<void> {
    if (empty) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** The set became empty: every waiter resolves. */
  emptied(): void {
    for (const done of [...this.waiters]) done();
  }
}
