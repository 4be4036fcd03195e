/**
 * Turns one batch of rows into frames: every subscriber gets the rows of its channels, ascending, in
 * one frame; subscribers that get the same rows share one encoded buffer.
 *
 * The work is O(subscribers reached + rows), not O(rows × subscribers): rows are first grouped by
 * channel (recipients depend on the channel only, and are asked once per channel); the largest
 * channel's subscribers — typically everyone on a busy shared channel — are taken as they are, and
 * only the subscribers of the other channels of the batch are looked at one by one, to find those
 * who get rows of several channels (their rows are merged in id order, and shared by everyone with
 * the same set of channels). Rows are checked one by one only for the rare subscriber that filters
 * rows (`acceptsAll` false: a socket in the middle of a subscribe).
 */
import { type BusRow, notificationJson } from '../bus/types.js';

export interface DeliveryGroup<S> {
  rows: BusRow[];
  subscribers: S[];
}

export interface GroupOptions<S> {
  /** Whether the subscriber takes part at all (e.g. it belongs to this database). Default: yes. */
  eligible?: (subscriber: S) => boolean;
  /** True when `accepts` would take every row without side effects: rows are then not checked. */
  acceptsAll?: (subscriber: S) => boolean;
}

interface ChannelRows<S> {
  rows: BusRow[];
  members: ReadonlySet<S>;
}

/**
 * Groups deliveries. `recipientsOf` must depend on `row.channel` only; `accepts` is asked for each
 * (subscriber, row) pair of an eligible subscriber that does not accept everything.
 */
export function groupDeliveries<S>(
  rows: readonly BusRow[],
  recipientsOf: (row: BusRow) => Iterable<S> | undefined,
  accepts: (subscriber: S, row: BusRow) => boolean,
  options: GroupOptions<S> = {},
): DeliveryGroup<S>[] {
  const eligible = options.eligible ?? (() => true);
  const acceptsAll = options.acceptsAll ?? (() => false);

  // 1. Rows by channel, in order; channels nobody listens to are dropped.
  const channels: ChannelRows<S>[] = [];
  const indexOf = new Map<string, number>();
  for (const row of rows) {
    let index = indexOf.get(row.channel);
    if (index === undefined) {
      const recipients = recipientsOf(row);
      const members =
        recipients === undefined
          ? undefined
          : recipients instanceof Set
            ? (recipients as ReadonlySet<S>)
            : new Set(recipients);
      index = members === undefined || members.size === 0 ? -1 : channels.length;
      if (members !== undefined && index >= 0) channels.push({ rows: [], members });
      indexOf.set(row.channel, index);
    }
    if (index >= 0) (channels[index] as ChannelRows<S>).rows.push(row);
  }
  if (channels.length === 0) return [];

  // 2. Subscribers of the smaller channels, with every channel of the batch they listen to.
  let largest = 0;
  channels.forEach((channel, i) => {
    if (channel.members.size > (channels[largest] as ChannelRows<S>).members.size) largest = i;
  });
  const big = channels[largest] as ChannelRows<S>;
  const channelsOf = new Map<S, number[]>();
  channels.forEach((channel, i) => {
    if (i === largest) return;
    for (const subscriber of channel.members) {
      const list = channelsOf.get(subscriber);
      if (list) list.push(i);
      else channelsOf.set(subscriber, big.members.has(subscriber) ? [largest, i] : [i]);
    }
  });

  // 3. Groups: one per set of channels, plus those whose rows were filtered.
  const groups: DeliveryGroup<S>[] = [];
  const filtered = new Map<string, DeliveryGroup<S>>();
  const place = (subscriber: S, group: DeliveryGroup<S>) => {
    if (!eligible(subscriber)) return;
    if (acceptsAll(subscriber)) {
      group.subscribers.push(subscriber);
      return;
    }
    const taken = group.rows.filter((row) => accepts(subscriber, row));
    if (taken.length === group.rows.length) group.subscribers.push(subscriber);
    else if (taken.length > 0) {
      const key = taken.map((row) => row.id).join(',');
      let own = filtered.get(key);
      if (!own) {
        own = { rows: taken, subscribers: [] };
        filtered.set(key, own);
      }
      own.subscribers.push(subscriber);
    }
  };

  const bigGroup: DeliveryGroup<S> = { rows: big.rows, subscribers: [] };
  groups.push(bigGroup);
  for (const subscriber of big.members) {
    if (!channelsOf.has(subscriber)) place(subscriber, bigGroup);
  }
  const bySet = new Map<string, DeliveryGroup<S>>();
  for (const [subscriber, list] of channelsOf) {
    const key = list.length === 1 ? String(list[0]) : list.sort((a, b) => a - b).join(',');
    let group = bySet.get(key);
    if (!group) {
      group = {
        rows: mergeRows(list.map((i) => (channels[i] as ChannelRows<S>).rows)),
        subscribers: [],
      };
      bySet.set(key, group);
      groups.push(group);
    }
    place(subscriber, group);
  }
  groups.push(...filtered.values());
  return groups.filter((group) => group.subscribers.length > 0);
}

/** Rows of several channels (each ascending) as one ascending list. */
function mergeRows(lists: readonly BusRow[][]): BusRow[] {
  if (lists.length === 1) return lists[0] as BusRow[];
  return lists.flat().sort((a, b) => a.id - b.id);
}

/** `[{"id":..,"message":..},...]` with each stored message spliced in verbatim. */
export function encodeBatch(rows: ReadonlyArray<{ id: number; message: string }>): string {
  let text = '[';
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) text += ',';
    text += notificationJson(rows[i] as { id: number; message: string });
  }
  return `${text}]`;
}
