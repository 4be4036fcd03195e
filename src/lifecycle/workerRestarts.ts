/**
 * When the primary of `--workers N` replaces a worker that exited, and when it stops trying.
 *
 * - A worker that dies soon after it was started (before `stableMs`) is replaced after a delay that
 *   grows with each such death in a row (capped, jittered: `backoff.ts`), so a worker that keeps
 *   dying does not turn into a tight crash loop. One that ran for a while is replaced at once and
 *   starts the count again.
 * - A worker that exits before it ever listened failed to start. Such failures in a row
 *   (`maxFailedStarts`, across all workers: a port already taken fails every one of them) mean the
 *   next attempt will fail too: the primary gives up with the last worker's reason instead. Any
 *   worker that listens resets the count.
 */
import { type BackoffOptions, backoffDelay } from './backoff.js';

export interface WorkerRestartOptions {
  /** Failed starts in a row before giving up. */
  maxFailedStarts?: number;
  /** A worker that lived this long is considered stable: its death restarts the backoff. */
  stableMs?: number;
  backoff?: BackoffOptions;
  now?: () => number;
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number }
  | { action: 'give-up'; failedStarts: number; reason: string };

interface WorkerState {
  startedAt: number;
  listening: boolean;
  /** What the worker said went wrong (its start-up error), if it said anything. */
  error?: string;
}

export class WorkerRestarts {
  private readonly workers = new Map<number, WorkerState>();
  private failedStarts = 0;
  private shortLives = 0;
  private readonly maxFailedStarts: number;
  private readonly stableMs: number;
  private readonly now: () => number;

  constructor(private readonly options: WorkerRestartOptions = {}) {
    this.maxFailedStarts = options.maxFailedStarts ?? 5;
    this.stableMs = options.stableMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  started(id: number): void {
    this.workers.set(id, { startedAt: this.now(), listening: false });
  }

  listening(id: number): void {
    const worker = this.workers.get(id);
    if (worker) worker.listening = true;
    this.failedStarts = 0;
  }

  /** The worker's own account of why it could not start (sent before it exits). */
  failedWith(id: number, error: string): void {
    const worker = this.workers.get(id);
    if (worker) worker.error = error;
  }

  exited(id: number, how: { code: number | null; signal: string | null }): RestartDecision {
    const worker = this.workers.get(id);
    this.workers.delete(id);
    const lived = worker ? this.now() - worker.startedAt : 0;
    if (lived >= this.stableMs) this.shortLives = 0;
    else this.shortLives++;
    if (worker?.listening !== true) {
      this.failedStarts++;
      if (this.failedStarts >= this.maxFailedStarts) {
        const exit = how.signal ? `signal ${how.signal}` : `exit code ${how.code}`;
        return {
          action: 'give-up',
          failedStarts: this.failedStarts,
          reason: worker?.error ? `${worker.error} (${exit})` : exit,
        };
      }
    }
    return {
      action: 'restart',
      delayMs: this.shortLives === 0 ? 0 : backoffDelay(this.shortLives - 1, this.options.backoff),
    };
  }
}
