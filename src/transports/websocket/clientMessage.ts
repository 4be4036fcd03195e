/**
 * Every message a browser sends on the websocket, checked against the shapes Odoo 16-19 web clients
 * send (recorded in `browser-frames.json` and `websocket-session.json`) before anything else
 * touches it. Only what passes is kept, rebuilt from its checked parts, so no client value of
 * unknown shape or depth ever reaches a recursive walk (`JSON.stringify` of a call to Odoo).
 *
 * - `subscribe`: `{"channels": [string...], "last": integer}` within the count, per-channel and
 *   per-message caps;
 * - `update_presence`: `{"inactivity_period": number >= 0}`, with (16-18) `im_status_ids_by_model`
 *   `{model: [id...]}`;
 * - any other event: ignored, as Odoo 16-18 ignore it (19 hands it to modules without a route).
 *
 * What fails is refused the way Odoo refuses a bad message: its worker logs the error and reads the
 * next message on the same socket (`_serve_forever`), so the socket stays open. Hand-written rather
 * than a zod schema: it runs once per frame, and refusing early is the point.
 */
import { MAX_MESSAGE_DEPTH, nestsDeeperThan } from '../../json/depth.js';

export interface MessageLimits {
  maxChannels: number;
  maxChannelLength: number;
  maxSubscribeBytes: number;
}

/** The checked data of an `update_presence`. */
export interface PresenceData {
  inactivity_period: number;
  /** Absent when the client left it out (Odoo 19's client always does). */
  im_status_ids_by_model?: Record<string, number[]>;
}

export type RefusalReason =
  | 'too-deep'
  | 'invalid-json'
  | 'not-an-object'
  | 'missing-event-name'
  | 'subscribe-data'
  | 'non-string-channel'
  | 'too-many-channels'
  | 'subscribe-too-large'
  | 'channel-too-long'
  | 'subscribe-last'
  | 'presence-data';

export type ClientMessage =
  | { kind: 'subscribe'; channels: string[]; last: number }
  | { kind: 'update_presence'; data: PresenceData }
  | { kind: 'other'; event: string }
  | { kind: 'refused'; reason: RefusalReason; text: string };

function refused(reason: RefusalReason, text: string): ClientMessage {
  return { kind: 'refused', reason, text };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads one text message of `bytes` bytes. */
export function readClientMessage(
  text: string,
  bytes: number,
  limits: MessageLimits,
): ClientMessage {
  if (nestsDeeperThan(text, MAX_MESSAGE_DEPTH)) {
    return refused('too-deep', `message nests deeper than ${MAX_MESSAGE_DEPTH}`);
  }
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return refused('invalid-json', 'message is not JSON');
  }
  if (!isRecord(message)) return refused('not-an-object', 'message is not a JSON object');
  const eventName = message.event_name;
  if (typeof eventName !== 'string') {
    return refused('missing-event-name', "key 'event_name' is missing from the message");
  }
  switch (eventName) {
    case 'subscribe':
      return readSubscribe(message.data, bytes, limits);
    case 'update_presence':
      return readPresence(message.data);
    default:
      return { kind: 'other', event: eventName };
  }
}

function readSubscribe(data: unknown, bytes: number, limits: MessageLimits): ClientMessage {
  if (!isRecord(data)) return refused('subscribe-data', 'subscribe without data');
  const { channels, last } = data;
  if (!Array.isArray(channels)) {
    return refused('non-string-channel', 'bus.Bus only string channels are allowed.');
  }
  if (channels.length > limits.maxChannels) {
    return refused('too-many-channels', `subscribe with ${channels.length} channels refused`);
  }
  if (bytes > limits.maxSubscribeBytes) {
    return refused('subscribe-too-large', `subscribe of ${bytes} bytes refused`);
  }
  for (const channel of channels) {
    if (typeof channel !== 'string') {
      return refused('non-string-channel', 'bus.Bus only string channels are allowed.');
    }
    if (channel.length > limits.maxChannelLength) {
      return refused('channel-too-long', `channel of ${channel.length} characters refused`);
    }
  }
  if (typeof last !== 'number' || !Number.isSafeInteger(last)) {
    return refused('subscribe-last', "subscribe without an integer 'last'");
  }
  return { kind: 'subscribe', channels: channels as string[], last };
}

function readPresence(data: unknown): ClientMessage {
  if (!isRecord(data)) return refused('presence-data', 'update_presence without data');
  const inactivity = data.inactivity_period;
  // Odoo would answer such a call with a ValueError; do not spend a call on it.
  if (typeof inactivity !== 'number' || !Number.isFinite(inactivity) || inactivity < 0) {
    return refused('presence-data', "update_presence without a numeric 'inactivity_period'");
  }
  const checked: PresenceData = { inactivity_period: inactivity };
  if (data.im_status_ids_by_model !== undefined) {
    const ids = readIdsByModel(data.im_status_ids_by_model);
    if (ids === undefined) {
      return refused(
        'presence-data',
        "update_presence with an 'im_status_ids_by_model' not {model: [id]}",
      );
    }
    checked.im_status_ids_by_model = ids;
  }
  return { kind: 'update_presence', data: checked };
}

function readIdsByModel(value: unknown): Record<string, number[]> | undefined {
  if (!isRecord(value)) return undefined;
  // No prototype: a model named `__proto__` stays a plain key.
  const checked = Object.create(null) as Record<string, number[]>;
  for (const [model, ids] of Object.entries(value)) {
    if (!Array.isArray(ids) || !ids.every((id) => Number.isSafeInteger(id))) return undefined;
    checked[model] = ids as number[];
  }
  return checked;
}
