/**
 * Long polling's share of contract 5 (no gap, no duplicate around a subscribe): which rows a poll
 * is answered with besides Odoo's catch-up, and which rows a held poll takes.
 *
 * - every row with an id above the poll's `last`, as Odoo's re-read after a wake-up returns;
 * - also a row below `last` that committed late (it filled a hole in the ids the reader had read),
 *   when the browser's previous poll was answered by this sidecar: the browser cannot have seen
 *   it. Odoo 12-15 never deliver such a row;
 * - never an id the browser already got from Odoo's catch-up before the reader read it (the
 *   session's `expected` ids, `sessions.ts`).
 */
import type { BusReader } from '../../bus/reader.js';
import type { BusRow } from '../../bus/types.js';
import type { PollAnswer } from '../../odoo/pollAnswer.js';
import type { PollSession } from './sessions.js';

/** What the catch-up rules need of an accepted poll. */
export interface CatchUpPoll {
  readonly reader: Pick<BusReader, 'recent' | 'missedBelow' | 'position' | 'hasHole'>;
  /** The browser's `last`, 0 when it sent none it could compare ids with. */
  readonly last: number;
  readonly keys: ReadonlySet<string>;
  readonly session: PollSession | undefined;
}

/** Whether `row` may go to a poll of `session` that sent `last` (see the module comment). */
export function deliverable(row: BusRow, last: number, session: PollSession | undefined): boolean {
  if (session?.expected.has(row.id)) return false;
  if (row.id > last) return true;
  return row.late === true && session?.seq !== undefined;
}

/**
 * The rows read while Odoo was asked (since `readBefore`, the reader's count taken before), or
 * since this browser's previous poll, on the poll's channels, that Odoo's catch-up (`odooIds`)
 * does not carry. Ascending by id.
 */
export function rowsReadSince(
  poll: CatchUpPoll,
  odooIds: ReadonlySet<number>,
  readBefore: number,
  sessionTtlMs: number,
): BusRow[] {
  const { reader, last, keys, session } = poll;
  const continuous = session?.seq !== undefined && last > 0;
  const since = continuous ? (session?.seq as number) : readBefore;
  const rows = reader.recent
    .readSince(since, 0, keys)
    .filter((row) => !odooIds.has(row.id) && deliverable(row, last, session));
  // A browser this sidecar has no memory of (first poll here, or a restart): rows below its
  // `last` that committed late and were read since its memory would have lapsed, which Odoo's
  // catch-up (above `last`) leaves out.
  if (!continuous && last > 0) {
    const found = new Set(rows.map((row) => row.id));
    for (const row of reader.missedBelow(last, keys, sessionTtlMs))
      if (!odooIds.has(row.id) && !found.has(row.id) && !session?.expected.has(row.id))
        rows.push(row);
    rows.sort((a, b) => a.id - b.id);
  }
  return rows;
}

/** Catch-up ids the reader has not read yet: its copy must not reach this browser again. */
export function rememberSentEarly(
  poll: CatchUpPoll,
  notifications: PollAnswer['notifications'],
  now: number,
): void {
  const { session, reader } = poll;
  if (session === undefined) return;
  for (const n of notifications) {
    if (n.id > reader.position || reader.hasHole(n.id)) session.expected.set(n.id, now);
  }
}
