import { describe, expect, it } from 'vitest';
import { ReadScheduler } from '../../../src/bus/readScheduler.js';

/** A run that lasts until the test ends it. */
function heldRuns() {
  const ends: Array<(retry: number | undefined) => void> = [];
  let started: () => void = () => {};
  const run = () =>
    new Promise<number | undefined>((resolve) => {
      ends.push(resolve);
      started();
    });
  const nextStart = () => new Promise<void>((resolve) => (started = resolve));
  return { run, ends, nextStart };
}

describe('ReadScheduler.idle', () => {
  it('resolves at once with nothing scheduled', async () => {
    const scheduler = new ReadScheduler(
      0,
      () => 0,
      () => Promise.resolve(undefined),
    );
    await expect(scheduler.idle()).resolves.toBeUndefined();
  });

  it('resolves when the run going ends, not before', async () => {
    const runs = heldRuns();
    const scheduler = new ReadScheduler(0, () => 0, runs.run);
    const started = runs.nextStart();
    scheduler.nudge();
    await started;
    let idle = false;
    const waiting = scheduler.idle().then(() => {
      idle = true;
    });
    // A nudge during the run schedules one more: idle only after that one too.
    scheduler.nudge();
    const second = runs.nextStart();
    runs.ends[0]?.(undefined);
    await second;
    expect(idle).toBe(false);
    runs.ends[1]?.(undefined);
    await waiting;
    expect(idle).toBe(true);
  });

  it('resolves on stop while a retry is scheduled', async () => {
    const runs = heldRuns();
    const scheduler = new ReadScheduler(0, () => 0, runs.run);
    const started = runs.nextStart();
    scheduler.nudge();
    await started;
    const waiting = scheduler.idle();
    runs.ends[0]?.(60_000);
    // The run's end is handled: the retry is scheduled.
    await new Promise((resolve) => setImmediate(resolve));
    scheduler.stop();
    await expect(waiting).resolves.toBeUndefined();
  });
});
