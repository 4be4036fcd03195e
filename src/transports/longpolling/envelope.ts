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
