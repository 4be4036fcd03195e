/**
 * A sidecar logger whose lines a test can read: every line is kept as written (pino's JSON) and
 * parsed on demand, so a test asserts what an admin would read in the log.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export type LevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogLine {
  /** By name, as the sidecar writes it (`"level":"warn"`). */
  level: LevelName;
  msg: string;
  [field: string]: unknown;
}

/** Whether `line` is at `level` or above. */
export function atLeast(line: { level: unknown }, level: LevelName): boolean {
  const rank = pino.levels.values[String(line.level)];
  return rank !== undefined && rank >= (pino.levels.values[level] ?? 0);
}

export interface LogSink {
  readonly logger: Logger;
  readonly lines: readonly string[];
  /** Parsed lines, optionally only those at `level` or above. */
  entries(minLevel?: LevelName): LogLine[];
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
    entries(minLevel: LevelName = 'trace') {
      return lines
        .map((line) => JSON.parse(line) as LogLine)
        .filter((line) => atLeast(line, minLevel));
    },
  };
}
