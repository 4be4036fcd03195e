/**
 * `bus.bus._poll(channels, last)` of Odoo 16/17 against the real `bus_bus` table, read as the `odoo`
 * role (so it never counts as the sidecar's reads):
 * - `last` above the highest id → 0 (the peek route does this before polling);
 * - `last == 0` → rows created in the last 50 s (UTC, cut-off truncated to whole seconds, as the
 *   recorded `'2026-11-21 08:20:53'` literal);
 * - else rows with `id > last`;
 * - on the channels by **text** equality with their compact Python JSON; ordered by id.
 * Each row becomes `{"id": n, "message": <stored JSON re-serialized like Python's json.dumps>}`,
 * re-emitted from the stored text so integers above 2^53 survive, as they do in Python.
 */
import type pg from 'pg';
import { dumpNode, pythonDumps } from '../../../src/json/pythonJson.js';
import { parseJson } from '../../../src/json/rawJson.js';

const MAX_ID_SQL = 'SELECT "bus_bus"."id" FROM "bus_bus" ORDER BY "bus_bus"."id" DESC LIMIT 1';

const SINCE_WINDOW_SQL = `
  SELECT "bus_bus"."id", "bus_bus"."message" FROM "bus_bus"
  WHERE "bus_bus"."create_date" > date_trunc('second', (now() at time zone 'UTC') - interval '50 seconds')
    AND "bus_bus"."channel" = ANY($1::varchar[])
  ORDER BY "bus_bus"."id"`;

const AFTER_ID_SQL = `
  SELECT "bus_bus"."id", "bus_bus"."message" FROM "bus_bus"
  WHERE "bus_bus"."id" > $2 AND "bus_bus"."channel" = ANY($1::varchar[])
  ORDER BY "bus_bus"."id"`;

export async function maxBusId(db: pg.Pool): Promise<number> {
  const result = await db.query<{ id: number }>(MAX_ID_SQL);
  return result.rows[0]?.id ?? 0;
}

/** The `notifications` array of a peek, as Python JSON text (`, ` / `: `, raw UTF-8). */
export async function pollNotifications(
  db: pg.Pool,
  channels: readonly unknown[],
  last: number,
): Promise<string> {
  const keys = channels.map((channel) => pythonDumps(channel));
  const result =
    last === 0
      ? await db.query<{ id: number; message: string }>(SINCE_WINDOW_SQL, [keys])
      : await db.query<{ id: number; message: string }>(AFTER_ID_SQL, [keys, last]);
  const items = result.rows.map((row) => {
    const message = dumpNode(parseJson(row.message), row.message, {
      compact: false,
      ensureAscii: false,
    });
    return `{"id": ${row.id}, "message": ${message}}`;
  });
  return `[${items.join(', ')}]`;
}
