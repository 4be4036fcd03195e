/**
 * Bounded concurrency for calls to Odoo: at most `concurrency` in flight, at most `queueLimit`
 * waiting. Odoo's HTTP workers are few (`workers = 2` is common) and also serve the browsers; a
 * reconnect storm must queue here instead of exhausting them ("Connection Pool Is Full").
 */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
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

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) {
        throw new QueueFullError(`${this.waiting.length} calls to Odoo already waiting`);
      }
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
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
