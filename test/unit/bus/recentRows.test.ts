/**
 * The recent rows close the gap between Odoo's answer to a subscribe and the registration of its
 * channels: `readSince` must return exactly the rows read after a snapshot, on the channels asked,
 * above an id, ascending by id, for as long as they are kept.
 */
import { describe, expect, it } from 'vitest';
import { RecentRows } from '../../../src/bus/recentRows.js';
import type { BusRow } from '../../../src/bus/types.js';

let seq = 0;
function row(id: number, channel: string, readAt: number): BusRow {
  seq += 1;
  return { id, channel, message: `{"n":${id}}`, readAt, seq };
}

const ids = (rows: readonly BusRow[]) => rows.map((r) => r.id);

describe('RecentRows.readSince', () => {
  it('returns the rows read after the snapshot, on the channels asked, above the id, by id', () => {
    let now = 1000;
    const recent = new RecentRows(60_000, 1000, () => now);
    recent.add([row(10, 'a', now), row(11, 'b', now)], now);
    const snapshot = seq;
    // A late commit (id 9) read after id 12: read order is not id order.
    recent.add([row(12, 'a', now), row(9, 'a', now), row(13, 'b', now), row(14, 'a', now)], now);
    now += 10;
    expect(ids(recent.readSince(snapshot, 0, new Set(['a'])))).toEqual([9, 12, 14]);
    expect(ids(recent.readSince(snapshot, 9, new Set(['a'])))).toEqual([12, 14]);
    expect(ids(recent.readSince(snapshot, 0, new Set(['a', 'b'])))).toEqual([9, 12, 13, 14]);
    expect(ids(recent.readSince(snapshot, 0, new Set(['c'])))).toEqual([]);
    expect(ids(recent.readSince(0, 0, new Set(['b'])))).toEqual([11, 13]);
    expect(recent.readSince(seq, 0, new Set(['a', 'b']))).toEqual([]);
  });

  it('forgets rows once they are older than the time kept, on the injected clock', () => {
    let now = 0;
    const recent = new RecentRows(1000, 1000, () => now);
    recent.add([row(1, 'a', 0)], 0);
    recent.add([row(2, 'a', 500)], 500);
    now = 1000;
    expect(ids(recent.readSince(0, 0, new Set(['a'])))).toEqual([1, 2]);
    now = 1001;
    expect(ids(recent.readSince(0, 0, new Set(['a'])))).toEqual([2]);
    expect(recent.size).toBe(1);
    now = 1501;
    expect(recent.readSince(0, 0, new Set(['a']))).toEqual([]);
    expect(recent.size).toBe(0);
  });

  it('keeps at most maxRows, the newest', () => {
    const recent = new RecentRows(60_000, 3, () => 0);
    recent.add([row(1, 'a', 0), row(2, 'a', 0), row(3, 'a', 0), row(4, 'a', 0), row(5, 'a', 0)], 0);
    expect(recent.size).toBe(3);
    expect(ids(recent.readSince(0, 0, new Set(['a'])))).toEqual([3, 4, 5]);
  });

  it('stays exact across the compaction of forgotten rows', () => {
    let now = 0;
    const recent = new RecentRows(100, 100_000, () => now);
    for (let id = 1; id <= 5000; id++) {
      now = id;
      recent.add([row(id, id % 2 === 0 ? 'even' : 'odd', now)], now);
    }
    // Kept: read at 4900..5000.
    expect(recent.size).toBe(101);
    const found = recent.readSince(0, 0, new Set(['even']));
    expect(ids(found)).toEqual(Array.from({ length: 51 }, (_, i) => 4900 + 2 * i));
  });

  it('forgets everything on clear (the table was reset)', () => {
    const recent = new RecentRows(60_000, 100, () => 0);
    recent.add([row(1, 'a', 0)], 0);
    recent.clear();
    expect(recent.size).toBe(0);
    expect(recent.readSince(0, 0, new Set(['a']))).toEqual([]);
  });
});
