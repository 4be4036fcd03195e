/**
 * One held `/longpolling/poll`: a hub subscriber that takes the first batch of rows reaching it on
 * its channels, and is answered (by its server) at once. Which rows it takes:
 *
 * - every row with an id above the poll's `last`, as Odoo's re-read after a wake-up returns;
 * - also a row below `last` that committed late (it filled a hole in the ids the reader had read),
 *   when the browser's previous poll was answered by this sidecar: the browser cannot have seen
 *   it. Odoo 12-15 never deliver such a row;
 * - never an id the browser already got from Odoo's catch-up before the reader read it.
 */
import type { BusRow } from '../../bus/types.js';
import type { EncodedBatch } from '../../hub/encodedBatch.js';
import type { HubSubscriber } from '../../hub/hub.js';
import type { PollSession } from './sessions.js';

/** Whether `row` may go to a poll of `session` that sent `last` (see the module comment). */
export function deliverable(row: BusRow, last: number, session: PollSession | undefined): boolean {
  if (session?.expected.has(row.id)) return false;
  if (row.id > last) return true;
  return row.late === true && session?.seq !== undefined;
}

export class LongPoll implements HubSubscriber {
  private answered = false;

  constructor(
    readonly db: string,
    private readonly last: number,
    readonly session: PollSession | undefined,
    /** Called once, with the first batch that reaches the poll. */
    private readonly onBatch: (batch: EncodedBatch) => void,
  ) {}

  get isAnswered(): boolean {
    return this.answered;
  }

  /** No batch is taken once the poll has been answered (timeout, revocation, disconnect). */
  close(): void {
    this.answered = true;
  }

  accepts(row: BusRow): boolean {
    return !this.answered && deliverable(row, this.last, this.session);
  }

  /** A poll takes only some rows (`deliverable`): each is asked. */
  get acceptsAll(): boolean {
    return false;
  }

  send(batch: EncodedBatch): void {
    if (this.answered) return;
    this.answered = true;
    this.onBatch(batch);
  }
}
