/**
 * The presence rule of long polling (`src/transports/longpolling/presence.ts`) against the status
 * Odoo 12-15 compute. One browser's polls are simulated on random traffic: activity with long idle
 * spells (away and back), notifications ending polls early, round trips, and a departure. Two
 * `bus_presence` rows are kept: the one Odoo writes when every poll carries its update, and the one
 * written when only the polls the rule passes on do. `im_status` is computed from both as
 * `res.partner._compute_im_status` does, every 250 ms of simulated time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decidePresence,
  LONGPOLLING_PRESENCE_TIMERS,
  type PresenceMemory,
  presenceRule,
  rememberPresence,
} from '../../../src/transports/longpolling/presence.js';

const { disconnectionMs, awayMs } = LONGPOLLING_PRESENCE_TIMERS;
const HOLD_MS = 50_000;
const RULE = presenceRule(20_000);

interface Row {
  lastPoll: number | undefined;
  lastPresence: number;
}

type Status = 'online' | 'away' | 'offline';

/** `res.partner._compute_im_status` of 12.0-15.0 (`age(...) > interval`). */
function imStatus(row: Row, now: number): Status {
  if (row.lastPoll === undefined || now - row.lastPoll > disconnectionMs) return 'offline';
  if (now - row.lastPresence > awayMs) return 'away';
  return 'online';
}

/** `bus.presence._update`: `last_poll = now`, `last_presence` only forward. */
function write(row: Row, now: number, inactivity: number): void {
  row.lastPoll = now;
  row.lastPresence = Math.max(row.lastPresence, now - inactivity);
}

interface Traffic {
  /** Times (ms) the user clicked or typed. */
  activity: number[];
  /** Times rows arrived on the browser's channels. */
  notifications: number[];
  /** Round trip between an answer and the next poll, per poll (ms, cycled). */
  roundTrips: number[];
  /** When the browser goes away. */
  leave: number;
}

interface Poll {
  start: number;
  end: number;
  forwarded: boolean;
}

function simulate(traffic: Traffic): Poll[] {
  const polls: Poll[] = [];
  let memory: PresenceMemory | undefined;
  let start = 0;
  let notification = 0;
  const lastActivity = (t: number) => {
    let last = 0;
    for (const a of traffic.activity) if (a <= t) last = Math.max(last, a);
    return last;
  };
  while (start < traffic.leave) {
    const inactivity = start - lastActivity(start);
    const decision = decidePresence(RULE, memory, start, inactivity);
    if (decision.forward) memory = rememberPresence(memory, start, inactivity);
    let end = start + (decision.forward ? HOLD_MS : Math.min(HOLD_MS, decision.holdUntil - start));
    while (notification < traffic.notifications.length) {
      const at = traffic.notifications[notification] as number;
      if (at <= start) {
        notification++;
        continue;
      }
      if (at < end) end = at;
      break;
    }
    polls.push({ start, end: Math.min(end, traffic.leave), forwarded: decision.forward });
    start = end + (traffic.roundTrips[polls.length % traffic.roundTrips.length] as number);
  }
  return polls;
}

function statuses(traffic: Traffic, polls: Poll[], horizon: number) {
  const odoo: Row = { lastPoll: undefined, lastPresence: 0 };
  const sidecar: Row = { lastPoll: undefined, lastPresence: 0 };
  const lastActivity = (t: number) => {
    let last = 0;
    for (const a of traffic.activity) if (a <= t) last = Math.max(last, a);
    return last;
  };
  const samples: Array<{ t: number; odoo: Status; sidecar: Status }> = [];
  let next = 0;
  for (let t = 0; t <= horizon; t += 250) {
    while (next < polls.length && (polls[next] as Poll).start <= t) {
      const poll = polls[next] as Poll;
      const inactivity = poll.start - lastActivity(poll.start);
      write(odoo, poll.start, inactivity);
      if (poll.forwarded) write(sidecar, poll.start, inactivity);
      next++;
    }
    samples.push({ t, odoo: imStatus(odoo, t), sidecar: imStatus(sidecar, t) });
  }
  return samples;
}

const traffic = fc
  .record({
    // Bursts of activity separated by idle spells, some long enough to turn away (30 min).
    gaps: fc.array(fc.integer({ min: 1_000, max: 2_400_000 }), { minLength: 1, maxLength: 8 }),
    burst: fc.integer({ min: 1, max: 20 }),
    notifications: fc.array(fc.integer({ min: 0, max: 7_200_000 }), { maxLength: 400 }),
    busy: fc.array(fc.integer({ min: 0, max: 7_200_000 }), { maxLength: 5 }),
    roundTrips: fc.array(fc.integer({ min: 5, max: 2_000 }), { minLength: 1, maxLength: 10 }),
    leave: fc.integer({ min: 60_000, max: 7_200_000 }),
  })
  .map(({ gaps, burst, notifications, busy, roundTrips, leave }): Traffic => {
    const activity: number[] = [0];
    let t = 0;
    for (const gap of gaps) {
      t += gap;
      for (let i = 0; i < burst; i++) activity.push(t + i * 3_000);
    }
    // Busy spells: a notification every second for two minutes (polls end at once).
    const dense = busy.flatMap((from) => Array.from({ length: 120 }, (_, i) => from + i * 1_000));
    return {
      activity,
      notifications: [...notifications, ...dense].sort((a, b) => a - b),
      roundTrips,
      leave,
    };
  });

describe('the presence rule of long polling', () => {
  it('passes the first poll of a session on, and later ones once per refresh', () => {
    const first = decidePresence(RULE, undefined, 1_000, 0);
    expect(first).toEqual({ forward: true });
    const memory = rememberPresence(undefined, 1_000, 0);
    expect(decidePresence(RULE, memory, 5_000, 0)).toEqual({
      forward: false,
      holdUntil: 1_000 + 45_000,
    });
    expect(decidePresence(RULE, memory, 21_000, 0)).toEqual({ forward: true });
    expect(decidePresence(presenceRule(0), memory, 1_001, 0)).toEqual({ forward: true });
  });

  it('passes a poll on at once when the user comes back near or past the away threshold', () => {
    const memory: PresenceMemory = { forwardedAt: 2_000_000, presenceAt: 2_000_000 - 1_790_000 };
    // Active again: this poll's last_presence is now, the stored one 1790 s old.
    expect(decidePresence(RULE, memory, 2_005_000, 0)).toEqual({ forward: true });
    // Still idle: nothing moves, nothing to pass on.
    expect(decidePresence(RULE, memory, 2_005_000, 1_795_000).forward).toBe(false);
  });

  it('changes no im_status while the browser polls, and turns it offline within Odoo’s own window after it leaves', () => {
    fc.assert(
      fc.property(traffic, (t) => {
        const polls = simulate(t);
        const last = polls.at(-1) as Poll;
        const horizon = t.leave + 120_000;
        const lastForwarded = polls.filter((p) => p.forwarded).at(-1) as Poll;
        for (const sample of statuses(t, polls, horizon)) {
          if (sample.t < t.leave) {
            if (sample.sidecar !== sample.odoo) {
              throw new Error(
                `at ${sample.t} ms: Odoo ${sample.odoo}, sidecar ${sample.sidecar} (polls: ${JSON.stringify(polls.filter((p) => Math.abs(p.start - sample.t) < 120_000))})`,
              );
            }
          } else if (sample.sidecar !== sample.odoo) {
            // Only offline earlier than Odoo's, never sooner than 5 s after the browser left.
            expect(sample.sidecar).toBe('offline');
            expect(sample.t).toBeGreaterThan(t.leave + 5_000);
            expect(sample.t).toBeLessThanOrEqual(last.start + disconnectionMs);
          }
        }
        // Offline 5 to 55 s (less a round trip) after leaving, as with Odoo.
        const offlineAt = lastForwarded.start + disconnectionMs;
        expect(offlineAt).toBeGreaterThanOrEqual(t.leave + 5_000 - 2_000);
        expect(offlineAt).toBeLessThanOrEqual(t.leave + disconnectionMs);
        expect(last.start - lastForwarded.start).toBeLessThan(RULE.refreshMs);
      }),
      { numRuns: 150 },
    );
  });

  it('writes presence far less often than Odoo on a busy bus', () => {
    const busy: Traffic = {
      activity: [0, 600_000],
      notifications: Array.from({ length: 3_600 }, (_, i) => i * 1_000 + 500),
      roundTrips: [50],
      leave: 3_600_000,
    };
    const polls = simulate(busy);
    const forwarded = polls.filter((p) => p.forwarded).length;
    expect(polls.length).toBeGreaterThan(3_000);
    expect(forwarded).toBeLessThanOrEqual(Math.ceil(3_600_000 / RULE.refreshMs) + 1);
  });
});
