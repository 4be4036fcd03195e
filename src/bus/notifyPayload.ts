/**
 * Reads an `imbus` NOTIFY payload: a JSON array of channel values. Odoo may split one commit over
 * several NOTIFYs and one cluster carries every database's NOTIFYs, so each payload is read on its
 * own and each channel is attributed to its database (the first element, 15+). Channel values are
 * re-emitted as Odoo's compact Python text, the key `bus_bus.channel` is matched by.
 */

import { dumpNode } from '../json/pythonJson.js';
import { JsonSyntaxError, parseJson } from '../json/rawJson.js';

export interface NotifiedChannel {
  /** Compact Python JSON text of the channel, as in `bus_bus.channel`. */
  key: string;
  /** The Odoo database it belongs to, when the channel says so (`[db, ...]`). */
  db: string | undefined;
}

export class NotifyPayloadError extends Error {
  override name = 'NotifyPayloadError';
}

export function parseImbusPayload(payload: string): NotifiedChannel[] {
  let root: ReturnType<typeof parseJson>;
  try {
    root = parseJson(payload);
  } catch (error) {
    throw new NotifyPayloadError(
      error instanceof JsonSyntaxError ? error.message : 'unreadable payload',
    );
  }
  if (root.kind !== 'array')
    throw new NotifyPayloadError(`expected a JSON array, got ${root.kind}`);
  return root.items.map((item) => {
    const first = item.kind === 'array' ? item.items[0] : undefined;
    return {
      key: dumpNode(item, payload),
      db: first?.kind === 'string' ? first.value : undefined,
    };
  });
}
