/**
 * Structured logs (pino). Cookies and session ids never reach a log line: call sites do not pass
 * them, and the redaction below is the safety net for headers that slip through.
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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'odoo-bus-sidecar', pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
