/**
 * When a reader reads. A nudge (a NOTIFY naming the database, a listener reconnect, the fallback
 * poll) schedules one run; nudges arriving meanwhile are absorbed by it, and a nudge arriving while
 * a run is going schedules exactly one more. Runs start at least `coalesceMs` apart: a nudge after
 * a quiet spell runs at once (once the NOTIFYs received in the same turn of the event loop are in:
 * the NOTIFYs of one commit arrive together), the rest of a burst by one run after the window. A
 * run that fails is retried after the delay it returns. Time is the reader's monotonic clock.
 */
import type { Clock } from '../lifecycle/clock.js';

export interface RunRequest {
  /** A nudge asked for a read. */
  read: boolean;
  /** `askCheck` asked for an identity check (without a read). */
  check: boolean;
}

/** Returns a delay to retry after (the run failed), or undefined. */
export type Run = (request: RunRequest) => Promise<number | undefined>;

export class ReadScheduler {
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private lastRunEnd = Number.NEGATIVE_INFINITY;
  private running = false;
  private readWanted = false;
  private checkWanted = false;
  private stopped = false;
  /** Callers of `idle()` waiting for the run going (or scheduled) to end. */
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly coalesceMs: number,
    private readonly now: Clock,
    private readonly run: Run,
  ) {}

  nudge(): void {
    this.readWanted = true;
    this.schedule();
  }

  /** An identity check in `waitMs`, without a read (one pending at most). */
  askCheck(waitMs: number): void {
    if (this.checkTimer !== undefined || this.stopped) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      this.checkWanted = true;
      this.schedule();
    }, waitMs);
    this.checkTimer.unref();
  }

  /** While the LISTEN connection is down no NOTIFY arrives: poll so that delivery goes on. */
  setPolling(intervalMs: number | undefined): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    if (intervalMs !== undefined && !this.stopped) {
      this.pollTimer = setInterval(() => this.nudge(), intervalMs);
      this.pollTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    const timer = this.timer;
    this.timer = undefined;
    if (timer !== undefined) {
      if ('refresh' in timer) clearTimeout(timer);
      else clearImmediate(timer);
    }
    clearInterval(this.pollTimer);
    clearTimeout(this.checkTimer);
    this.settleIdle();
  }

  /** Resolves when no run is scheduled or going (shutdown drains in-flight deliveries). */
  idle(): Promise<void> {
    if (!this.running && this.timer === undefined) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settleIdle(): void {
    if (this.running || this.timer !== undefined || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.running || this.stopped) return;
    const wait = this.lastRunEnd + this.coalesceMs - this.now();
    this.timer =
      wait > 0 ? setTimeout(() => void this.tick(), wait) : setImmediate(() => void this.tick());
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.running || this.stopped) return this.settleIdle();
    this.running = true;
    const request = { read: this.readWanted, check: this.checkWanted };
    this.readWanted = false;
    this.checkWanted = false;
    const retryInMs = await this.run(request);
    this.running = false;
    this.lastRunEnd = this.now();
    if (this.stopped) return this.settleIdle();
    if (retryInMs !== undefined) {
      // The retry is the next run: nudges meanwhile are served by it.
      this.readWanted = false;
      this.timer = setTimeout(() => void this.tick(), retryInMs);
    } else if (this.readWanted || this.checkWanted) this.schedule();
    this.settleIdle();
  }
}
