import { describe, expect, it } from 'vitest';
import { Histogram, median } from '../../../bench/histogram.js';

describe('Histogram', () => {
  it('gives percentiles within 1% of the exact ones, and the exact extremes', () => {
    const h = new Histogram();
    const values = Array.from({ length: 10_000 }, (_, i) => 50 + i * 37.3);
    for (const v of values) h.record(v);
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1] as number;
    for (const q of [0.5, 0.9, 0.99]) {
      const got = h.quantile(q) as number;
      expect(Math.abs(got - exact(q)) / exact(q)).toBeLessThan(0.011);
    }
    expect(h.quantile(1)).toBe(values.at(-1));
    expect(h.min).toBe(50);
  });

  it('merges what other processes recorded', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 1; i <= 100; i++) (i % 2 ? a : b).record(i * 1000);
    const merged = Histogram.from(a.toJSON());
    merged.merge(JSON.parse(JSON.stringify(b.toJSON())));
    expect(merged.total).toBe(100);
    expect(merged.max).toBe(100_000);
    expect(merged.quantile(0.5)).toBeGreaterThanOrEqual(50_000);
    expect(merged.quantile(0.5)).toBeLessThan(50_600);
  });

  it('answers nothing when empty', () => {
    expect(new Histogram().quantile(0.5)).toBeUndefined();
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2, 10])).toBe(2.5);
  });
});
