/**
 * What a transport may know of the readers: the narrow side of `BusReader` that closes the gap
 * around a subscribe (contract 5, no gap and no duplicate), and nothing that does I/O on its own
 * except `ready`.
 *
 * `ReaderView` (one database's reader):
 * - `database`: the reader's own string for the database (every subscriber of it shares it).
 * - `readCount`: number of the last row read; rows read later carry a higher `seq`. Taken before
 *   Odoo is asked for a catch-up, it marks what the catch-up cannot have seen.
 * - `position`: highest id read; every row at or below it was handed to the hub, except the holes.
 * - `hasHole(id)`: the id is below `position` but its row has not been read (a transaction that has
 *   not committed yet, or never will): the reader may still deliver it later.
 * - `readSince(afterSeq, afterId, channels)`: rows read after read number `afterSeq`, above
 *   `afterId`, on one of `channels`, ascending by id (the rows read while Odoo was answering; the
 *   recent rows, `recentRows.ts`).
 * - `missedBelow(last, channels, readWithinMs?)`: rows below a client's `last` it cannot have
 *   received because they committed late, ascending.
 * - `ready()`: resolves once `position` is known (the first read of the table).
 *
 * `ReaderViews` (every database's): `reader(db)` creates the reader on first use,
 * `existingReader(db)` never does, `readCounts()` is every reader's `readCount` at once.
 *
 * `BusReader` and `BusReaders` implement these; `sidecar.ts` hands them to the transports, and a
 * test may hand a fake.
 */
import type { BusRow } from './types.js';

export interface ReaderView {
  readonly database: string;
  readonly readCount: number;
  readonly position: number;
  hasHole(id: number): boolean;
  readSince(afterSeq: number, afterId: number, channels: ReadonlySet<string>): BusRow[];
  missedBelow(last: number, channels: ReadonlySet<string>, readWithinMs?: number): BusRow[];
  ready(): Promise<void>;
}

export interface ReaderViews {
  reader(database: string): ReaderView;
  existingReader(database: string): ReaderView | undefined;
  readCounts(): Map<string, number>;
}
