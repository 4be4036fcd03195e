import { describe, expect, it } from 'vitest';
import { CallAbandonedError, Limiter, QueueFullError } from '../../../src/odoo/limiter.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('Limiter', () => {
  it('runs at most `concurrency` tasks at once and refuses past the queue limit', async () => {
    const limiter = new Limiter(2, 1);
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let most = 0;
    const task = (i: number) => async () => {
      running++;
      most = Math.max(most, running);
      await gates[i]?.promise;
      running--;
      return i;
    };
    const runs = [limiter.run(task(0)), limiter.run(task(1)), limiter.run(task(2))];
    await expect(limiter.run(task(3))).rejects.toBeInstanceOf(QueueFullError);
    expect([limiter.inFlight, limiter.queued]).toEqual([2, 1]);
    for (const gate of gates) gate.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2]);
    expect(most).toBe(2);
    expect([limiter.inFlight, limiter.queued]).toEqual([0, 0]);
  });

  it('drops a waiting call whose caller gave up, without running it', async () => {
    const limiter = new Limiter(1, 10);
    const gate = deferred();
    const first = limiter.run(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const abandoned = limiter.run(async () => {
      ran = true;
    }, controller.signal);
    controller.abort();
    await expect(abandoned).rejects.toBeInstanceOf(CallAbandonedError);
    expect(limiter.queued).toBe(0);
    gate.resolve();
    await first;
    expect(ran).toBe(false);
    expect(limiter.inFlight).toBe(0);
  });
});
