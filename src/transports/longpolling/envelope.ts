/**
 * The bytes of a `/longpolling/poll` answer, as Odoo 12-15 write them (`JsonRequest._json_response`:
 * `json.dumps({"jsonrpc": "2.0", "id": ..., "result"|"error": ...})`, Python's separators and
 * escapes), and the notification items of each version:
 *
 * - 12.0-14.0: `{"id": n, "channel": <channel>, "message": <message>}` (`bus.bus.poll`);
 * - 15.0: `{"id": n, "message": <message>}` (`bus.bus._poll`).
 *
 * Items built here from `bus_bus` rows splice the stored texts in as they are (Odoo parses and
 * re-serializes them; the JSON values are the same). Items that came from Odoo keep Odoo's text.
 */
import type { BusRow } from '../../bus/types.js';
import type { EncodedBatch } from '../../hub/encodedBatch.js';
import { pythonDumps } from '../../json/pythonJson.js';
import type { PollAnswer, PollNotification } from '../../odoo/pollAnswer.js';

/** The item of one row: with its channel up to 14.0, without from 15.0. */
export function itemJson(row: BusRow, withChannel: boolean): string {
  return withChannel
    ? `{"id":${row.id},"channel":${row.channel},"message":${row.message}}`
    : `{"id":${row.id},"message":${row.message}}`;
}

const legacyPayloads = new WeakMap<EncodedBatch, Buffer>();

/**
 * A batch's result array in a version's shape, encoded once per batch and shared by every poll
 * the batch answers (15.0's shape is the websocket's, already shared by the batch itself).
 */
export function batchPayload(batch: EncodedBatch, withChannel: boolean): Buffer {
  if (!withChannel) return batch.payload;
  let payload = legacyPayloads.get(batch);
  if (payload === undefined) {
    payload = Buffer.from(`[${batch.rows.map((row) => itemJson(row, true)).join(',')}]`, 'utf8');
    legacyPayloads.set(batch, payload);
  }
  return payload;
}

/** The result array of rows found by the sidecar alone. */
export function rowsPayload(rows: readonly BusRow[], withChannel: boolean): string {
  return `[${rows.map((row) => itemJson(row, withChannel)).join(',')}]`;
}

/**
 * Odoo's catch-up merged with rows the reader read since: by id, Odoo's text first, then the
 * items without a row (`id: -1`, 12.0's im_status) as Odoo placed them, last.
 */
export function catchUpPayload(
  odoo: readonly PollNotification[],
  rows: readonly BusRow[],
  withChannel: boolean,
): string {
  const items = new Map<number, string>();
  const extra: string[] = [];
  for (const n of odoo) {
    if (n.id < 0) extra.push(n.text);
    else items.set(n.id, n.text);
  }
  for (const row of rows) if (!items.has(row.id)) items.set(row.id, itemJson(row, withChannel));
  const sorted = [...items].sort(([a], [b]) => a - b).map(([, text]) => text);
  return `[${[...sorted, ...extra].join(', ')}]`;
}

/** Odoo's answer passed on as it is: a peek's `{"notifications", "channels"}`, or its items. */
export function odooPayload(answer: PollAnswer, peek: boolean): string {
  const items = answer.notifications.map((n) => n.text).join(', ');
  return peek ? `{"notifications": [${items}], "channels": ${answer.channelsText}}` : `[${items}]`;
}

/** `{"jsonrpc": "2.0", "id": <id>, "result": <result>}` around bytes built elsewhere. */
export function resultEnvelope(idJson: string, result: Buffer | string): Buffer {
  const head = Buffer.from(`{"jsonrpc": "2.0", "id": ${idJson}, "result": `, 'utf8');
  const body = typeof result === 'string' ? Buffer.from(result, 'utf8') : result;
  return Buffer.concat([head, body, CLOSE]);
}

/** `{"jsonrpc": "2.0", "id": <id>, "error": <error>}`, the error being Odoo's own text. */
export function errorEnvelope(idJson: string, errorJson: string): Buffer {
  return Buffer.from(`{"jsonrpc": "2.0", "id": ${idJson}, "error": ${errorJson}}`, 'utf8');
}

const CLOSE = Buffer.from('}', 'utf8');

/**
 * The error of a poll Odoo could not answer (down, failing, too slow, the sidecar's queue full),
 * shaped as Odoo's JSON-RPC errors are (`code` 200, `data.name`, `data.message`, ...). Odoo's poll
 * client treats any error alike: it polls again 11 to 30 s later, without a message to the user.
 */
export function unavailableError(message: string): string {
  return pythonDumps(
    {
      code: 200,
      message: 'Odoo Server Error',
      data: {
        name: 'odoo_bus_sidecar.OdooUnavailable',
        debug: '',
        message,
        arguments: [message],
        context: {},
      },
    },
    { compact: false },
  );
}

/** The `id` of a JSON-RPC request as Python's `json.dumps` re-emits it (`null` when absent). */
export function idJson(id: unknown): string {
  try {
    return pythonDumps(id ?? null, { compact: false });
  } catch {
    return 'null';
  }
}
