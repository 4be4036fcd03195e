/**
 * Reads `bus_bus` of one Odoo database: one query per burst, whatever the number of sockets.
 *
 * Lifecycle
 * - start: the rows of the last `initLookbackRows` ids are read once (`readerStart.ts`): the
 *   highest id becomes the read position `high`, every id of that range missing just below a row
 *   created within the late-commit window becomes a hole, the rows of the last
 *   `initLookbackSeconds` go to the recent-rows memory, and the holes the previous process was
 *   watching (the restart journal, `journal.ts`) are looked up: those that committed while it was
 *   stopped are kept as late rows for clients coming back, the others are watched on.
 * - runs: nudges are coalesced into runs (`readScheduler.ts`); a run reads pages of
 *   `id > high OR id = ANY(holes)` (`readQuery.ts`), bounded by rows and by bytes, while pages
 *   are full.
 * - holes: ids are taken at INSERT but rows appear at COMMIT, so a lower id can show up after a
 *   higher one was read. Every id skipped between two read rows is watched for
 *   `lateCommitWindowMs` and asked for again by each run; when it appears it is delivered once,
 *   and kept among the late rows (`lateRows.ts`) for clients that come back with a `last` above it.
 * - delivery before progress: the read position and the holes move only once a page's rows were
 *   handed to the hub; a failure anywhere keeps them where they were and retries with backoff
 *   (`readHealth.ts`: the delay, the log line, the readiness), so nothing is skipped.
 * - identity: a `TRUNCATE ... RESTART IDENTITY` or a database re-created under the same name would
 *   silence the database (every new id at or below the read position). The reader compares the
 *   database's oid and the id sequence with what it saw (`identity.ts`) every `identityCheckMs` and
 *   after a read that found nothing, and starts over when either went back.
 * - ids past 2^53 - 1 cannot reach a JavaScript client exactly: the reader delivers what precedes
 *   them, stops there and reports the database as failing (`busId.ts`).
 *
 * Every row is read by id range, not filtered by channel: that is what lets the holes be exact, and
 * each row is read once per database, however many sockets it goes to. Rows whose message is not
 * valid JSON, or larger than `maxRowBytes`, are counted and skipped with a log line
 * (`rowDecoder.ts`). Every deadline runs on a monotonic clock (`clock.ts`).
 */
import type pg from 'pg';
import type { ConnectFailure } from '../db/connectErrors.js';
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { UnrepresentableIdError } from './busId.js';
import { Holes } from './holes.js';
import { type TableIdentity, TableWatch } from './identity.js';
import type { HoleJournal } from './journal.js';
import { LateRows } from './lateRows.js';
import { carryOver, readStart } from './readerStart.js';
import { ReadHealth } from './readHealth.js';
import { type PageRow, readPage } from './readQuery.js';
import { ReadScheduler, type RunRequest } from './readScheduler.js';
import { ReadTiming } from './readTiming.js';
import { RecentRows } from './recentRows.js';
import { RowDecoder } from './rowDecoder.js';
import type { BusRow } from './types.js';

export interface ReaderOptions {
  database: string;
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  /** What a failed read means and what to change (`ReadPools.classify`). */
  classify?: (error: unknown) => ConnectFailure;
  /** Receives each batch of new rows, ascending by id, and when its read's first nudge came. */
  deliver: (database: string, rows: BusRow[], nudgedAt: number) => void;
  coalesceMs: number;
  batchSize: number;
  lateCommitWindowMs: number;
  recentRowsMs: number;
  /** Largest frame: a page of rows weighs at most this much (one row alone may weigh more). */
  maxFrameBytes: number;
  /** Rows with a larger message are skipped (and said so). */
  maxRowBytes: number;
  journal?: HoleJournal;
  /** Monotonic clock of every deadline; tests inject one. */
  now?: Clock;
}

/** Rows (the last ids) and seconds read once at start (`readerStart.ts`). */
const INIT_LOOKBACK_ROWS = 2000;
const INIT_LOOKBACK_SECONDS = 10;
/** Most ids remembered for one gap (a table emptied by GC would otherwise make thousands). */
const MAX_HOLES_PER_GAP = 1000;
/** How often the database's oid and id sequence are compared with what the reader saw. */
const IDENTITY_CHECK_MS = 10_000;

/** How soon after a check a read that found nothing may check the identity again. */
const SUSPICION_CHECK_MS = 1000;

export class BusReader {
  /** Highest id read so far. */
  private high = 0;
  private readonly holes: Holes;
  readonly recent: RecentRows;
  private readonly late: LateRows;
  private readonly decoder: RowDecoder;
  private readonly watch: TableWatch;
  private readonly scheduler: ReadScheduler;
  private initPromise: Promise<void> | undefined;
  private stopped = false;
  private readonly health: ReadHealth;
  private readonly timing: ReadTiming;
  private readonly now: Clock;

  constructor(private readonly options: ReaderOptions) {
    this.timing = new ReadTiming(options.metrics);
    this.health = new ReadHealth(options);
    this.now = options.now ?? monotonicClock;
    this.holes = new Holes(options.lateCommitWindowMs, MAX_HOLES_PER_GAP);
    this.recent = new RecentRows(options.recentRowsMs, 50_000, this.now);
    this.late = new LateRows(options.lateCommitWindowMs);
    this.decoder = new RowDecoder(options);
    this.watch = new TableWatch({ ...options, now: this.now });
    this.scheduler = new ReadScheduler(options.coalesceMs, this.now, (request) =>
      this.run(request),
    );
  }

  get database(): string {
    return this.options.database;
  }

  /** Highest id read; rows at or below it were delivered, except the holes. */
  get position(): number {
    return this.high;
  }

  /** Number of the last row read: rows read later have a higher `seq`. */
  get readCount(): number {
    return this.decoder.seq;
  }

  get healthy(): boolean {
    return this.health.healthy;
  }

  /** Why this database's rows are not being delivered (undefined while they are). */
  get failure(): string | undefined {
    return this.health.failure;
  }

  hasHole(id: number): boolean {
    return this.holes.has(id);
  }

  /** Rows read after read number `afterSeq`, on `channels`, with `id > afterId` (`RecentRows`). */
  readSince(afterSeq: number, afterId: number, channels: ReadonlySet<string>): BusRow[] {
    return this.recent.readSince(afterSeq, afterId, channels);
  }

  get holeCount(): number {
    return this.holes.size;
  }

  /**
   * Rows on `channels` that a client coming back with `last` has not received although they are
   * below it: they committed late, after it had got `last` (see `lateRows.ts`). Ascending.
   * `readWithinMs`: only rows read that recently (a client whose `last` is the highest id seen).
   */
  missedBelow(last: number, channels: ReadonlySet<string>, readWithinMs?: number): BusRow[] {
    return this.late.missedBelow(last, channels, this.now(), readWithinMs);
  }

  /** Resolves once the read position is known; retried by later calls if it failed. */
  ready(): Promise<void> {
    this.initPromise ??= this.init().catch((error: unknown) => {
      this.initPromise = undefined;
      // A run retries the start with backoff until it succeeds, and reports why it does not.
      this.nudge();
      throw error;
    });
    return this.initPromise;
  }

  nudge(): void {
    if (this.stopped) return;
    this.timing.nudged();
    this.scheduler.nudge();
  }

  /** While the LISTEN connection is down no NOTIFY arrives: poll so that delivery goes on. */
  setPolling(intervalMs: number | undefined): void {
    this.scheduler.setPolling(intervalMs);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduler.stop();
    this.options.journal?.cancel();
    this.saveJournal();
    this.health.stop();
  }

  /** Resolves when no read is scheduled or running (shutdown drains in-flight deliveries). */
  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  private async init(): Promise<void> {
    const { pool, database, maxRowBytes, lateCommitWindowMs } = this.options;
    const identity = await this.watch.start();
    const lookbackRows = INIT_LOOKBACK_ROWS;
    const start = await readStart(pool, database, {
      lookbackRows,
      recentSeconds: INIT_LOOKBACK_SECONDS,
      windowSeconds: lateCommitWindowMs / 1000,
      maxRowBytes,
    });
    const now = this.now();
    this.high = start.maxId;
    // A transaction that took an id just before a recent row may still be running (a long cron
    // or import): the ids missing there are watched like any hole, from the start of the id range
    // read (its ids without a row are known to be missing). Ids deleted by Odoo's GC or rolled
    // back are watched too and simply expire.
    let previous = Math.max(0, start.maxId - lookbackRows);
    for (const row of start.rows) {
      if (row.fresh) this.holes.addGap(previous, row.id, now);
      previous = row.id;
    }
    this.recent.add(
      this.decoder.rows(
        start.rows.filter((r) => r.recent),
        now,
      ),
      now,
    );
    const carried = await this.carryOverJournal(identity, now);
    this.options.metrics.holes.set(this.holes.size);
    this.saveJournal();
    this.options.logger.info(
      {
        database,
        position: this.high,
        holes: this.holes.size,
        committedWhileStopped: carried,
      },
      'bus reader ready',
    );
  }

  /** The previous process's holes: committed since → late rows; still missing → holes. */
  private async carryOverJournal(identity: TableIdentity, now: number): Promise<number> {
    const { journal, pool, database, maxRowBytes, lateCommitWindowMs } = this.options;
    if (journal === undefined) return 0;
    const saved = journal
      .load(database, identity.oid, this.wallNow())
      .filter(([id]) => id <= this.high);
    const { committed, missing } = await carryOver(pool, database, saved, maxRowBytes);
    for (const [id, leftMs] of missing) this.holes.add(id, now - (lateCommitWindowMs - leftMs));
    const rows = this.decoder.rows(committed, now, new Set(committed.map((row) => row.id)));
    // Nobody received these: every client coming back with a `last` above them needs them.
    for (const row of rows) this.late.add(row, Number.POSITIVE_INFINITY, now);
    if (rows.length > 0) {
      this.options.metrics.restartRows.inc(rows.length);
      this.options.logger.info(
        { database, ids: rows.map((row) => row.id).slice(0, 20), count: rows.length },
        'rows committed while the sidecar was stopped: kept for the clients coming back',
      );
    }
    return rows.length;
  }

  /** One scheduled run: a read (when asked, or retrying), the identity check when due. */
  private async run(request: RunRequest): Promise<number | undefined> {
    const nudgedAt = this.timing.take();
    try {
      await this.ready();
      const failing = !this.health.healthy;
      const checkDue = failing || request.check || this.watch.sinceCheckMs >= IDENTITY_CHECK_MS;
      const reset = checkDue && (await this.verifyIdentity());
      // A read that finds nothing is what a reset table looks like: every new id is below us.
      if ((request.read || failing || reset) && !(await this.readAll(nudgedAt)) && !reset) {
        const wait = SUSPICION_CHECK_MS - this.watch.sinceCheckMs;
        if (wait > 0) this.scheduler.askCheck(wait);
        else if (await this.verifyIdentity()) await this.readAll(nudgedAt);
      }
      this.health.succeeded();
      return undefined;
    } catch (error) {
      this.timing.giveBack(nudgedAt);
      return this.health.failed(error as Error, this.high);
    }
  }

  /** Reads pages until one is not full; whether any row came back. */
  private async readAll(nudgedAt: number): Promise<boolean> {
    let found = false;
    for (let first = true; ; first = false) {
      const now = this.now();
      const expired = this.holes.expire(now);
      if (expired > 0) {
        this.options.metrics.holesExpired.inc(expired);
        this.options.metrics.holes.set(this.holes.size);
      }
      const page = await this.timing.query(nudgedAt, first, () =>
        readPage(this.options.pool, {
          after: this.high,
          holes: this.holes.ids(),
          batchSize: this.options.batchSize,
          budgetBytes: this.options.maxFrameBytes,
          maxRowBytes: this.options.maxRowBytes,
        }),
      );
      this.options.metrics.reads.labels('ok').inc();
      if (page.rows.length > 0) {
        found = true;
        this.absorb(page.rows, now, nudgedAt);
      }
      if (page.unrepresentableId !== undefined)
        throw new UnrepresentableIdError(this.database, page.unrepresentableId);
      if (!page.more || this.stopped) return found;
    }
  }

  /**
   * Hands a page to the hub, then moves the read position over it. The holes it reveals are
   * recorded (and journaled) first: if delivery fails, the same page is read again.
   */
  private absorb(fetched: PageRow[], now: number, nudgedAt: number): void {
    const readAfter = this.high;
    let high = this.high;
    let revealed = 0;
    const late = new Set<number>();
    for (const row of fetched) {
      if (row.id > high) {
        revealed += this.holes.addGap(high, row.id, now);
        high = row.id;
      } else if (this.holes.has(row.id)) late.add(row.id);
    }
    if (revealed > 0) this.saveJournal();
    const rows = this.decoder.rows(fetched, now, late);
    if (rows.length > 0) this.options.deliver(this.database, rows, nudgedAt);
    this.high = high;
    for (const id of late) this.holes.fill(id);
    for (const row of rows) if (row.late) this.late.add(row, readAfter, now);
    this.recent.add(rows, now);
    const { metrics } = this.options;
    if (late.size > 0) {
      metrics.lateRows.inc(late.size);
      // Filled holes: only a needless re-send after a crash is at stake meanwhile.
      this.saveJournal(true);
    }
    metrics.holes.set(this.holes.size);
    metrics.rowsRead.inc(fetched.length);
  }

  /** Compares the table with the one the reader started on; true if it started over. */
  private async verifyIdentity(): Promise<boolean> {
    const reset = await this.watch.check(this.high);
    if (reset === undefined) return false;
    this.holes.clear();
    this.late.clear();
    this.recent.clear();
    this.high = reset.position;
    this.options.metrics.holes.set(this.holes.size);
    this.saveJournal();
    return true;
  }

  /** Wall clock, for the journal only (it must outlive the process). */
  private wallNow(): number {
    return Date.now();
  }

  /** The holes to the journal now (see `journal.ts` for when), or `soon` (within 100 ms). */
  private saveJournal(soon = false): void {
    const oid = this.watch.oid;
    const journal = this.options.journal;
    if (journal === undefined || oid === undefined) return;
    const save = () =>
      journal.save(this.database, oid, this.holes.remaining(this.now()), this.wallNow());
    if (soon) journal.saveSoon(save);
    else save();
  }
}
