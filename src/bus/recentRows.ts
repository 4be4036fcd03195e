/**
 * The rows read in the last seconds, in read order. They close the gap between the moment Odoo
 * answered a subscribe (its catch-up reflects that instant) and the moment the socket's new channels
 * are registered: rows read in between are found here instead of by a query per socket.
 */
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { BusRow } from './types.js';

export class RecentRows {
  private rows: BusRow[] = [];
  private head = 0;

  constructor(
    private readonly keepMs: number,
    private readonly maxRows = 50_000,
    /** The reader's clock: rows' `readAt` are on it. */
    private readonly clock: Clock = monotonicClock,
  ) {}

  add(rows: readonly BusRow[], now: number): void {
    for (const row of rows) this.rows.push(row);
    this.evict(now);
  }

  /** Rows read after read number `afterSeq`, on one of `channels`, with `id > afterId`, by id. */
  readSince(afterSeq: number, afterId: number, channels: ReadonlySet<string>): BusRow[] {
    this.evict(this.clock());
    const found: BusRow[] = [];
    // Rows are stored in read order, so the scan can start from the end and stop early.
    for (let i = this.rows.length - 1; i >= this.head; i--) {
      const row = this.rows[i] as BusRow;
      if (row.seq <= afterSeq) break;
      if (row.id > afterId && channels.has(row.channel)) found.push(row);
    }
    return found.sort((a, b) => a.id - b.id);
  }

  /** Forgets every row (the table was reset: its ids mean other rows now). */
  clear(): void {
    this.rows = [];
    this.head = 0;
  }

  get size(): number {
    return this.rows.length - this.head;
  }

  private evict(now: number): void {
    const cutoff = now - this.keepMs;
    while (this.head < this.rows.length) {
      const row = this.rows[this.head] as BusRow;
      if (row.readAt >= cutoff && this.rows.length - this.head <= this.maxRows) break;
      this.head++;
    }
    // Compact once the dead prefix dominates, so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }
}
