/**
 * Promises on an object's state rather than on one event: a waiter re-checks its condition each
 * time the owner says something changed (`wake()`), so state reached before the wait began counts
 * too, and no event can slip between a check and a listener.
 */
export class Wakeups {
  private readonly checks = new Set<() => void>();

  wake(): void {
    for (const check of [...this.checks]) check();
  }

  /**
   * Resolves with the first value `probe` returns other than undefined; rejects if `probe` throws
   * (the state can no longer come) or after `timeoutMs`, with `describeTimeout()` as the message.
   */
  until<T>(
    probe: () => T | undefined,
    timeoutMs: number,
    describeTimeout: () => string,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.checks.delete(check);
      };
      const check = (): void => {
        let value: T | undefined;
        try {
          value = probe();
        } catch (error) {
          finish();
          reject(error);
          return;
        }
        if (value === undefined) return;
        finish();
        resolve(value);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(describeTimeout()));
      }, timeoutMs);
      this.checks.add(check);
      check();
    });
  }
}
