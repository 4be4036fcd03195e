/**
 * Reads `bus_bus` of one Odoo database: one query per burst, whatever the number of sockets.
 *
 * Lifecycle
 * - init: the last `initLookbackRows` rows (by id) are read once: the highest id becomes the read
 *   position `high`, every id missing among them becomes a hole (it may belong to a transaction
 *   still running), and the rows of the last `initLookbackSeconds` go to the recent-rows memory.
 * - tick: a nudge (a NOTIFY naming this database, a listener reconnect, the fallback poll) schedules
 *   one tick; nudges arriving meanwhile are absorbed by it, and a nudge arriving while a read runs
 *   schedules exactly one more. Consecutive reads start at least `coalesceMs` apart: a nudge after
 *   a quiet spell is read at once (once the NOTIFYs received in the same turn of the event loop
 *   are in: the NOTIFYs of one commit arrive together), the rest of a burst by one read after the
 *   window. A tick reads
 *   `id > high OR id = ANY(holes) ORDER BY id LIMIT batch` and loops while batches are full.
 * - holes: ids are taken at INSERT but rows appear at COMMIT, so a lower id can show up after a
 *   higher one was read. Every id skipped between two read rows is remembered for
 *   `lateCommitWindowMs` and asked for again by each tick; when it appears it is delivered once.
 *   Odoo 17/18 only look back 10 s per socket and Odoo 16 not at all.
 * - errors: a failed read (PostgreSQL or PgBouncer restarting) keeps `high` and the holes where
 *   they were and retries with backoff, so nothing is skipped.
 *
 * Every row is read by id range, not filtered by channel: that is what lets the holes be exact, and
 * each row is read once per database, however many sockets it goes to. Rows whose message is not
 * valid JSON are counted and skipped: splicing them would break the whole frame for every client.
 */
import type pg from 'pg';
import { type ConnectFailure, classifyConnectError, FailureLog } from '../db/connectErrors.js';
import { backoffDelay } from '../lifecycle/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { RecentRows } from './recentRows.js';
import type { BusRow } from './types.js';

export interface ReaderOptions {
  database: string;
  pool: pg.Pool;
  logger: Logger;
  metrics: Metrics;
  /** What a failed read means and what to change (`ReadPools.classify`). */
  classify?: (error: unknown) => ConnectFailure;
  /** Receives each batch of new rows, ascending by id. */
  deliver: (database: string, rows: BusRow[]) => void;
  coalesceMs: number;
  batchSize: number;
  lateCommitWindowMs: number;
  recentRowsMs: number;
  initLookbackRows?: number;
  initLookbackSeconds?: number;
  /** Most ids remembered for one gap (a table emptied by GC would otherwise make thousands). */
  maxHolesPerGap?: number;
  now?: () => number;
}

interface RowRecord {
  id: number;
  channel: string;
  message: string;
}

const READ_SQL = 'SELECT id, channel, message FROM bus_bus WHERE id > $1 ORDER BY id LIMIT $2';
const READ_WITH_HOLES_SQL =
  'SELECT id, channel, message FROM bus_bus WHERE id > $1 OR id = ANY($3::int4[]) ORDER BY id LIMIT $2';
const INIT_SQL = `WITH top AS (SELECT COALESCE(MAX(id), 0) AS max_id FROM bus_bus)
SELECT top.max_id, b.id, b.channel, b.message,
       b.create_date >= (now() AT TIME ZONE 'UTC') - make_interval(secs => $2) AS recent
FROM top LEFT JOIN bus_bus b ON b.id > top.max_id - $1
ORDER BY b.id`;

export class BusReader {
  /** Highest id read so far. */
  private high = 0;
  /** Read counter: every row read gets the next number (see `BusRow.seq`). */
  private seq = 0;
  private readonly holes = new Map<number, number>();
  readonly recent: RecentRows;
  private initPromise: Promise<void> | undefined;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  /** When the last read ended (`now()`), for the spacing of reads. */
  private lastReadEnd = Number.NEGATIVE_INFINITY;
  private running = false;
  private dirty = false;
  private stopped = false;
  private failures = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private lastError: Error | undefined;
  private readonly now: () => number;

  private readonly failureLog: FailureLog;

  constructor(private readonly options: ReaderOptions) {
    this.failureLog = new FailureLog(options.logger, `reads of bus_bus in ${options.database}`);
    this.recent = new RecentRows(options.recentRowsMs);
    this.now = options.now ?? Date.now;
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
    return this.seq;
  }

  private classify(error: unknown): ConnectFailure {
    return (
      this.options.classify?.(error) ??
      classifyConnectError(error, {
        host: '?',
        port: 0,
        user: '?',
        database: this.database,
        purpose: 'read',
      })
    );
  }

  get healthy(): boolean {
    return this.lastError === undefined;
  }

  hasHole(id: number): boolean {
    return this.holes.has(id);
  }

  /** Resolves once the read position is known; retried by later calls if it failed. */
  ready(): Promise<void> {
    this.initPromise ??= this.init().catch((error: unknown) => {
      this.initPromise = undefined;
      throw error;
    });
    return this.initPromise;
  }

  nudge(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer !== undefined || this.running) return;
    const wait = this.lastReadEnd + this.options.coalesceMs - this.now();
    this.timer =
      wait > 0 ? setTimeout(() => void this.tick(), wait) : setImmediate(() => void this.tick());
  }

  /** While the LISTEN connection is down no NOTIFY arrives: poll so that delivery goes on. */
  setPolling(intervalMs: number | undefined): void {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    if (intervalMs !== undefined && !this.stopped) {
      this.pollTimer = setInterval(() => this.nudge(), intervalMs);
      this.pollTimer.unref();
    }
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
    clearInterval(this.pollTimer);
  }

  private clearTimer(): void {
    const timer = this.timer;
    this.timer = undefined;
    if (timer === undefined) return;
    if ('refresh' in timer) clearTimeout(timer);
    else clearImmediate(timer);
  }

  /** Resolves when no read is scheduled or running (shutdown drains in-flight deliveries). */
  async idle(): Promise<void> {
    while (this.running || this.timer !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private async init(): Promise<void> {
    const lookbackRows = this.options.initLookbackRows ?? 2000;
    const lookbackSeconds = this.options.initLookbackSeconds ?? 10;
    const result = await this.options.pool.query<{
      max_id: number;
      id: number | null;
      channel: string | null;
      message: string | null;
      recent: boolean | null;
    }>(INIT_SQL, [lookbackRows, lookbackSeconds]);
    const maxId = Number(result.rows[0]?.max_id ?? 0);
    if (maxId === 0) {
      // An empty table: everything to come is above 0. (Not the sequence's value: an id taken by a
      // transaction still running would be skipped; a table emptied by Odoo's GC only costs the
      // first read a bounded set of holes.)
      this.options.logger.info({ database: this.database, position: 0 }, 'bus reader ready');
      return;
    }
    const now = this.now();
    const rows = result.rows.filter((r): r is typeof r & RowRecord => r.id !== null);
    const recentRows = rows.filter((r) => r.recent === true);
    this.high = maxId;
    // Every id missing among the last rows may belong to a transaction still running (a long cron
    // or import); each is watched for the late-commit window like any hole. Ids deleted by Odoo's
    // GC are watched too and simply expire.
    let previous: number | undefined;
    for (const row of rows) {
      if (previous !== undefined) this.addHoles(previous, row.id, now);
      previous = row.id;
    }
    this.recent.add(this.validRows(recentRows, now), now);
    this.options.metrics.holes.set(this.holes.size);
    this.options.logger.info(
      { database: this.database, position: this.high, holes: this.holes.size },
      'bus reader ready',
    );
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.running || this.stopped) return;
    this.running = true;
    this.dirty = false;
    try {
      await this.ready();
      await this.readAll();
      this.failures = 0;
      if (this.lastError)
        this.failureLog.recovered('reads work again', { database: this.database });
      this.lastError = undefined;
    } catch (error) {
      this.lastError = error as Error;
      this.options.metrics.reads.labels('error').inc();
      const delay = backoffDelay(this.failures++, { baseMs: 100, maxMs: 5000 });
      this.failureLog.failed(this.classify(error), 'read failed, nothing is skipped', {
        database: this.database,
        retryInMs: delay,
      });
      this.dirty = false;
      this.running = false;
      this.lastReadEnd = this.now();
      if (!this.stopped) this.timer = setTimeout(() => void this.tick(), delay);
      return;
    }
    this.running = false;
    this.lastReadEnd = this.now();
    if (this.dirty) this.nudge();
  }

  private async readAll(): Promise<void> {
    for (;;) {
      const now = this.now();
      this.expireHoles(now);
      const holeIds = [...this.holes.keys()];
      const params: unknown[] = [this.high, this.options.batchSize];
      if (holeIds.length > 0) params.push(holeIds);
      const result = await this.options.pool.query<RowRecord>(
        holeIds.length > 0 ? READ_WITH_HOLES_SQL : READ_SQL,
        params,
      );
      this.options.metrics.reads.labels('ok').inc();
      const fetched = result.rows;
      if (fetched.length > 0) this.absorb(fetched, now);
      if (fetched.length < this.options.batchSize || this.stopped) return;
    }
  }

  /** Moves the read position over a batch, records holes, delivers the valid rows. */
  private absorb(fetched: RowRecord[], now: number): void {
    const late = new Set<number>();
    for (const row of fetched) {
      if (row.id > this.high) {
        this.addHoles(this.high, row.id, now);
        this.high = row.id;
      } else if (this.holes.delete(row.id)) {
        this.options.metrics.lateRows.inc();
        late.add(row.id);
      }
    }
    this.options.metrics.holes.set(this.holes.size);
    this.options.metrics.rowsRead.inc(fetched.length);
    const rows = this.validRows(fetched, now, late);
    this.recent.add(rows, now);
    if (rows.length > 0) this.options.deliver(this.database, rows);
  }

  private addHoles(after: number, before: number, now: number): void {
    const max = this.options.maxHolesPerGap ?? 1000;
    const start = Math.max(after + 1, before - max);
    for (let id = start; id < before; id++) this.holes.set(id, now);
  }

  private expireHoles(now: number): void {
    const cutoff = now - this.options.lateCommitWindowMs;
    let expired = 0;
    for (const [id, since] of this.holes) {
      if (since < cutoff) {
        this.holes.delete(id);
        expired++;
      }
    }
    if (expired > 0) {
      this.options.metrics.holesExpired.inc(expired);
      this.options.metrics.holes.set(this.holes.size);
    }
  }

  private validRows(
    rows: readonly RowRecord[],
    now: number,
    late: ReadonlySet<number> = EMPTY_IDS,
  ): BusRow[] {
    const valid: BusRow[] = [];
    for (const row of rows) {
      if (
        typeof row.channel !== 'string' ||
        typeof row.message !== 'string' ||
        !isJson(row.message)
      ) {
        this.options.metrics.rowsMalformed.inc();
        this.options.logger.warn(
          { database: this.database, id: row.id },
          'bus_bus row skipped: its message is not JSON',
        );
        continue;
      }
      const id = Number(row.id);
      valid.push({
        id,
        channel: row.channel,
        message: row.message,
        readAt: now,
        seq: ++this.seq,
        ...(late.has(id) ? { late: true } : {}),
      });
    }
    return valid;
  }
}

const EMPTY_IDS: ReadonlySet<number> = new Set();

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
