/**
 * Bounded concurrency for calls to Odoo: at most `concurrency` in flight, at most `queueLimit`
 * waiting. Odoo's HTTP workers are few (`workers = 2` is common) and also serve the browsers; a
 * reconnect storm must queue here instead of exhausting them ("Connection Pool Is Full").
 */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
}

/** The caller gave up (its socket closed) while the call was still waiting for a slot. */
export class CallAbandonedError extends Error {
  override name = 'CallAbandonedError';
}

export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly queueLimit: number,
    private readonly onChange?: (active: number, queued: number) => void,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Runs `task` when a slot is free. A call whose `signal` aborts while it waits leaves the queue
   * without ever reaching Odoo: a reconnect storm of clients that gave up must not replay itself.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) throw new CallAbandonedError('abandoned before it was queued');
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) {
        throw new QueueFullError(`${this.waiting.length} calls to Odoo already waiting`);
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', abandon);
          resolve();
        };
        const abandon = () => {
          const index = this.waiting.indexOf(wake);
          if (index >= 0) this.waiting.splice(index, 1);
          this.onChange?.(this.active, this.waiting.length);
          reject(new CallAbandonedError('abandoned while waiting for a slot'));
        };
        signal?.addEventListener('abort', abandon, { once: true });
        this.waiting.push(wake);
        this.onChange?.(this.active, this.waiting.length);
      });
    } else {
      this.active++;
      this.onChange?.(this.active, this.waiting.length);
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; `active` is unchanged in that case.
      if (next) next();
      else this.active--;
      this.onChange?.(this.active, this.waiting.length);
    }
  }
}
