/**
 * The hand-off around a subscribe (contract 5: no gap and no duplicate). Odoo's catch-up reflects
 * the instant Odoo ran its query; the reader goes on reading meanwhile, and the subscriber's new
 * channels are registered only once Odoo answered. So, per subscriber:
 *
 * 1. before Odoo is asked: a snapshot of how far each reader had read (`begin`), and, from then on,
 *    a record of the ids the hub hands the subscriber on its current channels (`accepts`);
 * 2. once Odoo answered: Odoo's catch-up merged with the rows read since the snapshot on the new
 *    channels and, for a client coming back, the late rows below its `last` it cannot have
 *    received — ascending, each id once, minus what was recorded (`catchUp`);
 * 3. ids sent that the reader has not read yet (above its position, or holes) are remembered, so
 *    that the reader's copy is not sent again (`accepts` refuses them), until the reader passed
 *    them or the late-commit window is over (`expire`); the late rows a catch-up carried (and the
 *    ids the reader passed, whose read may have been late) are remembered one window more, for
 *    the client's next connection only.
 *
 * A connection's memory outlives it: a catch-up larger than one answer of Odoo is sent in parts
 * (`part`), and the client comes back at once, on a new connection, with the last id of the part;
 * any client may come back after a drop. What its previous connection remembered is parked for the
 * next one (`carry`, `ParkedHandOffs`): the rows the reader had not read yet would otherwise reach
 * the new connection live, and the late rows of a catch-up would be found again below the client's
 * `last` (the late-row rule of `bus/lateRows.ts` holds for frames of one read, not for Odoo's
 * catch-up).
 *
 * Pure: it reads the reader only through `HandOffReader`, and time only through the `now` given.
 */
import type { BusRow, Notification } from '../bus/types.js';

/** What the hand-off reads of one database's reader. */
export interface HandOffReader {
  /** Highest id read; rows at or below it were delivered, except the holes. */
  readonly position: number;
  /** An id below the position that may still commit (watched for a late commit). */
  hasHole(id: number): boolean;
  /** Rows read after read number `afterSeq`, on one of `channels`, with `id > afterId`, by id. */
  readSince(afterSeq: number, afterId: number, channels: ReadonlySet<string>): BusRow[];
  /**
   * Late rows on `channels` below `last` that a client holding `last` has not received, ascending;
   * `readWithinMs`: only those read that recently.
   */
  missedBelow(last: number, channels: ReadonlySet<string>, readWithinMs?: number): BusRow[];
}

/** How many rows each database's reader had read, taken before Odoo is asked. */
export type ReadSnapshot = ReadonlyMap<string, number>;

/** What the merge of one full answer of Odoo needs. */
export interface CatchUpRequest {
  reader: HandOffReader;
  database: string;
  /** The channels the subscriber holds now (registered with the hub). */
  channels: ReadonlySet<string>;
  /** Odoo's catch-up, ascending; empty for a re-validation (only its channels count). */
  odoo: readonly Notification[];
  /** Rows at or below this id are not taken from the rows read meanwhile (Odoo's valid `last`). */
  floor: number;
  /**
   * Late rows read meanwhile are taken at or below the floor too (long polling, a poll continuing
   * the previous one this sidecar answered: rows read since that answer reached nobody; a row
   * below `last` among them committed late, and its browser cannot have it).
   */
  lateBelowFloor?: boolean;
  /**
   * Every item of Odoo's catch-up is taken, sent before or not (long polling: a poll says with its
   * `last` what its browser has, and Odoo's own poll answers everything above it again, to a
   * browser asking again from 0 as well). Only the rows read meanwhile are left out when sent.
   */
  keepOdoo?: boolean;
  /**
   * The `last` of a client coming back (its connection has sent nothing yet), else 0: the late
   * rows below it are added.
   */
  comingBackFrom: number;
  /** Only late rows read that recently (long polling: since its memory of the browser lapsed). */
  missedWithinMs?: number;
  /** Read number to take rows after, instead of the snapshot's (a poll continuing the previous). */
  since?: number;
}

/** Ids sent to a client, each with when the memory of it started (see `expire`). */
type IdMemory = Map<number, number>;

/** What a connection leaves for the one its client opens next (see `ParkedHandOffs`). */
export interface CarriedIds {
  readonly database: string;
  /** The last id the client received: its next subscribe says it. */
  readonly upTo: number;
  readonly early: ReadonlyMap<number, number>;
  readonly late: ReadonlyMap<number, number>;
  /** Rows below `upTo` the client may not have (see `UnsentBelow`). */
  readonly unsent?: UnsentBelow;
}

/**
 * Odoo answers at the instant of its query and the reader may be behind it: a row below the end of
 * Odoo's catch-up that committed after the query is not in it, and when the reader reads it in
 * order (not as a late row) nothing finds it below the client's `last`. Rows read after `since`
 * other than `sent` have not reached the client: after a part, every row read since its snapshot
 * (the part's connection never took its new channels live); after any other connection, the rows
 * read once it stopped.
 */
export interface UnsentBelow {
  readonly since: number;
  /** Ids the client got other than those remembered as early or late. */
  readonly sent: ReadonlySet<number>;
}

/** Whether the reader may still deliver `id` (not read yet, or a hole). */
export function unread(reader: HandOffReader, id: number): boolean {
  return id > reader.position || reader.hasHole(id);
}

/**
 * The hand-off state of one subscriber. Made at its first subscribe and dropped again once
 * `idle` (an idle socket holds none: memory per socket is a headline cost).
 */
export class HandOff {
  private snapshot: ReadSnapshot | undefined;
  /** Ids the hub handed the subscriber while a subscribe was out. */
  private recording: Set<number> | undefined;
  /** Ids sent from a catch-up that the reader has not read yet, with the time sent. */
  private early: IdMemory | undefined;
  /**
   * Ids sent from a catch-up that the reader read as late rows (or may have): only a connection
   * the client opens next needs them (`missedBelow` would find them again), with when kept.
   */
  private late: IdMemory | undefined;
  /** The id ending the last frame written since this object was made. */
  private lastEnd: number | undefined;
  /** What an earlier connection left (taken by the next catch-up), or this one's parts. */
  private unsent: UnsentBelow | undefined;

  /** Odoo is about to be asked: snapshot and start recording. */
  begin(snapshot: ReadSnapshot): void {
    this.snapshot = snapshot;
    this.recording = new Set();
  }

  /** The subscribe is over (answered, failed or abandoned). */
  end(): void {
    this.snapshot = undefined;
    this.recording = undefined;
  }

  get subscribing(): boolean {
    return this.recording !== undefined;
  }

  /** Nothing recorded, nothing remembered: the subscriber may drop this object. */
  get idle(): boolean {
    return (
      this.recording === undefined &&
      this.early === undefined &&
      this.late === undefined &&
      this.unsent === undefined
    );
  }

  /** True while `accepts` would take every row and record nothing (the hub's fast path). */
  get acceptsAll(): boolean {
    return this.recording === undefined && this.early === undefined;
  }

  /** The hub offers the subscriber a row: recorded while subscribing, refused if sent early. */
  accepts(id: number): boolean {
    this.recording?.add(id);
    return !this.early?.has(id);
  }

  /** Takes over what a part parked for this client (see `ParkedHandOffs.take`). */
  adopt(carried: CarriedIds): void {
    for (const [id, at] of carried.early) this.keepEarly(id, at);
    for (const [id, at] of carried.late) this.keepLate(id, at);
    this.unsent = carried.unsent;
  }

  /**
   * The rows to send once Odoo answered in full and the channels are registered: ascending, each
   * id once, none already sent. Remembers those the reader may still deliver.
   */
  catchUp(request: CatchUpRequest, now: number): Notification[] {
    const { reader, channels } = request;
    const since = request.since ?? this.snapshot?.get(request.database) ?? 0;
    const rows = new Map<number, Notification>();
    const take = (row: Notification) => {
      if (!rows.has(row.id) && !this.sent(row.id)) rows.set(row.id, row);
    };
    for (const n of request.odoo) {
      if (request.keepOdoo === true) rows.set(n.id, n);
      else take(n);
    }
    const floor = request.lateBelowFloor === true ? 0 : request.floor;
    for (const row of reader.readSince(since, floor, channels))
      if (row.id > request.floor || row.late === true) take(row);
    for (const row of this.unsentBelow(reader, channels, request.comingBackFrom)) take(row);
    if (request.comingBackFrom > 0)
      for (const row of reader.missedBelow(
        request.comingBackFrom,
        channels,
        request.missedWithinMs,
      ))
        take(row);
    const sorted = [...rows.values()].sort((a, b) => a.id - b.id);
    this.remember(sorted, reader, channels, now);
    this.unsent = undefined;
    return sorted;
  }

  /**
   * Odoo's catch-up was one part of it: its first rows, in id order, minus those already sent
   * (the rows read meanwhile are newer: the client's next subscribe, from the part's last id, gets
   * them).
   */
  part(
    odoo: readonly Notification[],
    reader: HandOffReader,
    database: string,
    channels: ReadonlySet<string>,
    last: number,
    comingBackFrom: number,
    now: number,
  ): Notification[] {
    const rows = new Map<number, Notification>();
    for (const n of odoo) if (!this.sent(n.id)) rows.set(n.id, n);
    // Rows below `last` an earlier connection could not send, and the late rows below a returning
    // client's `last`: the client's next `last` will be above them, where nothing finds them.
    // Odoo's rows are all above `last`: the frame stays ascending.
    for (const row of this.unsentBelow(reader, channels, last))
      if (!this.sent(row.id)) rows.set(row.id, row);
    if (comingBackFrom > 0)
      for (const row of reader.missedBelow(comingBackFrom, channels))
        if (!this.sent(row.id)) rows.set(row.id, row);
    const sorted = [...rows.values()].sort((a, b) => a.id - b.id);
    this.remember(sorted, reader, channels, now);
    const sent = new Set(this.unsent?.sent);
    for (const n of odoo) sent.add(n.id);
    for (const id of rows.keys()) sent.add(id);
    if (this.recording) for (const id of this.recording) sent.add(id);
    this.unsent = { since: this.unsent?.since ?? this.snapshot?.get(database) ?? 0, sent };
    return sorted;
  }

  /**
   * Odoo's answer went to the client as it is, merged with nothing (long polling: a peek, a `last`
   * only Odoo can judge, one part of a large catch-up, 12.0's second read): its ids are remembered
   * as a catch-up's are. `odoo` ascending.
   */
  passedOn(
    odoo: readonly Notification[],
    reader: HandOffReader,
    channels: ReadonlySet<string>,
    now: number,
  ): void {
    this.remember(odoo, reader, channels, now);
  }

  /** Rows below `last` an earlier connection may not have sent (see `UnsentBelow`). */
  private unsentBelow(
    reader: HandOffReader,
    channels: ReadonlySet<string>,
    last: number,
  ): BusRow[] {
    const unsent = this.unsent;
    if (unsent === undefined || last <= 0) return [];
    return reader
      .readSince(unsent.since, 0, channels)
      .filter((row) => row.id < last && !unsent.sent.has(row.id));
  }

  /** A frame ending on `lastId` was written (the `last` its client holds now). */
  frameSent(lastId: number): void {
    this.lastEnd = lastId;
  }

  /**
   * What the client's next connection must know, when this one stops: undefined when nothing
   * (see `ParkedHandOffs`). `lastSent`: the connection's last id, when no frame was written since
   * this object was made; `readCount`: how many rows the reader has read now.
   */
  carry(database: string | undefined, lastSent: number, readCount: number): CarriedIds | undefined {
    if (database === undefined || this.idle) return undefined;
    // Early ids: Odoo was ahead of the reader, which may read rows below them in order.
    const unsent =
      this.unsent ?? (this.early === undefined ? undefined : { since: readCount, sent: new Set() });
    return {
      database,
      upTo: this.lastEnd ?? lastSent,
      early: new Map(this.early),
      late: new Map(this.late),
      ...(unsent === undefined ? {} : { unsent }),
    };
  }

  /**
   * Forgets what no longer matters: an early id the reader has passed moves to the late memory
   * (its read may have been a late one), which lasts one more window; an early id the reader has
   * not read within the window never will be (the reader watches a hole that long).
   */
  expire(reader: HandOffReader | undefined, now: number, windowMs: number): void {
    if (this.recording !== undefined) return;
    if (this.early !== undefined) {
      for (const [id, sentAt] of this.early) {
        if (reader !== undefined && !unread(reader, id)) {
          this.early.delete(id);
          this.keepLate(id, now);
        } else if (now - sentAt > windowMs) this.early.delete(id);
      }
      if (this.early.size === 0) this.early = undefined;
    }
    if (this.late !== undefined) {
      for (const [id, keptAt] of this.late) if (now - keptAt > windowMs) this.late.delete(id);
      if (this.late.size === 0) this.late = undefined;
    }
  }

  private keepEarly(id: number, at: number): void {
    this.early ??= new Map();
    this.early.set(id, at);
  }

  private keepLate(id: number, at: number): void {
    this.late ??= new Map();
    this.late.set(id, at);
  }

  private sent(id: number): boolean {
    return (
      this.recording?.has(id) === true ||
      this.early?.has(id) === true ||
      this.late?.has(id) === true ||
      this.unsent?.sent.has(id) === true
    );
  }

  /**
   * Ids of a catch-up frame the client must not get again: those the reader has not read (it
   * would deliver them), and its late rows already read below the frame's end (a connection
   * coming back from there would find them below its `last`).
   */
  private remember(
    rows: readonly Notification[],
    reader: HandOffReader,
    channels: ReadonlySet<string>,
    now: number,
  ): void {
    const end = rows.at(-1)?.id;
    if (end === undefined) return;
    for (const row of rows) if (unread(reader, row.id)) this.keepEarly(row.id, now);
    const missed = reader.missedBelow(end, channels);
    if (missed.length === 0) return;
    const sent = new Set(rows.map((row) => row.id));
    // Also those an earlier connection sent (still known here: `sent`).
    for (const row of missed) if (sent.has(row.id) || this.sent(row.id)) this.keepLate(row.id, now);
  }
}

/**
 * What stopped connections left for the one their client opens next, by key (the session), for
 * the late-commit window. Taken by a connection that has sent nothing yet and subscribes with
 * exactly the `last` its predecessor's last frame ended on: that is the same client coming back.
 */
export class ParkedHandOffs {
  private readonly parked = new Map<string, { carried: CarriedIds; at: number }>();

  park(key: string, carried: CarriedIds, now: number): void {
    this.parked.set(key, { carried, at: now });
  }

  take(key: string, database: string, last: number): CarriedIds | undefined {
    const entry = this.parked.get(key);
    if (entry === undefined) return undefined;
    const { carried } = entry;
    if (carried.database !== database || carried.upTo !== last) return undefined;
    this.parked.delete(key);
    return carried;
  }

  sweep(now: number, windowMs: number): void {
    for (const [key, entry] of this.parked) if (now - entry.at > windowMs) this.parked.delete(key);
  }

  get size(): number {
    return this.parked.size;
  }
}
