/**
 * Long polling's side of contract 5 (no gap, no duplicate around a subscribe), on the hand-off
 * (`../handOff.ts`). Which rows a poll gets besides Odoo's catch-up, at once or while held:
 *
 * - every row with an id above the poll's `last`, as Odoo's re-read after a wake-up returns;
 * - also a row below `last` that committed late (it filled a hole in the ids the reader had read),
 *   when the browser's previous poll was answered by this sidecar (`seq` of its session): the
 *   browser cannot have seen it. Odoo 12-15 never deliver such a row;
 * - for a browser this sidecar has no memory of (a first poll here, or a restart), the late rows
 *   below its `last` read since its memory would have lapsed, which Odoo's catch-up leaves out;
 * - never a row read that the browser already got (from Odoo's catch-up before the reader read
 *   it, or among the rows read): the session's hand-off remembers them. Odoo's catch-up itself
 *   goes whole: the browser's `last` says what it has, and Odoo's own poll answers everything
 *   above it, to a browser asking again from 0 as well.
 *
 * The hand-off's memory is the session's, created when there is something to remember and
 * dropped when its sweep (`sessions.ts`) leaves nothing. A poll is never recording: rows the hub
 * hands a poll answer it, so there are none to leave out of the next catch-up but those sent.
 * Odoo's items without a row (`id: -1`, 12.0's im_status) are not the hand-off's: they pass.
 */
import type { ReaderView } from '../../bus/readerView.js';
import type { BusRow, Notification } from '../../bus/types.js';
import type { PollNotification } from '../../odoo/pollAnswer.js';
import { HandOff } from '../handOff.js';
import type { PollSession } from './sessions.js';

/** What the catch-up rules need of an accepted poll. */
export interface CatchUpPoll {
  readonly db: string;
  readonly reader: ReaderView;
  /** The browser's `last`, 0 when it sent none it could compare ids with. */
  readonly last: number;
  readonly keys: ReadonlySet<string>;
  readonly session: PollSession | undefined;
}

/** What a poll is answered with: Odoo's items it may get, and rows found by the sidecar. */
export interface CatchUp {
  readonly odoo: PollNotification[];
  readonly rows: BusRow[];
}

/** Whether `row` may go to a poll of `session` that sent `last` (see the module comment). */
export function deliverable(row: BusRow, last: number, session: PollSession | undefined): boolean {
  if (session?.handOff?.accepts(row.id) === false) return false;
  if (row.id > last) return true;
  return row.late === true && session?.seq !== undefined;
}

/**
 * Odoo's catch-up merged with the rows read on the poll's channels while Odoo was asked (since
 * `readBefore`, the reader's count taken before), or since the browser's previous poll.
 */
export function catchUp(
  poll: CatchUpPoll,
  odoo: readonly PollNotification[],
  readBefore: number,
  sessionTtlMs: number,
  now: number,
): CatchUp {
  const { last, session } = poll;
  const continuous = session?.seq !== undefined && last > 0;
  const handOff = session?.handOff ?? new HandOff();
  const { items, extra, texts } = split(odoo);
  const merged = handOff.catchUp(
    {
      reader: poll.reader,
      database: poll.db,
      channels: poll.keys,
      odoo: items,
      floor: last,
      lateBelowFloor: continuous,
      keepOdoo: true,
      comingBackFrom: continuous ? 0 : last,
      missedWithinMs: sessionTtlMs,
      since: continuous ? (session?.seq as number) : readBefore,
    },
    now,
  );
  keep(session, handOff);
  const kept: PollNotification[] = [];
  const rows: BusRow[] = [];
  for (const n of merged) {
    const text = texts.get(n.id);
    if (text !== undefined) kept.push({ id: n.id, text });
    else if (isRow(n)) rows.push(n);
  }
  return { odoo: [...kept, ...extra], rows };
}

/**
 * Odoo's items sent as they are, merged with nothing (a peek, a `last` that is no id, one part of
 * a large catch-up, 12.0's second read): remembered as sent.
 */
export function passedOn(poll: CatchUpPoll, odoo: readonly PollNotification[], now: number): void {
  const handOff = poll.session?.handOff ?? new HandOff();
  const { items } = split(odoo);
  items.sort((a, b) => a.id - b.id);
  handOff.passedOn(items, poll.reader, poll.keys, now);
  keep(poll.session, handOff);
}

/** Odoo's items with a row, for the hand-off, and those without (12.0's im_status). */
function split(odoo: readonly PollNotification[]): {
  items: Notification[];
  extra: PollNotification[];
  texts: Map<number, string>;
} {
  const items: Notification[] = [];
  const extra: PollNotification[] = [];
  const texts = new Map<number, string>();
  for (const n of odoo) {
    if (n.id < 0) extra.push(n);
    else {
      items.push({ id: n.id, message: n.text });
      texts.set(n.id, n.text);
    }
  }
  return { items, extra, texts };
}

/** The hand-off returns the reader's rows as the reader gave them. */
function isRow(n: Notification): n is BusRow {
  return 'channel' in n && 'seq' in n;
}

function keep(session: PollSession | undefined, handOff: HandOff): void {
  if (session !== undefined) session.handOff = handOff.idle ? undefined : handOff;
}
