/**
 * The restart storm (`--storm sigterm|kill`): with N sockets subscribed and idle, the sidecar is
 * signalled and started again as soon as its port is free (as a supervisor restarts it), and the
 * clients come back the way Odoo's websocket worker does. This module holds the pure parts: the
 * worker's retry delay and the summaries of what the clients and the latency sampler saw.
 */

/** Odoo's websocket worker: first delay, jitter added at every retry, and the ceiling. */
export const INITIAL_RECONNECT_DELAY_MS = 1000;
export const RECONNECT_JITTER_MS = 1000;
export const MAXIMUM_RECONNECT_DELAY_MS = 60_000;

/**
 * The delay before the next attempt, as Odoo 17's worker computes it after a close (other than a
 * clean 1000) or a failed attempt: the previous delay ×1.5 (capped), plus up to a second of jitter.
 * The delay is back to the initial one once a connection opens.
 */
export function nextReconnectDelay(previousMs: number, random: number): number {
  return Math.min(previousMs * 1.5, MAXIMUM_RECONNECT_DELAY_MS) + RECONNECT_JITTER_MS * random;
}

/** Whether the worker reconnects after a close with this code (1000 is a deliberate close). */
export function reconnectsAfter(code: number): boolean {
  return code !== 1000;
}

export interface Spread {
  count: number;
  p50: number | undefined;
  p90: number | undefined;
  max: number | undefined;
}

/** Nearest-rank percentiles of a list (ms, s: whatever the values are). */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q: number) =>
    sorted.length === 0 ? undefined : sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
  return { count: sorted.length, p50: rank(0.5), p90: rank(0.9), max: sorted.at(-1) };
}

/** The sum of every series of a Prometheus counter, by the value of one label. */
export function counterByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const value = new RegExp(`${label}="([^"]*)"`).exec(match[2] ?? '')?.[1] ?? '';
    out[value] = (out[value] ?? 0) + Number(match[3]);
  }
  return out;
}

/** What the clients report of a storm, merged over the client processes. */
export interface StormClientStatus {
  /** Sockets the storm concerns (every socket that was open when it began). */
  sockets: number;
  /** Of those, subscribed again: a notification received on a new connection. */
  resubscribed: number;
  /** When each of them was, µs on the machine's shared clock (`nowUs`). */
  resubscribedAtUs: number[];
  /** Handshakes attempted since the storm began, and how the failed ones failed. */
  attempts: number;
  handshakeErrors: Record<string, number>;
  /** Close codes received (1006: the connection dropped without a close frame). */
  closes: Record<string, number>;
}

export function mergeStormStatus(parts: readonly StormClientStatus[]): StormClientStatus {
  const merged: StormClientStatus = {
    sockets: 0,
    resubscribed: 0,
    resubscribedAtUs: [],
    attempts: 0,
    handshakeErrors: {},
    closes: {},
  };
  for (const part of parts) {
    merged.sockets += part.sockets;
    merged.resubscribed += part.resubscribed;
    merged.resubscribedAtUs.push(...part.resubscribedAtUs);
    merged.attempts += part.attempts;
    for (const [k, v] of Object.entries(part.handshakeErrors))
      merged.handshakeErrors[k] = (merged.handshakeErrors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(part.closes))
      merged.closes[k] = (merged.closes[k] ?? 0) + v;
  }
  return merged;
}
