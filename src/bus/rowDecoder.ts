/**
 * Turns the rows of a page into `BusRow`s, numbering them in read order (`seq`), and says what
 * happens to the rows that cannot be delivered as they are:
 * - a message that is not JSON would break the whole frame for every client: skipped, counted,
 *   logged;
 * - a message larger than `maxRowBytes` was not even loaded (`readQuery.ts`): skipped, counted,
 *   logged as an error. Odoo would send it whole; no client receives it from the sidecar, and the
 *   rows after it are delivered as usual;
 * - a message larger than `maxFrameBytes` (but not `maxRowBytes`) is delivered, alone in a frame of
 *   its own, as Odoo would send it: counted and logged, since such frames cost every recipient.
 */
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { PageRow } from './readQuery.js';
import type { BusRow } from './types.js';

export interface RowDecoderOptions {
  database: string;
  logger: Logger;
  metrics: Metrics;
  maxFrameBytes: number;
  maxRowBytes: number;
}

const NO_IDS: ReadonlySet<number> = new Set();

export class RowDecoder {
  /** Read counter: every row decoded gets the next number (see `BusRow.seq`). */
  seq = 0;

  constructor(private readonly options: RowDecoderOptions) {}

  /** The deliverable rows of `rows`, in order; `late` names the ids that filled a hole. */
  rows(rows: readonly PageRow[], now: number, late: ReadonlySet<number> = NO_IDS): BusRow[] {
    const { database, logger, metrics, maxFrameBytes, maxRowBytes } = this.options;
    const valid: BusRow[] = [];
    for (const row of rows) {
      if (row.bytes > maxRowBytes) {
        metrics.oversizedRows.labels('skipped').inc();
        logger.error(
          { database, id: row.id, bytes: row.bytes, maxRowBytes },
          'bus_bus row skipped: its message is larger than maxRowBytes; no client receives it (Odoo would send it whole)',
        );
        continue;
      }
      if (
        typeof row.channel !== 'string' ||
        typeof row.message !== 'string' ||
        !isJson(row.message)
      ) {
        metrics.rowsMalformed.inc();
        logger.warn({ database, id: row.id }, 'bus_bus row skipped: its message is not JSON');
        continue;
      }
      if (row.bytes > maxFrameBytes) {
        metrics.oversizedRows.labels('alone').inc();
        logger.warn(
          { database, id: row.id, bytes: row.bytes, maxFrameBytes },
          'bus_bus row larger than maxFrameBytes: sent alone, in a frame of its own',
        );
      }
      valid.push({
        id: row.id,
        channel: row.channel,
        message: row.message,
        readAt: now,
        seq: ++this.seq,
        bytes: row.bytes,
        ...(late.has(row.id) ? { late: true } : {}),
      });
    }
    return valid;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
