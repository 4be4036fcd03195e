/**
 * Repeated log lines per client, bounded. Anything a client can repeat (a refused handshake, a
 * refused message, a socket closed for its rate) writes its first lines of every window and then
 * is left out until the window ends; the next line written says how many were left out. The
 * event's own metric still counts every occurrence, and `log_lines_suppressed_total` counts what
 * the log does not show.
 *
 * Two budgets apply to each line: the client's for that event, and the event's across all
 * clients, so many addresses (or forged forwarded headers) cannot flood the log either. Memory is
 * bounded: past `maxKeys` tracked clients, expired ones are dropped, then all of them.
 */
import { type Clock, monotonicClock } from '../lifecycle/clock.js';

export interface LogLimiterOptions {
  /** Lines one client may write per event and window. */
  linesPerClient?: number;
  /** Lines one event may write per window, all clients together. */
  linesPerEvent?: number;
  windowMs?: number;
  maxKeys?: number;
  clock?: Clock;
  /** Called for every line left out. */
  onSuppressed?: (event: string) => void;
}

interface Budget {
  windowStart: number;
  lines: number;
  suppressed: number;
}

/** What a written line adds: how many like it were left out since the last one written. */
export type SuppressedNote = { suppressed?: number };

/** Longest client key kept: an address, never a whole forwarded chain. */
const MAX_CLIENT_KEY = 64;

export class LogLimiter {
  private readonly byClient = new Map<string, Budget>();
  private readonly byEvent = new Map<string, Budget>();
  private readonly linesPerClient: number;
  private readonly linesPerEvent: number;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly clock: Clock;

  constructor(private readonly options: LogLimiterOptions = {}) {
    this.linesPerClient = options.linesPerClient ?? 5;
    this.linesPerEvent = options.linesPerEvent ?? 100;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.clock = options.clock ?? monotonicClock;
  }

  /**
   * Calls `write` when this occurrence of `event` by `client` may be logged, with the count of
   * lines left out before it; otherwise counts it as left out.
   */
  log(event: string, client: string | undefined, write: (note: SuppressedNote) => void): void {
    const now = this.clock();
    const clientBudget = this.budget(
      this.byClient,
      `${event} ${(client ?? '').slice(0, MAX_CLIENT_KEY)}`,
      now,
    );
    const eventBudget = this.budget(this.byEvent, event, now);
    if (clientBudget.lines >= this.linesPerClient || eventBudget.lines >= this.linesPerEvent) {
      clientBudget.suppressed++;
      this.options.onSuppressed?.(event);
      return;
    }
    clientBudget.lines++;
    eventBudget.lines++;
    const suppressed = clientBudget.suppressed;
    clientBudget.suppressed = 0;
    write(suppressed > 0 ? { suppressed } : {});
  }

  private budget(map: Map<string, Budget>, key: string, now: number): Budget {
    let budget = map.get(key);
    if (budget === undefined) {
      if (map.size >= this.maxKeys) this.prune(map, now);
      budget = { windowStart: now, lines: 0, suppressed: 0 };
      map.set(key, budget);
    } else if (now - budget.windowStart >= this.windowMs) {
      budget.windowStart = now;
      budget.lines = 0;
    }
    return budget;
  }

  private prune(map: Map<string, Budget>, now: number): void {
    for (const [key, budget] of map) {
      if (now - budget.windowStart >= this.windowMs) map.delete(key);
    }
    if (map.size >= this.maxKeys) map.clear();
  }
}
