/**
 * Turns one batch of rows into frames: every subscriber gets the rows of its channels, ascending, in
 * one frame; subscribers that get the same rows share one encoded buffer.
 *
 * Grouping walks the rows once and moves each recipient along a trie whose edges are row indexes:
 * recipients that received the same row sequence end on the same node. That costs one map step per
 * delivery, instead of building and hashing a per-subscriber list.
 */
import { type BusRow, notificationJson } from '../bus/types.js';

export interface DeliveryGroup<S> {
  rows: BusRow[];
  subscribers: S[];
}

interface Node<S> {
  rows: BusRow[];
  children: Map<number, Node<S>> | undefined;
  subscribers: S[] | undefined;
}

export function groupDeliveries<S>(
  rows: readonly BusRow[],
  recipientsOf: (row: BusRow) => Iterable<S> | undefined,
  accepts: (subscriber: S, row: BusRow) => boolean,
): DeliveryGroup<S>[] {
  const root: Node<S> = { rows: [], children: undefined, subscribers: undefined };
  const position = new Map<S, Node<S>>();
  rows.forEach((row, index) => {
    const recipients = recipientsOf(row);
    if (!recipients) return;
    for (const subscriber of recipients) {
      if (!accepts(subscriber, row)) continue;
      const node = position.get(subscriber) ?? root;
      node.children ??= new Map();
      let child = node.children.get(index);
      if (!child) {
        child = { rows: [...node.rows, row], children: undefined, subscribers: undefined };
        node.children.set(index, child);
      }
      position.set(subscriber, child);
    }
  });
  const groups = new Map<Node<S>, S[]>();
  for (const [subscriber, node] of position) {
    let list = groups.get(node);
    if (!list) {
      list = [];
      groups.set(node, list);
    }
    list.push(subscriber);
  }
  return [...groups].map(([node, subscribers]) => ({ rows: node.rows, subscribers }));
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
