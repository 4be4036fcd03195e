/**
 * The rows that committed late (each filled a hole: a higher id had been read first), kept for the
 * late-commit window so that a client coming back with `last` above such a row still gets it.
 *
 * Why the rule is exact. Odoo's client keeps as `last` the id ending the last frame it received,
 * and every frame the sidecar sends to a socket holds the rows of one read, ascending. So a client
 * whose `last` is L has not received a row read after the read that returned L, unless a later
 * frame changed its `last`. A row read after L with a lower id is exactly a late row whose read
 * started with the read position already at L or above (`readAfter`): the client cannot have it.
 * A row that was read in the same read as L came in the same frame, and one read before L is older
 * news. Rows that committed while the sidecar was stopped (the restart journal) were never read by
 * anyone before: their `readAfter` is infinite.
 *
 * Long polling's client keeps the highest id it ever received instead: there a row read after its
 * `last` may have reached it all the same, while it was polling. Its server asks only for rows read
 * since the browser last polled (`readWithinMs`), which it cannot have received.
 */
import type { BusRow } from './types.js';

interface LateRow {
  row: BusRow;
  /** The read position when the read that found this row started. */
  readAfter: number;
  keptAt: number;
}

export class LateRows {
  private entries: LateRow[] = [];
  /** Entries before `head` are gone (compacted once they dominate). */
  private head = 0;
  private readonly byId = new Map<number, LateRow>();

  constructor(
    private readonly keepMs: number,
    private readonly maxRows = 20_000,
  ) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  add(row: BusRow, readAfter: number, now: number): void {
    const entry = { row, readAfter, keptAt: now };
    this.entries.push(entry);
    this.byId.set(row.id, entry);
    this.evict(now);
  }

  /**
   * Rows on `channels` a client whose `last` is `last` has not received: late rows below it,
   * read after it (see the module comment), ascending by id.
   */
  missedBelow(
    last: number,
    channels: ReadonlySet<string>,
    now: number,
    readWithinMs = Number.POSITIVE_INFINITY,
  ): BusRow[] {
    this.evict(now);
    if (last <= 0 || this.size === 0) return [];
    const readSince = now - readWithinMs;
    // `last` itself may have been late: rows read before it reached the client before it did.
    const lastEntry = this.byId.get(last);
    const found: BusRow[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const { row, readAfter, keptAt } = this.entries[i] as LateRow;
      if (keptAt < readSince) continue;
      if (row.id >= last || last > readAfter || !channels.has(row.channel)) continue;
      if (lastEntry !== undefined && lastEntry.row.seq > row.seq) continue;
      found.push(row);
    }
    return found.sort((a, b) => a.id - b.id);
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.byId.clear();
  }

  private evict(now: number): void {
    const cutoff = now - this.keepMs;
    while (this.head < this.entries.length) {
      const oldest = this.entries[this.head] as LateRow;
      if (oldest.keptAt >= cutoff && this.size <= this.maxRows) break;
      if (this.byId.get(oldest.row.id) === oldest) this.byId.delete(oldest.row.id);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
