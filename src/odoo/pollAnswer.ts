/**
 * Reads the answer of the addon's `/bus_sidecar/poll` (Odoo 12-15): `{"db", "channels",
 * "notifications", "version"}`. Channels become subscription keys (the exact text Odoo stores in
 * `bus_bus.channel`); each notification is kept as the text Odoo serialized, in its version's shape
 * (`{"id", "channel", "message"}` up to 14, `{"id", "message"}` in 15, 12.0's im_status items with
 * id -1), so that it reaches the browser as Odoo's own poll would have sent it.
 */
import { dumpNode } from '../json/pythonJson.js';
import { type JsonNode, member, safeInteger } from '../json/rawJson.js';
import { wholeNotifications } from './partialAnswer.js';

export interface PollNotification {
  id: number;
  /** The whole `{...}` item as Odoo serialized it. */
  text: string;
}

export interface PollAnswer {
  /** The database Odoo ran the poll in. */
  db: string;
  /** Subscription keys: compact Python JSON of each channel Odoo grants, in Odoo's order. */
  keys: string[];
  /** The `channels` array as Odoo serialized it (the answer of a `peek`). */
  channelsText: string;
  notifications: PollNotification[];
  /** Odoo's major version, as the addon reports it (absent from an answer cut short). */
  version: number | undefined;
  /**
   * The answer was cut short (`maxCallAnswerBytes`): `notifications` are its first ones, in id
   * order, and more follow them in Odoo's table.
   */
  partial: boolean;
}

export class PollAnswerError extends Error {
  override name = 'PollAnswerError';
}

/** `cut`: what the size bound cut short in the answer (`RpcOutcome.cut`), if it was. */
export function readPollAnswer(
  text: string,
  result: JsonNode,
  cut?: ReadonlySet<JsonNode>,
): PollAnswer {
  const db = member(result, 'db');
  const channels = member(result, 'channels');
  const notifications = member(result, 'notifications');
  if (db?.kind !== 'string') throw new PollAnswerError('no database in the answer');
  if (channels?.kind !== 'array' || cut?.has(channels))
    throw new PollAnswerError('no channel list in the answer');
  if (notifications?.kind !== 'array') throw new PollAnswerError('no notification list');
  const partial = cut?.has(notifications) ?? false;
  const whole = partial ? wholeNotifications(notifications, text, cut) : notifications.items;
  if (whole === undefined) throw new PollAnswerError(PARTIAL_REFUSED);
  const items = whole.map((item) => {
    const id = safeInteger(member(item, 'id'), text);
    if (id === undefined || member(item, 'message') === undefined) {
      throw new PollAnswerError('a notification lacks an integer id or a message');
    }
    return { id, text: text.slice(item.start, item.end) };
  });
  return {
    db: db.value,
    keys: channels.items.map((item) => dumpNode(item, text)),
    channelsText: text.slice(channels.start, channels.end),
    notifications: items,
    version: safeInteger(member(result, 'version'), text),
    partial,
  };
}

const PARTIAL_REFUSED =
  'the answer is larger than maxCallAnswerBytes and its first notification alone does not fit, or its notifications are not in id order';
