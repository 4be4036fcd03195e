/**
 * A sidecar logger whose lines a test can read: every line is kept as written (pino's JSON) and
 * parsed on demand, so a test asserts what an admin would read in the log.
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface LogSink {
  readonly logger: Logger;
  readonly lines: readonly string[];
  /** Parsed lines, optionally only those at or above `level` (pino numbers: 40 warn, 50 error). */
  entries(minLevel?: number): LogLine[];
}

export function logSink(level = 'info'): LogSink {
  const lines: string[] = [];
  const logger = createLogger(
    level,
    new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    }),
  );
  return {
    logger,
    lines,
    entries(minLevel = 0) {
      return lines
        .map((line) => JSON.parse(line) as LogLine)
        .filter((line) => line.level >= minLevel);
    },
  };
}
