import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBatch } from '../../../src/hub/fanout.js';
import { frameWeight, splitBySize } from '../../../src/hub/frameSplit.js';

const row = (id: number, size: number, char = 'a') => ({
  id,
  message: JSON.stringify(char.repeat(size)),
});

describe('splitBySize', () => {
  it('keeps a delivery that fits as it is (the same array, no copy)', () => {
    const rows = [row(1, 10), row(2, 10)];
    const frames = splitBySize(rows, 1000);
    expect(frames).toHaveLength(1);
    expect(frames[0]).toBe(rows);
  });

  it('cuts in order, each frame under the limit, a row larger than it alone', () => {
    const rows = [row(1, 400), row(2, 400), row(3, 2000), row(4, 10), row(5, 400)];
    const frames = splitBySize(rows, 1000);
    expect(frames.map((f) => f.map((r) => r.id))).toEqual([[1, 2], [3], [4, 5]]);
  });

  it('weighs UTF-8 bytes, not characters, when the size is not given', () => {
    expect(frameWeight({ message: '"é"' })).toBe(frameWeight({ message: '"ab"' }));
    expect(frameWeight({ message: '"x"', bytes: 1000 })).toBeGreaterThan(1000);
  });

  it('never loses, reorders or duplicates a row, and each encoded frame fits (or holds one row)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(3000), fc.constantFrom('a', 'é', '字')), { maxLength: 60 }),
        fc.integer({ min: 64, max: 8000 }),
        (sizes, limit) => {
          const rows = sizes.map(([size, char], i) => row(i + 1, size, char));
          const frames = splitBySize(rows, limit);
          expect(frames.flat()).toEqual(rows);
          for (const frame of frames) {
            expect(frame.length).toBeGreaterThan(0);
            if (frame.length > 1)
              expect(Buffer.byteLength(encodeBatch(frame))).toBeLessThanOrEqual(limit);
          }
        },
      ),
    );
  });
});
