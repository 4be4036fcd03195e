/**
 * When a reader reads: a burst of nudges costs one run, nudges during a run exactly one more, a
 * failed run is retried (and serves the nudges meanwhile), an identity check runs without a read,
 * nothing runs after `stop`, and `idle` resolves exactly when no run is going or scheduled. Counts,
 * not timings.
 */
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadScheduler, type RunRequest } from '../../../src/bus/readScheduler.js';
import { waitFor } from '../../helpers/waitFor.js';

interface Harness {
  scheduler: ReadScheduler;
  runs: RunRequest[];
  /** Settles the run in progress (with a retry delay, or none). */
  finish(retryInMs?: number): void;
  readonly running: boolean;
}

const schedulers: ReadScheduler[] = [];
afterEach(() => {
  for (const scheduler of schedulers.splice(0)) scheduler.stop();
});

function harness(coalesceMs = 2, { hold = true } = {}): Harness {
  const runs: RunRequest[] = [];
  let settle: ((retry: number | undefined) => void) | undefined;
  const scheduler = new ReadScheduler(
    coalesceMs,
    () => performance.now(),
    (request) => {
      runs.push(request);
      if (!hold) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        settle = resolve;
      });
    },
  );
  schedulers.push(scheduler);
  return {
    scheduler,
    runs,
    finish(retryInMs) {
      const done = settle;
      settle = undefined;
      done?.(retryInMs);
    },
    get running() {
      return settle !== undefined;
    },
  };
}

describe('ReadScheduler', () => {
  it('serves a burst of nudges with one run', async () => {
    const h = harness(2, { hold: false });
    for (let i = 0; i < 100; i++) h.scheduler.nudge();
    await h.scheduler.idle();
    expect(h.runs).toEqual([{ read: true, check: false }]);
  });

  it('serves every nudge arriving during a run with exactly one more run', async () => {
    const h = harness();
    h.scheduler.nudge();
    await waitFor(() => h.running, { message: 'the first run' });
    for (let i = 0; i < 50; i++) h.scheduler.nudge();
    h.finish();
    await waitFor(() => h.runs.length === 2 && h.running, { message: 'the second run' });
    h.finish();
    await h.scheduler.idle();
    expect(h.runs).toEqual([
      { read: true, check: false },
      { read: true, check: false },
    ]);
  });

  it('runs nothing more when no nudge came during a run', async () => {
    const h = harness();
    h.scheduler.nudge();
    await waitFor(() => h.running);
    h.finish();
    await h.scheduler.idle();
    expect(h.runs).toHaveLength(1);
  });

  it('retries a failed run once after its delay, serving the nudges that came meanwhile', async () => {
    const h = harness();
    h.scheduler.nudge();
    await waitFor(() => h.running);
    h.finish(5);
    for (let i = 0; i < 10; i++) h.scheduler.nudge();
    await waitFor(() => h.runs.length === 2 && h.running, { message: 'the retry' });
    h.finish();
    await h.scheduler.idle();
    expect(h.runs).toHaveLength(2);
    // The retry is a run of its own: the nudges it absorbed ask for no third one.
    expect(h.runs[1]).toEqual({ read: false, check: false });
  });

  it('runs an identity check without a read, one pending at most', async () => {
    const h = harness(2, { hold: false });
    h.scheduler.askCheck(1);
    h.scheduler.askCheck(1);
    await waitFor(() => h.runs.length >= 1, { message: 'the check' });
    await h.scheduler.idle();
    expect(h.runs).toEqual([{ read: false, check: true }]);
  });

  it('polls while asked to, and stops polling when told', async () => {
    const h = harness(0, { hold: false });
    h.scheduler.setPolling(1);
    await waitFor(() => h.runs.length >= 3, { message: 'three polls' });
    h.scheduler.setPolling(undefined);
    await h.scheduler.idle();
    const polled = h.runs.length;
    // A later nudge is served, but no poll comes back.
    h.scheduler.nudge();
    await h.scheduler.idle();
    expect(h.runs.length).toBe(polled + 1);
    expect(h.runs.every((run) => run.read && !run.check)).toBe(true);
  });

  it('runs nothing once stopped, and drops a pending run', async () => {
    const h = harness(2, { hold: false });
    h.scheduler.nudge();
    h.scheduler.stop();
    h.scheduler.nudge();
    h.scheduler.setPolling(1);
    h.scheduler.askCheck(1);
    await h.scheduler.idle();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(h.runs).toEqual([]);
  });
});

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
