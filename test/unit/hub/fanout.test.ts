import fc from 'fast-check';
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

  it('matches a subscriber-by-subscriber reference on random subscriptions', () => {
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4'];
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...keys), { maxLength: 12 }),
        fc.array(fc.subarray(keys), { maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 7 }),
        (channels, subscriptions, filters, eligible, refusedId) => {
          const rows = channels.map((channel, i) => row(i + 1, channel));
          const subscribers = subscriptions.map((_, i) => `s${i}`);
          const membersOf = (key: string) =>
            subscribers.filter((_, i) => subscriptions[i]?.includes(key));
          const filtering = (s: string) => filters[Number(s.slice(1))] === true;
          const refuses = (s: string, r: BusRow) => filtering(s) && r.id % 8 === refusedId;
          const isEligible = (s: string) => eligible[Number(s.slice(1))] !== false;
          const groups = groupDeliveries(
            rows,
            (r) => membersOf(r.channel),
            (s, r) => !refuses(s, r),
            { eligible: isEligible, acceptsAll: (s) => !filtering(s) },
          );
          const got = new Map<string, number[]>();
          for (const g of groups) {
            expect(g.subscribers.length).toBeGreaterThan(0);
            for (const s of g.subscribers) {
              expect(got.has(s)).toBe(false);
              got.set(
                s,
                g.rows.map((r) => r.id),
              );
            }
          }
          const expected = new Map<string, number[]>();
          subscribers.forEach((s, i) => {
            if (!isEligible(s)) return;
            const ids = rows
              .filter((r) => subscriptions[i]?.includes(r.channel) && !refuses(s, r))
              .map((r) => r.id);
            if (ids.length > 0) expected.set(s, ids);
          });
          expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
          // Without filtering, subscribers with the same rows share one group (one encoding).
          if (!filters.some(Boolean)) {
            const lists = groups.map((g) => g.rows.map((r) => r.id).join(','));
            expect(new Set(lists).size).toBe(lists.length);
          }
        },
      ),
      { numRuns: 500 },
    );
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
