/**
 * The latency of a reader's reads, for the operator's metrics: when the first nudge (a NOTIFY, a
 * fallback poll) a run serves came, how long each query of `bus_bus` took, and NOTIFY → rows read.
 * One observation per query: never per row or socket. Times are `performance.now()`, as the hub's
 * measure of NOTIFY → socket write.
 */
import type { Metrics } from '../observability/metrics.js';

export class ReadTiming {
  private nudgedAt: number | undefined;

  constructor(private readonly metrics: Metrics) {}

  nudged(): void {
    this.nudgedAt ??= performance.now();
  }

  /** A run starts: the nudges so far are its own, later ones the next run's. */
  take(): number {
    const at = this.nudgedAt ?? performance.now();
    this.nudgedAt = undefined;
    return at;
  }

  /** The run failed: its retry serves its nudges too. */
  giveBack(at: number): void {
    this.nudgedAt = Math.min(at, this.nudgedAt ?? at);
  }

  /** Runs one query of a run that `nudgedAt` started; `first`: the run's first query. */
  async query<T>(nudgedAt: number, first: boolean, query: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await query();
    const ended = performance.now();
    this.metrics.readSeconds.observe((ended - started) / 1000);
    if (first) this.metrics.notifyToReadSeconds.observe((ended - nudgedAt) / 1000);
    return result;
  }
}
