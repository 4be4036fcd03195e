/**
 * At most one log line per key and interval, with the count of the ones left out since: a repeated
 * event (the same proxy mistake on every socket) is said once a minute, not once per socket.
 * Counting stays with the metrics.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
    /** Keys remembered at most (a bounded table, emptied when full). */
    private readonly maxKeys = 1000,
  ) {}

  /** undefined: leave this one out; else log it, with how many were left out before it. */
  take(key: string): { suppressed: number } | undefined {
    const now = this.now();
    const entry = this.last.get(key);
    if (entry !== undefined && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    if (entry === undefined && this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, { at: now, suppressed: 0 });
    return { suppressed: entry?.suppressed ?? 0 };
  }
}
