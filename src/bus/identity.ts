/**
 * Which `bus_bus` the reader is reading. Two events silently replace it under the same database
 * name: `TRUNCATE bus_bus RESTART IDENTITY` (the sequence starts again at 1, below the read
 * position, so every new row would be taken for one already read), and a database dropped and
 * restored (a new `pg_database.oid`, the sequence wherever the dump left it). The reader records
 * the identity at its start and compares it now and then (`TableWatch`); a change starts it over.
 *
 * The check names the sequence by parameter, never `bus_bus` in its text: it is not a read of the
 * table (and is not counted as one by statement statistics).
 */
import type pg from 'pg';
import type { Clock } from '../lifecycle/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { parseBusId } from './busId.js';
import { maxIdCreatedBefore } from './readerStart.js';

export interface TableIdentity {
  /** `pg_database.oid` of the database, as text. */
  oid: string;
  /** The id sequence (`pg_get_serial_sequence`), when there is one the sidecar may read. */
  sequence: string | undefined;
}

export interface IdentityCheck {
  oid: string;
  /**
   * The sequence's last value: undefined when unknown (no sequence, or not readable), null when
   * the sequence was reset and has not been used since (`RESTART` leaves `is_called` false).
   */
  sequenceLast: number | null | undefined;
}

const OID_SQL = 'SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()';
const START_SQL = `SELECT (${OID_SQL}) AS oid, pg_get_serial_sequence('bus_bus', 'id') AS sequence`;
const CHECK_SQL = `SELECT (${OID_SQL}) AS oid, pg_sequence_last_value($1::regclass)::text AS last`;

export async function readIdentity(pool: pg.Pool): Promise<TableIdentity> {
  const result = await pool.query<{ oid: string; sequence: string | null }>(START_SQL);
  const row = result.rows[0];
  return { oid: row?.oid ?? '', sequence: row?.sequence ?? undefined };
}

/** The identity now. A sequence that cannot be read (privileges) is reported as unknown. */
export async function checkIdentity(
  pool: pg.Pool,
  identity: TableIdentity,
): Promise<IdentityCheck & { sequenceError?: Error }> {
  if (identity.sequence !== undefined) {
    try {
      const result = await pool.query<{ oid: string; last: string | null }>(CHECK_SQL, [
        identity.sequence,
      ]);
      const row = result.rows[0];
      const last = row?.last ?? null;
      return {
        oid: row?.oid ?? '',
        sequenceLast: last === null ? null : (parseBusId(last) ?? Number.MAX_VALUE),
      };
    } catch (error) {
      // 42501: no privilege on the sequence; fall through to the database's identity alone.
      if ((error as { code?: string }).code !== '42501') throw error;
      const result = await pool.query<{ oid: string }>(OID_SQL);
      return {
        oid: result.rows[0]?.oid ?? '',
        sequenceLast: undefined,
        sequenceError: error as Error,
      };
    }
  }
  const result = await pool.query<{ oid: string }>(OID_SQL);
  return { oid: result.rows[0]?.oid ?? '', sequenceLast: undefined };
}

export interface TableWatchOptions {
  pool: pg.Pool;
  database: string;
  logger: Logger;
  metrics: Metrics;
  now: Clock;
}

/** Where a reader starts over after its table was replaced. */
export interface TableReset {
  reason: 'database' | 'sequence';
  /** The new read position: rows above it are delivered. */
  position: number;
}

/** The identity a reader started on, compared on demand (`check`), with the log and the count. */
export class TableWatch {
  private identity: TableIdentity | undefined;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private sequenceWarned = false;

  constructor(private readonly options: TableWatchOptions) {}

  /** `pg_database.oid` of the table's database, once started. */
  get oid(): string | undefined {
    return this.identity?.oid;
  }

  /** Time since the last check (or start), on the reader's clock. */
  get sinceCheckMs(): number {
    return this.options.now() - this.checkedAt;
  }

  async start(): Promise<TableIdentity> {
    const identity = await readIdentity(this.options.pool);
    this.identity = identity;
    this.checkedAt = this.options.now();
    return identity;
  }

  /** Compares with the start; the reset to make when the table was replaced, else undefined. */
  async check(position: number): Promise<TableReset | undefined> {
    const identity = this.identity;
    if (identity === undefined) return undefined;
    const { pool, logger, metrics, database } = this.options;
    const seen = await checkIdentity(pool, identity);
    const sinceSeconds = Math.ceil(this.sinceCheckMs / 1000);
    this.checkedAt = this.options.now();
    if (seen.sequenceError && !this.sequenceWarned) {
      this.sequenceWarned = true;
      logger.warn(
        { database, sequence: identity.sequence, err: seen.sequenceError },
        'the bus_bus id sequence cannot be read (grant SELECT on it): a TRUNCATE ... RESTART IDENTITY would not be noticed',
      );
    }
    let reset: TableReset | undefined;
    if (seen.oid !== identity.oid) {
      this.identity = await readIdentity(pool);
      // Rows created since the old database was last seen are new; older ones came with the dump.
      reset = {
        reason: 'database',
        position: await maxIdCreatedBefore(pool, database, sinceSeconds + 2),
      };
    } else if (
      seen.sequenceLast !== undefined &&
      position > 0 &&
      (seen.sequenceLast === null || seen.sequenceLast < position)
    )
      // A table emptied and renumbered: every row in it is newer than the reset.
      reset = { reason: 'sequence', position: 0 };
    if (reset === undefined) return undefined;
    metrics.readerResets.labels(reset.reason).inc();
    logger.warn(
      {
        database,
        reason: reset.reason,
        previousPosition: position,
        position: reset.position,
        sequence: seen.sequenceLast,
      },
      reset.reason === 'database'
        ? 'the database was re-created under the same name (its oid changed): bus_bus is read again from its current rows'
        : 'the bus_bus id sequence went back below the read position (TRUNCATE ... RESTART IDENTITY?): bus_bus is read again from the start',
    );
    return reset;
  }
}
