import { describe, expect, it } from 'vitest';
import { Emptied } from '../../../src/lifecycle/emptied.js';

describe('Emptied', () => {
  it('resolves at once when already empty, at emptied() otherwise', async () => {
    const emptied = new Emptied();
    await expect(emptied.wait(true, 60_000)).resolves.toBeUndefined();
    let done = false;
    const waiting = emptied.wait(false, 60_000).then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    emptied.emptied();
    await waiting;
    expect(done).toBe(true);
  });

  it('resolves after its time limit when the set never empties', async () => {
    const emptied = new Emptied();
    await expect(emptied.wait(false, 1)).resolves.toBeUndefined();
  });
});
