import { describe, expect, it } from 'vitest';
import { LateRows } from '../../../src/bus/lateRows.js';
import type { BusRow } from '../../../src/bus/types.js';

let seq = 0;
const row = (id: number, channel = 'c'): BusRow => ({
  id,
  channel,
  message: '{}',
  readAt: 0,
  seq: ++seq,
  late: true,
});

describe('LateRows.missedBelow', () => {
  const channels = new Set(['c']);

  it('gives a client the late rows below its last that were read after it', () => {
    const late = new LateRows(1000);
    // 95 committed after 100 had been read (read position 100 when its read started).
    late.add(row(95), 100, 0);
    expect(late.missedBelow(100, channels, 0).map((r) => r.id)).toEqual([95]);
    expect(late.missedBelow(120, channels, 0).map((r) => r.id)).toEqual([]);
    // A client at 95 got it; a client at 90 gets it from Odoo's catch-up (above its last).
    expect(late.missedBelow(95, channels, 0)).toEqual([]);
    expect(late.missedBelow(90, channels, 0)).toEqual([]);
  });

  it('gives rows that committed while the sidecar was stopped to every client above them', () => {
    const late = new LateRows(1000);
    late.add(row(50), Number.POSITIVE_INFINITY, 0);
    expect(late.missedBelow(51, channels, 0).map((r) => r.id)).toEqual([50]);
    expect(late.missedBelow(10_000, channels, 0).map((r) => r.id)).toEqual([50]);
  });

  it('keeps to the client channels, a late last, and the window', () => {
    const late = new LateRows(1000);
    late.add(row(95, 'other'), 100, 0);
    late.add(row(96), 100, 0);
    // 98 was itself late, read after 96: a client whose last is 98 got 96 first.
    late.add(row(98), 100, 0);
    expect(late.missedBelow(100, channels, 0).map((r) => r.id)).toEqual([96, 98]);
    expect(late.missedBelow(98, channels, 0)).toEqual([]);
    expect(late.missedBelow(100, channels, 1001)).toEqual([]);
    expect(late.size).toBe(0);
  });
});
