import { describe, expect, it } from 'vitest';
import { WorkerRestarts } from '../../../src/lifecycle/workerRestarts.js';

function policy() {
  let now = 0;
  const restarts = new WorkerRestarts({
    maxFailedStarts: 3,
    stableMs: 10_000,
    backoff: { baseMs: 1000, maxMs: 8000, random: () => 1 },
    now: () => now,
  });
  return {
    restarts,
    advance(ms: number) {
      now += ms;
    },
  };
}

const crash = { code: 1, signal: null };

describe('restarts of worker processes', () => {
  it('replace a worker that keeps dying after a growing delay, and one that ran a while at once', () => {
    const { restarts, advance } = policy();
    const delays: number[] = [];
    for (let id = 1; id <= 5; id++) {
      restarts.started(id);
      restarts.listening(id);
      advance(100);
      const decision = restarts.exited(id, crash);
      expect(decision.action).toBe('restart');
      if (decision.action === 'restart') delays.push(decision.delayMs);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000]);
    restarts.started(6);
    restarts.listening(6);
    advance(10_000);
    expect(restarts.exited(6, crash)).toEqual({ action: 'restart', delayMs: 0 });
  });

  it('give up after failed starts in a row, with the last reason the worker gave', () => {
    const { restarts, advance } = policy();
    restarts.started(1);
    restarts.started(2);
    restarts.failedWith(1, 'Error: listen EADDRINUSE 127.0.0.1:8072');
    advance(50);
    expect(restarts.exited(1, crash).action).toBe('restart');
    expect(restarts.exited(2, { code: null, signal: 'SIGSEGV' }).action).toBe('restart');
    restarts.started(3);
    restarts.failedWith(3, 'Error: listen EADDRINUSE 127.0.0.1:8072');
    expect(restarts.exited(3, crash)).toEqual({
      action: 'give-up',
      failedStarts: 3,
      reason: 'Error: listen EADDRINUSE 127.0.0.1:8072 (exit code 1)',
    });
  });

  it('count only failed starts in a row: a worker that listened resets the count', () => {
    const { restarts } = policy();
    for (let id = 1; id <= 10; id++) {
      restarts.started(id);
      if (id % 2 === 0) restarts.listening(id);
      expect(restarts.exited(id, crash).action).toBe('restart');
    }
  });
});
