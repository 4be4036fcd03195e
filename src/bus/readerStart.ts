/**
 * The statements a reader runs when it starts (or starts over), apart from the page read:
 * - the rows of the last ids (a range of `lookbackRows` ids up to the highest), with whether each
 *   is recent: the highest id becomes the read position, ids of the range missing before a row
 *   created within the late-commit window become holes (the transaction that took such an id may
 *   still be running), and the rows of the last seconds go to the
 *   recent-rows memory (their messages are the only ones loaded);
 * - the rows of the holes of the restart journal (`carryOver`): which have committed meanwhile;
 * - after the database was re-created: the highest id of the rows created before a moment.
 */
import type pg from 'pg';
import { parseBusId, UnrepresentableIdError } from './busId.js';
import type { PageRow } from './readQuery.js';

export interface StartRow extends PageRow {
  /** Created within the recent-rows lookback: its message was loaded. */
  recent: boolean;
  /** Created within the late-commit window: the ids missing just below it are watched. */
  fresh: boolean;
}

export interface StartState {
  maxId: number;
  rows: StartRow[];
}

const START_SQL = `WITH top AS (SELECT COALESCE(MAX(id), 0)::int8 AS max_id FROM bus_bus),
last_rows AS (
  SELECT b.id, b.channel, b.message, COALESCE(octet_length(b.message), 0)::int8 AS bytes,
         b.create_date >= (now() AT TIME ZONE 'UTC') - make_interval(secs => $2) AS recent,
         b.create_date >= (now() AT TIME ZONE 'UTC') - make_interval(secs => $3) AS fresh
  FROM top JOIN bus_bus b ON b.id > top.max_id - $1
)
SELECT top.max_id::text AS max_id, r.id::text AS id, r.channel,
       CASE WHEN r.recent AND r.bytes <= $4 THEN r.message END AS message, r.bytes, r.recent, r.fresh
FROM top LEFT JOIN last_rows r ON true
ORDER BY r.id`;

const ROWS_BY_ID_SQL = `SELECT id::text AS id, channel,
       CASE WHEN COALESCE(octet_length(message), 0) <= $2 THEN message END AS message,
       COALESCE(octet_length(message), 0)::int8 AS bytes
FROM bus_bus WHERE id = ANY($1::int8[]) ORDER BY id`;

const MAX_ID_BEFORE_SQL = `SELECT COALESCE(MAX(id), 0)::text AS max_id FROM bus_bus
WHERE create_date < (now() AT TIME ZONE 'UTC') - make_interval(secs => $1)`;

interface RawRow {
  id: string | null;
  channel: string | null;
  message: string | null;
  bytes: string | number | null;
}

function pageRow(database: string, row: RawRow): PageRow {
  const id = parseBusId(row.id);
  if (id === undefined) throw new UnrepresentableIdError(database, String(row.id));
  return { id, channel: row.channel, message: row.message, bytes: Number(row.bytes ?? 0) };
}

export async function readStart(
  pool: pg.Pool,
  database: string,
  options: {
    lookbackRows: number;
    recentSeconds: number;
    windowSeconds: number;
    maxRowBytes: number;
  },
): Promise<StartState> {
  const result = await pool.query<RawRow & { max_id: string; recent: boolean; fresh: boolean }>(
    START_SQL,
    [options.lookbackRows, options.recentSeconds, options.windowSeconds, options.maxRowBytes],
  );
  const maxText = result.rows[0]?.max_id ?? '0';
  const maxId = parseBusId(maxText);
  if (maxId === undefined) throw new UnrepresentableIdError(database, maxText);
  const rows: StartRow[] = [];
  for (const row of result.rows) {
    if (row.id === null) continue;
    rows.push({
      ...pageRow(database, row),
      recent: row.recent === true,
      fresh: row.fresh === true,
    });
  }
  return { maxId, rows };
}

export async function readRowsById(
  pool: pg.Pool,
  database: string,
  ids: readonly number[],
  maxRowBytes: number,
): Promise<PageRow[]> {
  if (ids.length === 0) return [];
  const result = await pool.query<RawRow>(ROWS_BY_ID_SQL, [ids, maxRowBytes]);
  return result.rows.map((row) => pageRow(database, row));
}

/** The highest id among rows created more than `seconds` ago. */
export async function maxIdCreatedBefore(
  pool: pg.Pool,
  database: string,
  seconds: number,
): Promise<number> {
  const result = await pool.query<{ max_id: string }>(MAX_ID_BEFORE_SQL, [seconds]);
  const text = result.rows[0]?.max_id ?? '0';
  const id = parseBusId(text);
  if (id === undefined) throw new UnrepresentableIdError(database, text);
  return id;
}

/** The previous process's holes, split into the rows committed since and the ids still missing. */
export async function carryOver(
  pool: pg.Pool,
  database: string,
  saved: ReadonlyArray<readonly [id: number, leftMs: number]>,
  maxRowBytes: number,
): Promise<{ committed: PageRow[]; missing: Array<readonly [id: number, leftMs: number]> }> {
  if (saved.length === 0) return { committed: [], missing: [] };
  const committed = await readRowsById(
    pool,
    database,
    saved.map(([id]) => id),
    maxRowBytes,
  );
  const present = new Set(committed.map((row) => row.id));
  return { committed, missing: saved.filter(([id]) => !present.has(id)) };
}
