/**
 * Structured logs (pino). Cookies and session ids never reach a log line: call sites do not pass
 * them, and the redaction below is the safety net for headers that slip through. Logged values
 * come from clients too (a forwarded address chain, a path, an Origin): every string field is cut
 * to `MAX_LOGGED_CHARS`, so no request can make a line long; repetition is bounded by
 * `LogLimiter`.
 */
import { pino } from 'pino';

export type Logger = pino.Logger;

export const REDACTED_PATHS = [
  'cookie',
  '*.cookie',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  'sessionId',
  '*.sessionId',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

/** Characters kept of one logged string; what is cut is said, with its length. */
export const MAX_LOGGED_CHARS = 256;
/** Nesting levels of plain objects whose strings are cut (fastify's `req`, `res`...). */
const CAPPED_LEVELS = 2;

function cut(text: string): string {
  return `${text.slice(0, MAX_LOGGED_CHARS)}...[${text.length} chars]`;
}

/** `fields` with every long string cut; the same object when nothing is long (the usual case). */
export function capLoggedFields<T extends object>(fields: T, level = 0): T {
  let copy: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    let capped: unknown = value;
    if (typeof value === 'string') {
      if (value.length > MAX_LOGGED_CHARS) capped = cut(value);
    } else if (
      level < CAPPED_LEVELS &&
      typeof value === 'object' &&
      value !== null &&
      !(value instanceof Error) &&
      (Object.getPrototypeOf(value) === Object.prototype || Array.isArray(value))
    ) {
      capped = capLoggedFields(value, level + 1);
    }
    if (capped !== value) {
      const target: Record<string, unknown> =
        copy ??
        (Array.isArray(fields)
          ? ([...fields] as unknown as Record<string, unknown>)
          : { ...(fields as Record<string, unknown>) });
      target[key] = capped;
      copy = target;
    }
  }
  return (copy ?? fields) as T;
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'odoo-bus-sidecar', pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Children inherit `log` but not `bindings` (pino resets it): call sites binding what a
      // client sent cut it with `capLoggedFields`.
      formatters: {
        bindings: (bindings) => capLoggedFields(bindings),
        log: (fields) => capLoggedFields(fields),
      },
    },
    destination,
  );
}
