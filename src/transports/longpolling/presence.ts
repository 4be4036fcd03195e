/**
 * When a poll's presence update (`options.bus_inactivity`) must reach Odoo, and when it may be left
 * out without changing any status Odoo computes.
 *
 * Odoo 12-15 write `bus_presence` on every poll: `last_poll = now`, and `last_presence = now -
 * bus_inactivity` when that is later than the stored one. `im_status` is computed when read:
 * `offline` when `last_poll` is older than `DISCONNECTION_TIMER` (55 s), else `away` when
 * `last_presence` is older than `AWAY_TIMER` (1800 s), else `online` (`bus.presence`,
 * `res.partner._compute_im_status`, 12.0-15.0). A browser re-polls at once after every answer, so
 * a busy bus makes a presence write, and a commit, per notification and per open browser.
 *
 * The rule, per browser session (times in ms):
 * 1. the first poll the sidecar sees of a session is passed on;
 * 2. a poll is passed on when the last one passed is `refresh` old (20 s by default);
 * 3. a poll is passed on when it moves `last_presence` forward while the stored one is within
 *    `awayMargin` of the away threshold, or past it: the user may be coming back from away;
 * 4. any other poll is not, and is held at most until `maxAge` after the last one passed, so that
 *    the next poll, which will be passed on, starts before `last_poll` can look stale.
 *
 * Why it changes nothing a user sees, while the browser polls:
 * - offline: the stored `last_poll` is never more than `maxAge` (45 s) plus the browser's round
 *   trip old, below the 55 s threshold; Odoo itself lets it reach 50 s plus the round trip;
 * - away: the browser reports `last_presence` as the time of its last activity, which only moves
 *   forward. A poll left out leaves the stored value behind by less than `maxAge` plus a round
 *   trip; rule 3 passes every poll that could matter within `awayMargin` (60 s, more than that lag)
 *   of the away threshold, so the stored value crosses it exactly when Odoo's would.
 * After the browser leaves, Odoo shows it offline 55 s after its last poll began, which is 5 to
 * 55 s after it left; with the sidecar it is 55 s after the last poll passed on: up to `refresh`
 * earlier than Odoo would, and still 5 to 55 s after it left (10 to 55 s when its last poll was not
 * passed on, as that poll ended by `maxAge`). `test/unit/transports/longpollingPresence.test.ts`
 * checks both on random traffic.
 */

/** The timers of `bus.presence` in Odoo 12.0-15.0 (`TIMEOUT + 5` and 30 minutes), in ms. */
export const LONGPOLLING_PRESENCE_TIMERS = {
  disconnectionMs: 55_000,
  awayMs: 1_800_000,
} as const;

export interface PresenceTimers {
  disconnectionMs: number;
  awayMs: number;
}

export interface PresenceRule {
  /** Rule 2: a presence update is passed on at least this often. */
  refreshMs: number;
  /** Rule 4: the longest the stored `last_poll` may age while a browser polls. */
  maxAgeMs: number;
  /** Rule 3: how close to the away threshold every forward move of `last_presence` is passed. */
  awayMarginMs: number;
  awayMs: number;
}

/** The rule for Odoo's timers; `refreshMs = 0` passes every update on, as Odoo writes them. */
export function presenceRule(
  refreshMs: number,
  timers: PresenceTimers = LONGPOLLING_PRESENCE_TIMERS,
): PresenceRule {
  // 10 s below the disconnection timer leaves the browser's round trip as much room as Odoo's
  // own 50 s poll leaves it (5 s), twice over.
  const maxAgeMs = timers.disconnectionMs - 10_000;
  return {
    refreshMs: Math.min(refreshMs, maxAgeMs),
    maxAgeMs,
    awayMarginMs: maxAgeMs + 15_000,
    awayMs: timers.awayMs,
  };
}

/** What the sidecar passed on to Odoo for one session (ms since epoch). */
export interface PresenceMemory {
  /** When the last presence update was passed on. */
  forwardedAt: number;
  /** The latest `last_presence` passed on (Odoo keeps the latest it was given). */
  presenceAt: number;
}

export type PresenceDecision =
  | { forward: true }
  /** Leave it out, and answer the poll by `holdUntil` at the latest. */
  | { forward: false; holdUntil: number };

export function decidePresence(
  rule: PresenceRule,
  memory: PresenceMemory | undefined,
  now: number,
  inactivityMs: number,
): PresenceDecision {
  if (memory === undefined || rule.refreshMs <= 0) return { forward: true };
  if (now - memory.forwardedAt >= rule.refreshMs) return { forward: true };
  const presence = now - inactivityMs;
  if (presence > memory.presenceAt && now - memory.presenceAt >= rule.awayMs - rule.awayMarginMs)
    return { forward: true };
  return { forward: false, holdUntil: memory.forwardedAt + rule.maxAgeMs };
}

/** The memory after a presence update was passed on and Odoo answered. */
export function rememberPresence(
  memory: PresenceMemory | undefined,
  now: number,
  inactivityMs: number,
): PresenceMemory {
  const presence = now - inactivityMs;
  return {
    forwardedAt: now,
    presenceAt: memory === undefined ? presence : Math.max(memory.presenceAt, presence),
  };
}

/** `bus_inactivity` as Odoo reads it (milliseconds, a number), or undefined. */
export function inactivityOf(options: unknown): number | undefined {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return undefined;
  const value = (options as Record<string, unknown>).bus_inactivity;
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
