/**
 * The one statement a read of `bus_bus` runs, and the decoding of what it returns.
 *
 * A page is bounded twice: by rows (`batchSize`) and by bytes (`budgetBytes`, the largest frame),
 * so that whatever the rows' size a read never holds more than one frame, and every frame built
 * from it stays under the limit. The byte cut is made by PostgreSQL (a running sum over the page),
 * so rows past it never cross the wire; the first row of a page is always taken, whatever its size. A row larger than `maxRowBytes` comes back without its message (`octet_length` reads the
 * stored size without loading the value), so one huge row can neither exhaust memory nor block the
 * reader: it is skipped, and said so.
 *
 * Ids are sent and returned as text (`int8`), so an `integer` and a `bigint` column read the same
 * and no id is rounded on the way (see `busId.ts`).
 */
import type pg from 'pg';
import { parseBusId } from './busId.js';
import { ROW_OVERHEAD_BYTES } from './types.js';

/** A row of a page. `message` is null for a row over `maxRowBytes` (and for a NULL message). */
export interface PageRow {
  id: number;
  channel: string | null;
  message: string | null;
  /** `octet_length(message)`: the stored message's size in bytes. */
  bytes: number;
}

export interface Page {
  rows: PageRow[];
  /** More rows may follow: the page was cut by rows or by bytes. */
  more: boolean;
  /** The text of the first id past 2^53 - 1, when the page reached one (rows stop before it). */
  unrepresentableId: string | undefined;
}

export interface PageRequest {
  after: number;
  holes: readonly number[];
  batchSize: number;
  budgetBytes: number;
  maxRowBytes: number;
}

function pageSql(withHoles: boolean): string {
  const where = withHoles ? 'id > $1::int8 OR id = ANY($5::int8[])' : 'id > $1::int8';
  return `SELECT id::text AS id, channel, CASE WHEN bytes <= $3 THEN message END AS message, bytes, page_rows
FROM (
  SELECT id, channel, message, bytes,
         sum(LEAST(bytes, $3) + ${ROW_OVERHEAD_BYTES}) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS running,
         count(*) OVER () AS page_rows
  FROM (
    SELECT id, channel, message, COALESCE(octet_length(message), 0)::int8 AS bytes
    FROM bus_bus WHERE ${where} ORDER BY id LIMIT $2
  ) AS page
) AS sized
WHERE running <= $4 OR running = LEAST(bytes, $3) + ${ROW_OVERHEAD_BYTES}
ORDER BY sized.id`;
}

const PAGE_SQL = pageSql(false);
const PAGE_WITH_HOLES_SQL = pageSql(true);

interface RawPageRow {
  id: string;
  channel: string | null;
  message: string | null;
  bytes: string | number;
  page_rows: string | number;
}

export async function readPage(pool: pg.Pool, request: PageRequest): Promise<Page> {
  const params: unknown[] = [
    request.after,
    request.batchSize,
    request.maxRowBytes,
    request.budgetBytes,
  ];
  if (request.holes.length > 0) params.push(request.holes);
  const result = await pool.query<RawPageRow>(
    request.holes.length > 0 ? PAGE_WITH_HOLES_SQL : PAGE_SQL,
    params,
  );
  const raw = result.rows;
  const pageRows = Number(raw[0]?.page_rows ?? 0);
  const rows: PageRow[] = [];
  for (const row of raw) {
    const id = parseBusId(row.id);
    if (id === undefined) {
      // Rows are ascending: everything from here on is past the limit too.
      return { rows, more: false, unrepresentableId: row.id };
    }
    rows.push({ id, channel: row.channel, message: row.message, bytes: Number(row.bytes) });
  }
  return {
    rows,
    more: raw.length < pageRows || pageRows >= request.batchSize,
    unrepresentableId: undefined,
  };
}
