/**
 * Reads the answer of `/websocket/peek_notifications`: `{"channels": [...], "notifications":
 * [{"id", "message"}...]}`. Channels become subscription keys (the exact text Odoo stores in
 * `bus_bus.channel`), notifications keep their message text as Odoo sent it (never re-encoded).
 */
import { dumpNode } from '../json/pythonJson.js';
import { type JsonNode, member, safeInteger } from '../json/rawJson.js';
import { wholeNotifications } from './partialAnswer.js';

export interface PeekResult {
  /** Subscription keys: compact Python JSON of each channel Odoo granted. */
  channels: string[];
  /** The database named by the channels (`[db, ...]`), if any. */
  database: string | undefined;
  notifications: Array<{ id: number; message: string }>;
  /**
   * The answer was cut short (`maxCallAnswerBytes`): `notifications` are the first rows of the
   * catch-up, in id order, and more follow them in Odoo's table.
   */
  partial: boolean;
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

/** `cut`: what the size bound cut short in the answer (`RpcOutcome.cut`), if it was. */
export function readPeekResult(
  text: string,
  result: JsonNode,
  cut?: ReadonlySet<JsonNode>,
): PeekResult {
  const channelsNode = member(result, 'channels');
  const notificationsNode = member(result, 'notifications');
  if (channelsNode?.kind !== 'array' || cut?.has(channelsNode))
    throw new PeekResultError('no channel list in the answer');
  let database: string | undefined;
  const channels = channelsNode.items.map((item) => {
    const first = item.kind === 'array' ? item.items[0] : undefined;
    if (database === undefined && first?.kind === 'string') database = first.value;
    return flatString(dumpNode(item, text));
  });
  const notifications: PeekResult['notifications'] = [];
  // Cut short before its notifications began, an answer would look like one without catch-up.
  if (cut !== undefined && notificationsNode?.kind !== 'array')
    throw new PeekResultError('answer cut before its notifications');
  const partial = notificationsNode !== undefined && (cut?.has(notificationsNode) ?? false);
  if (notificationsNode?.kind === 'array') {
    const items = partial
      ? wholeNotifications(notificationsNode, text, cut)
      : notificationsNode.items;
    if (items === undefined) {
      throw new PeekResultError(
        'the answer is larger than maxCallAnswerBytes and its first notification alone does not fit, or its notifications are not in id order',
      );
    }
    for (const item of items) {
      const id = safeInteger(member(item, 'id'), text);
      const message = member(item, 'message');
      if (id === undefined || message === undefined) {
        throw new PeekResultError('a notification lacks an integer id or a message');
      }
      notifications.push({ id, message: text.slice(message.start, message.end) });
    }
  }
  notifications.sort((a, b) => a.id - b.id);
  return { channels, database, notifications, partial };
}
