/**
 * Ids below the read position that may still appear: ids are taken at INSERT but rows appear at
 * COMMIT, so a lower id can commit after a higher one was read. Each is watched from the moment it
 * was first seen missing (`since`, on the reader's monotonic clock) for the late-commit window.
 */
export class Holes {
  private readonly since = new Map<number, number>();

  constructor(
    private readonly windowMs: number,
    /** Most ids remembered for one gap (a table emptied by GC would otherwise make thousands). */
    private readonly maxPerGap: number,
  ) {}

  get size(): number {
    return this.since.size;
  }

  has(id: number): boolean {
    return this.since.has(id);
  }

  ids(): number[] {
    return [...this.since.keys()];
  }

  /** Every id strictly between `after` and `before` (the newest `maxPerGap` of them); how many. */
  addGap(after: number, before: number, now: number): number {
    const start = Math.max(after + 1, before - this.maxPerGap);
    let added = 0;
    for (let id = start; id < before; id++) {
      if (!this.since.has(id)) added++;
      this.since.set(id, now);
    }
    return added;
  }

  /** One id, watched since `since` (a hole carried over from before a restart). */
  add(id: number, since: number): void {
    this.since.set(id, since);
  }

  /** The row appeared: true if it was a hole. */
  fill(id: number): boolean {
    return this.since.delete(id);
  }

  /** Drops the ids watched for longer than the window; how many. */
  expire(now: number): number {
    const cutoff = now - this.windowMs;
    let expired = 0;
    for (const [id, since] of this.since) {
      if (since < cutoff) {
        this.since.delete(id);
        expired++;
      }
    }
    return expired;
  }

  /** Each id with the time it has left in the window, for the restart journal. */
  remaining(now: number): Array<[id: number, leftMs: number]> {
    const left: Array<[number, number]> = [];
    for (const [id, since] of this.since) {
      const ms = since + this.windowMs - now;
      if (ms > 0) left.push([id, Math.round(ms)]);
    }
    return left;
  }

  clear(): void {
    this.since.clear();
  }
}
