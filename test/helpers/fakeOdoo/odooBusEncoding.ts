/**
 * How Odoo turns a notification's target into a `bus_bus.channel` value and a commit's channels into
 * `imbus` NOTIFY payloads (`addons/bus/models/bus.py`: `channel_with_db`, `json_dump`,
 * `get_notify_payloads`), as the recordings in `fixtures/odoo17/notify-trace.json` show. Pure.
 */
import { pythonDumps } from '../../../src/json/pythonJson.js';

/** Odoo's `ODOO_NOTIFY_PAYLOAD_MAX_LENGTH` default: PostgreSQL refuses payloads of 8000 bytes. */
export const NOTIFY_PAYLOAD_MAX_BYTES = 8000;

/**
 * A 15+ target without the database: a record as `[model, id]`, a record's subchannel as
 * `[model, id, sub]`, or a string channel.
 */
export type BusTarget = string | readonly unknown[];

/** `channel_with_db(dbname, target)`: records and strings get the database name in front. */
export function channelWithDb(dbname: string, target: BusTarget): unknown[] {
  return typeof target === 'string' ? [dbname, target] : [dbname, ...target];
}

/** Odoo's `json_dump`: compact separators, `ensure_ascii`. */
export function jsonDump(value: unknown): string {
  return pythonDumps(value);
}

/** The distinct channels (by their stored text), first occurrence first. */
export function distinctChannels(channels: readonly unknown[]): unknown[] {
  const seen = new Set<string>();
  return channels.filter((channel) => {
    const text = jsonDump(channel);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
}

/**
 * `get_notify_payloads`: the channel list as one compact JSON array, halved recursively (first half
 * `ceil(n/2)`) while its UTF-8 size is not below the limit and it has more than one channel.
 */
export function notifyPayloads(
  channels: readonly unknown[],
  maxBytes: number = NOTIFY_PAYLOAD_MAX_BYTES,
): string[] {
  if (channels.length === 0) return [];
  const payload = jsonDump(channels);
  if (channels.length === 1 || Buffer.byteLength(payload, 'utf8') < maxBytes) return [payload];
  const pivot = Math.ceil(channels.length / 2);
  return [
    ...notifyPayloads(channels.slice(0, pivot), maxBytes),
    ...notifyPayloads(channels.slice(pivot), maxBytes),
  ];
}
