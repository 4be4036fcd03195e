import { afterEach, describe, expect, it, vi } from 'vitest';
import { Holes } from '../../../src/bus/holes.js';
import { monotonicClock } from '../../../src/lifecycle/clock.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('Holes', () => {
  it('watches the ids of a gap, the newest maxPerGap of them, for the window', () => {
    const holes = new Holes(1000, 3);
    expect(holes.addGap(10, 20, 0)).toBe(3);
    expect(holes.ids()).toEqual([17, 18, 19]);
    expect(holes.expire(1000)).toBe(0);
    expect(holes.fill(18)).toBe(true);
    expect(holes.fill(18)).toBe(false);
    expect(holes.expire(1001)).toBe(2);
    expect(holes.size).toBe(0);
  });

  it('tells each hole the time it has left (for the restart journal)', () => {
    const holes = new Holes(1000, 10);
    holes.addGap(1, 3, 100);
    holes.add(7, -500);
    expect(holes.remaining(400)).toEqual([
      [2, 700],
      [7, 100],
    ]);
  });

  it('does not expire early when the wall clock steps forward: its times are monotonic', () => {
    const holes = new Holes(300_000, 10);
    holes.addGap(1, 3, monotonicClock());
    // An NTP step, a resumed VM: the wall clock jumps a day ahead.
    const wall = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(wall + 86_400_000);
    expect(holes.expire(monotonicClock())).toBe(0);
    expect(holes.has(2)).toBe(true);
  });
});
