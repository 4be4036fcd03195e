/**
 * Reads `bus_bus` of one Odoo database: one query per burst, whatever the number of sockets.
 *
 * Lifecycle
 * - start: the last `initLookbackRows` rows (by id) are read once (`readerStart.ts`): the highest
 *   id becomes the read position `high`, every id missing among them becomes a hole (it may belong
 *   to a transaction still running), and the rows of the last `initLookbackSeconds` go to the
 *   recent-rows memory.
 * - runs: nudges are coalesced into runs (`readScheduler.ts`); a run reads pages of
 *   `id > high OR id = ANY(holes)` (`readQuery.ts`), bounded by rows and by bytes, while pages
 *   are full.
 * - holes: ids are taken at INSERT but rows appear at COMMIT, so a lower id can show up after a
 *   higher one was read. Every id skipped between two read rows is watched for
 *   `lateCommitWindowMs` and asked for again by each run; when it appears it is delivered once.
 * - delivery before progress: the read position and the holes move only once a page's rows were
 *   handed to the hub; a failure anywhere keeps them where they were and retries with backoff, so
 *   nothing is skipped.
 * - ids past 2^53 - 1 cannot reach a JavaScript client exactly: the reader delivers what precedes
 *   them, stops there and reports the database as failing (`busId.ts`).
 *
 * Every row is read by id range, not filtered by channel: that is what lets the holes be exact, and
 * each row is read once per database, however many sockets it goes to. Rows whose message is not
 * valid JSON, or larger than `maxRowBytes`, are counted and skipped with a log line
 * (`rowDecoder.ts`). Every deadline runs on a monotonic clock (`clock.ts`).
 */
import type pg from 'pg';
import { backoffDelay } from '../lifecycle/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { UnrepresentableIdError } from './busId.js';
import { type Clock, monotonicClock } from './clock.js';
import { Holes } from './holes.js';
import { readStart } from './readerStart.js';
import { type PageRow, readPage } from './readQuery.js';
import { ReadScheduler } from './readScheduler.js';
import { RecentRows } from './recentRows.js';
import { RowDecoder } from './rowDecoder.js';
import type { BusRow } from './types.js';

export interface ReaderOptions {
  database: string;
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  /** Receives each batch of new rows, ascending by id. */
  deliver: (database: string, rows: BusRow[]) => void;
  coalesceMs: number;
  batchSize: number;
  lateCommitWindowMs: number;
  recentRowsMs: number;
  /** Largest frame: a page of rows weighs at most this much (one row alone may weigh more). */
  maxFrameBytes: number;
  /** Rows with a larger message are skipped (and said so). */
  maxRowBytes: number;
  initLookbackRows?: number;
  initLookbackSeconds?: number;
  /** Most ids remembered for one gap (a table emptied by GC would otherwise make thousands). */
  maxHolesPerGap?: number;
  /** Monotonic clock of every deadline; tests inject one. */
  now?: Clock;
}

export class BusReader {
  /** Highest id read so far. */
  private high = 0;
  private readonly holes: Holes;
  readonly recent: RecentRows;
  private readonly decoder: RowDecoder;
  private readonly scheduler: ReadScheduler;
  private initPromise: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private lastError: Error | undefined;
  private readonly now: Clock;

  constructor(private readonly options: ReaderOptions) {
    this.now = options.now ?? monotonicClock;
    this.holes = new Holes(options.lateCommitWindowMs, options.maxHolesPerGap ?? 1000);
    this.recent = new RecentRows(options.recentRowsMs, 50_000, this.now);
    this.decoder = new RowDecoder(options);
    this.scheduler = new ReadScheduler(options.coalesceMs, this.now, () => this.run());
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
    return this.lastError === undefined;
  }

  /** Why this database's rows are not being delivered (undefined while they are). */
  get failure(): string | undefined {
    return this.lastError?.message;
  }

  hasHole(id: number): boolean {
    return this.holes.has(id);
  }

  /** Resolves once the read position is known; retried by later calls if it failed. */
  ready(): Promise<void> {
    this.initPromise ??= this.init().catch((error: unknown) => {
      this.initPromise = undefined;
      this.setFailure(error as Error);
      throw error;
    });
    return this.initPromise;
  }

  nudge(): void {
    if (!this.stopped) this.scheduler.nudge();
  }

  /** While the LISTEN connection is down no NOTIFY arrives: poll so that delivery goes on. */
  setPolling(intervalMs: number | undefined): void {
    this.scheduler.setPolling(intervalMs);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduler.stop();
    if (this.lastError) this.options.metrics.readersFailing.dec();
  }

  /** Resolves when no read is scheduled or running (shutdown drains in-flight deliveries). */
  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  private async init(): Promise<void> {
    const { pool, database, maxRowBytes, lateCommitWindowMs } = this.options;
    const start = await readStart(pool, database, {
      lookbackRows: this.options.initLookbackRows ?? 2000,
      recentSeconds: this.options.initLookbackSeconds ?? 10,
      windowSeconds: lateCommitWindowMs / 1000,
      maxRowBytes,
    });
    const now = this.now();
    this.high = start.maxId;
    // Every id missing among the last rows may belong to a transaction still running (a long cron
    // or import); each is watched for the late-commit window like any hole. Ids deleted by Odoo's
    // GC are watched too and simply expire.
    let previous: number | undefined;
    for (const row of start.rows) {
      if (previous !== undefined) this.holes.addGap(previous, row.id, now);
      previous = row.id;
    }
    this.recent.add(
      this.decoder.rows(
        start.rows.filter((r) => r.recent),
        now,
      ),
      now,
    );
    this.options.metrics.holes.set(this.holes.size);
    this.options.logger.info(
      { database, position: this.high, holes: this.holes.size },
      'bus reader ready',
    );
  }

  /** One scheduled run: a read (when asked, or retrying). */
  private async run(): Promise<number | undefined> {
    try {
      await this.ready();
      const failing = this.lastError !== undefined;
      await this.readAll();
      this.failures = 0;
      if (failing) this.options.logger.info({ database: this.database }, 'bus reads recovered');
      this.setFailure(undefined);
      return undefined;
    } catch (error) {
      this.onReadError(error as Error);
      return backoffDelay(this.failures++, { baseMs: 100, maxMs: 5000 });
    }
  }

  private onReadError(error: Error): void {
    const { logger, metrics } = this.options;
    const repeated = this.lastError?.message === error.message;
    this.setFailure(error);
    metrics.reads.labels('error').inc();
    if (error instanceof UnrepresentableIdError) {
      metrics.unrepresentableIds.inc();
      if (!repeated) logger.error({ database: this.database, id: error.idText }, error.message);
      return;
    }
    logger.warn(
      { err: error, database: this.database, position: this.high },
      'reading bus_bus failed; the read position stays, nothing is skipped, retrying',
    );
  }

  private setFailure(error: Error | undefined): void {
    if ((this.lastError === undefined) !== (error === undefined) && !this.stopped)
      this.options.metrics.readersFailing.inc(error === undefined ? -1 : 1);
    this.lastError = error;
  }

  /** Reads pages until one is not full. */
  private async readAll(): Promise<void> {
    for (;;) {
      const now = this.now();
      const expired = this.holes.expire(now);
      if (expired > 0) {
        this.options.metrics.holesExpired.inc(expired);
        this.options.metrics.holes.set(this.holes.size);
      }
      const page = await readPage(this.options.pool, {
        after: this.high,
        holes: this.holes.ids(),
        batchSize: this.options.batchSize,
        budgetBytes: this.options.maxFrameBytes,
        maxRowBytes: this.options.maxRowBytes,
      });
      this.options.metrics.reads.labels('ok').inc();
      if (page.rows.length > 0) this.absorb(page.rows, now);
      if (page.unrepresentableId !== undefined)
        throw new UnrepresentableIdError(this.database, page.unrepresentableId);
      if (!page.more || this.stopped) return;
    }
  }

  /**
   * Hands a page to the hub, then moves the read position over it. The holes it reveals are
   * recorded first: if delivery fails, the same page is read again.
   */
  private absorb(fetched: PageRow[], now: number): void {
    let high = this.high;
    const late = new Set<number>();
    for (const row of fetched) {
      if (row.id > high) {
        this.holes.addGap(high, row.id, now);
        high = row.id;
      } else if (this.holes.has(row.id)) late.add(row.id);
    }
    const rows = this.decoder.rows(fetched, now, late);
    if (rows.length > 0) this.options.deliver(this.database, rows);
    this.high = high;
    for (const id of late) this.holes.fill(id);
    this.recent.add(rows, now);
    const { metrics } = this.options;
    metrics.lateRows.inc(late.size);
    metrics.holes.set(this.holes.size);
    metrics.rowsRead.inc(fetched.length);
  }
}
