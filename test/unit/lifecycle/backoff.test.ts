/**
 * The reconnect backoff: capped exponential with equal jitter. Half of each delay is fixed, so it
 * grows with the attempts however the jitter falls; the other half spreads reconnecting processes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/lifecycle/backoff.js';

describe('backoffDelay', () => {
  it('doubles from base/2..base up to max/2..max', () => {
    const low = (attempt: number) => backoffDelay(attempt, { random: () => 0 });
    const high = (attempt: number) => backoffDelay(attempt, { random: () => 1 });
    expect([0, 1, 2, 3, 4, 5, 6].map(low)).toEqual([125, 250, 500, 1000, 2000, 4000, 5000]);
    expect([0, 1, 2, 3, 4, 5, 6].map(high)).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000]);
    expect(low(1000)).toBe(5000);
    expect(high(1000)).toBe(10_000);
  });

  it('takes its base and cap from the options, and treats a negative attempt as the first', () => {
    const options = { baseMs: 100, maxMs: 5000, random: () => 0.5 };
    expect(backoffDelay(0, options)).toBe(75);
    expect(backoffDelay(-3, options)).toBe(75);
    expect(backoffDelay(20, options)).toBe(3750);
  });

  it('stays within [ceiling/2, ceiling] and never shrinks its floor as attempts grow', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 80 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        (attempt, r, baseMs, maxMs) => {
          const options = { baseMs, maxMs, random: () => r };
          const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
          const delay = backoffDelay(attempt, options);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(Math.ceil(ceiling));
          const next = backoffDelay(attempt + 1, { ...options, random: () => 0 });
          expect(next).toBeGreaterThanOrEqual(
            backoffDelay(attempt, { ...options, random: () => 0 }),
          );
        },
      ),
    );
  });
});
