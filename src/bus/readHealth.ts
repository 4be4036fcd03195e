/**
 * Whether one database's reads work, and how long to wait before the next try when they do not:
 * capped, jittered backoff (100 ms doubling to 5 s) that starts over after a run that worked. The
 * first failure of a kind is logged with its fix; repeats go to debug. `readersFailing` counts the
 * databases failing now, each once.
 */
import { type ConnectFailure, classifyConnectError, FailureLog } from '../db/connectErrors.js';
import { type BackoffOptions, backoffDelay } from '../lifecycle/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { UnrepresentableIdError } from './busId.js';

export interface ReadHealthOptions {
  database: string;
  logger: Logger;
  metrics: Metrics;
  /** What a failed read means and what to change (`ReadPools.classify`). */
  classify?: (error: unknown) => ConnectFailure;
  /** Tests fix the jitter. */
  backoff?: BackoffOptions;
}

const READ_BACKOFF = { baseMs: 100, maxMs: 5000 };

export class ReadHealth {
  private attempts = 0;
  private lastError: Error | undefined;
  private stopped = false;
  private readonly log: FailureLog;

  constructor(private readonly options: ReadHealthOptions) {
    this.log = new FailureLog(options.logger, `reads of bus_bus in ${options.database}`);
  }

  get healthy(): boolean {
    return this.lastError === undefined;
  }

  /** Why this database's rows are not being delivered (undefined while they are). */
  get failure(): string | undefined {
    const error = this.lastError;
    if (error === undefined) return undefined;
    // A connection's failure says what to change; a refused id says it itself.
    return error instanceof UnrepresentableIdError
      ? error.message
      : (this.log.problem ?? error.message);
  }

  /** A run worked: the next failure waits the shortest delay again. */
  succeeded(): void {
    this.attempts = 0;
    if (this.lastError !== undefined)
      this.log.recovered('reads work again', { database: this.options.database });
    this.set(undefined);
  }

  /** A run failed with the read position at `position`: logs it, returns the delay of the retry. */
  failed(error: Error, position: number): number {
    const delay = backoffDelay(this.attempts++, { ...READ_BACKOFF, ...this.options.backoff });
    const { logger, metrics, database } = this.options;
    const repeated = this.lastError?.message === error.message;
    this.set(error);
    metrics.reads.labels('error').inc();
    if (error instanceof UnrepresentableIdError) {
      metrics.unrepresentableIds.inc();
      if (!repeated) logger.error({ database, id: error.idText }, error.message);
      return delay;
    }
    this.log.failed(
      this.classify(error),
      'read failed, the read position stays, nothing is skipped',
      {
        database,
        position,
        retryInMs: delay,
      },
    );
    return delay;
  }

  /** The reader stopped: it no longer counts among the failing ones. */
  stop(): void {
    if (this.stopped) return;
    if (this.lastError) this.options.metrics.readersFailing.dec();
    this.stopped = true;
  }

  private set(error: Error | undefined): void {
    if ((this.lastError === undefined) !== (error === undefined) && !this.stopped)
      this.options.metrics.readersFailing.inc(error === undefined ? -1 : 1);
    this.lastError = error;
  }

  private classify(error: unknown): ConnectFailure {
    return (
      this.options.classify?.(error) ??
      classifyConnectError(error, {
        host: '?',
        port: 0,
        user: '?',
        database: this.options.database,
        purpose: 'read',
      })
    );
  }
}
