/**
 * Reads an `imbus` NOTIFY payload: a JSON array of channel values. Odoo may split one commit over
 * several NOTIFYs and one cluster carries every database's NOTIFYs, so each payload is read on its
 * own and each channel is attributed to its database (the first element, 15+). Only the databases
 * are read: a NOTIFY only nudges readers, which then read the rows themselves (their
 * `bus_bus.channel` is what subscriptions match), so the channels are never re-encoded here.
 */

import { JsonSyntaxError, parseJson } from '../json/rawJson.js';

export interface NotifiedChannel {
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
    return { db: first?.kind === 'string' ? first.value : undefined };
  });
}
