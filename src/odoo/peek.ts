/**
 * Reads the answer of `/websocket/peek_notifications`: `{"channels": [...], "notifications":
 * [{"id", "message"}...]}`. Channels become subscription keys (the exact text Odoo stores in
 * `bus_bus.channel`), notifications keep their message text as Odoo sent it (never re-encoded).
 */
import { dumpNode } from '../json/pythonJson.js';
import { type JsonNode, member, safeInteger } from '../json/rawJson.js';

export interface PeekResult {
  /** Subscription keys: compact Python JSON of each channel Odoo granted. */
  channels: string[];
  /** The database named by the channels (`[db, ...]`), if any. */
  database: string | undefined;
  notifications: Array<{ id: number; message: string }>;
}

/**
 * The same text as one flat string. `dumpNode` builds keys by concatenation, which V8 keeps as a
 * tree of pieces; subscription keys live as long as the socket, so they are kept flat. Channel keys
 * are ASCII (Python's `ensure_ascii`), for which latin1 is exact.
 */
function flatString(text: string): string {
  const ascii = Buffer.byteLength(text, 'utf8') === text.length;
  return ascii ? Buffer.from(text, 'latin1').toString('latin1') : text;
}

export class PeekResultError extends Error {
  override name = 'PeekResultError';
}

export function readPeekResult(text: string, result: JsonNode): PeekResult {
  const channelsNode = member(result, 'channels');
  const notificationsNode = member(result, 'notifications');
  if (channelsNode?.kind !== 'array') throw new PeekResultError('no channel list in the answer');
  let database: string | undefined;
  const channels = channelsNode.items.map((item) => {
    const first = item.kind === 'array' ? item.items[0] : undefined;
    if (database === undefined && first?.kind === 'string') database = first.value;
    return flatString(dumpNode(item, text));
  });
  const notifications: PeekResult['notifications'] = [];
  if (notificationsNode?.kind === 'array') {
    for (const item of notificationsNode.items) {
      const id = safeInteger(member(item, 'id'), text);
      const message = member(item, 'message');
      if (id === undefined || message === undefined) {
        throw new PeekResultError('a notification lacks an integer id or a message');
      }
      notifications.push({ id, message: text.slice(message.start, message.end) });
    }
  }
  notifications.sort((a, b) => a.id - b.id);
  return { channels, database, notifications };
}
