/**
 * The notifications of an answer cut short by the size bound (`maxCallAnswerBytes`). Odoo reads
 * them in id order (`bus.bus` sorts by id, in `_poll` of every version), so the ones read whole are
 * the first rows of the catch-up, and the rest are exactly the rows after the last of them: the
 * client gets these, then asks again from the last one (see the transports). Lost rows are worse
 * than a refusal: when the ones read do not ascend, or not even one fits, nothing is taken.
 */
import { type JsonNode, member, safeInteger } from '../json/rawJson.js';

export function wholeNotifications(
  notifications: Extract<JsonNode, { kind: 'array' }>,
  text: string,
  cut: ReadonlySet<JsonNode> | undefined,
): JsonNode[] | undefined {
  const whole = notifications.items.filter((item) => !cut?.has(item));
  let previous = Number.NEGATIVE_INFINITY;
  let rows = 0;
  for (const item of whole) {
    const id = safeInteger(member(item, 'id'), text);
    // 12.0's presence items (id -1) come last, after every row.
    if (id === undefined || id < 0) continue;
    if (id <= previous) return undefined;
    previous = id;
    rows++;
  }
  return rows > 0 ? whole : undefined;
}
