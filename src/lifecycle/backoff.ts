/**
 * Capped exponential backoff with "equal jitter": half of each delay is fixed, half random, so
 * reconnecting processes spread out (no thundering herd on a restarted PostgreSQL) while the delay
 * still grows. With the defaults: ~0.2-0.25 s, 0.4-0.5 s, ... capped at 5-10 s.
 */
export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  random?: () => number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 250;
  const max = options.maxMs ?? 10_000;
  const random = options.random ?? Math.random;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
