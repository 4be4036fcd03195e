import { describe, expect, it } from 'vitest';
import type { BusRow } from '../../../src/bus/types.js';
import { encodeBatch, groupDeliveries } from '../../../src/hub/fanout.js';

const row = (id: number, channel: string, message = '{"type":"t","payload":{}}'): BusRow => ({
  id,
  channel,
  message,
  readAt: 0,
  seq: id,
});

describe('groupDeliveries', () => {
  it('gives each subscriber the rows of its channels, in order, sharing identical batches', () => {
    const subs: Record<string, string[]> = { shared: ['a', 'b', 'c'], pa: ['a'], pb: ['b'] };
    const rows = [row(1, 'shared'), row(2, 'pa'), row(3, 'shared')];
    const groups = groupDeliveries(
      rows,
      (r) => subs[r.channel],
      () => true,
    );
    const bySubscriber = new Map<string, number[]>();
    for (const g of groups)
      for (const s of g.subscribers)
        bySubscriber.set(
          s,
          g.rows.map((r) => r.id),
        );
    expect(Object.fromEntries(bySubscriber)).toEqual({ a: [1, 2, 3], b: [1, 3], c: [1, 3] });
    // b and c share one group, hence one encoded frame.
    expect(groups).toHaveLength(2);
    expect(groups.find((g) => g.subscribers.includes('b'))?.subscribers.sort()).toEqual(['b', 'c']);
  });

  it('leaves out rows a subscriber refuses and subscribers with nothing', () => {
    const groups = groupDeliveries(
      [row(1, 'x'), row(2, 'x')],
      () => ['a', 'b'],
      (s, r) => !(s === 'a' && r.id === 1) && s !== 'b',
    );
    expect(groups).toEqual([{ rows: [row(2, 'x')], subscribers: ['a'] }]);
  });
});

describe('encodeBatch', () => {
  it('splices stored messages verbatim', () => {
    const message = '{"type":"x","payload":{"big":9007199254740993,"z":-0.0,"t":"\\u00e9"}}';
    const text = encodeBatch([row(7, 'c', message), row(9, 'c')]);
    expect(text).toBe(
      `[{"id":7,"message":${message}},{"id":9,"message":{"type":"t","payload":{}}}]`,
    );
    expect(JSON.parse(text)).toHaveLength(2);
  });
});
