/**
 * Every database's reader: created on first use, nudged by the `imbus` NOTIFYs that name its
 * database, polling while the LISTEN connection is down, each with its restart journal. Readers
 * hand their rows to `deliver` (the hub's fan-out); transports see them through `ReaderViews`.
 *
 * The flow: listener → `BusReaders.onImbus` → `BusReader` → `deliver` (hub) → transports.
 */
import type { Config } from '../config/load.js';
import type { ReadPools } from '../db/readPools.js';
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { HoleJournal, journalDirectory, journalFile } from './journal.js';
import { type NotifiedChannel, NotifyPayloadError, parseImbusPayload } from './notifyPayload.js';
import { BusReader } from './reader.js';
import type { ReaderViews } from './readerView.js';
import type { BusRow } from './types.js';

export interface BusReadersOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  pools: ReadPools;
  /** Receives each batch of new rows of one database, ascending by id (the hub's fan-out). */
  deliver: (database: string, rows: BusRow[], nudgedAt: number) => void;
  /** Which worker process of the instance this is (the restart journal is per process). */
  slot?: number;
  /** The monotonic clock of the readers' deadlines (tests inject one). */
  clock?: Clock;
}

/**
 * The databases whose readers one NOTIFY nudges: those its channels name, or every one when a
 * channel names none (the plain strings of Odoo 12-14 may belong to any database).
 */
export function notifiedDatabases(channels: readonly NotifiedChannel[]): Set<string> | 'every' {
  const databases = new Set<string>();
  for (const channel of channels) {
    if (channel.db === undefined) return 'every';
    databases.add(channel.db);
  }
  return databases;
}

export class BusReaders implements ReaderViews {
  private readonly readers = new Map<string, BusReader>();
  private listenerUp = false;
  private readonly journalDir: string | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly options: BusReadersOptions) {
    this.clock = options.clock ?? monotonicClock;
    this.logger = options.logger.child({ component: 'reader' });
    this.journalDir = journalDirectory(options.config.stateDir, options.config.port, this.logger);
  }

  /** The reader of `database`, created on first use. */
  reader(database: string): BusReader {
    let reader = this.readers.get(database);
    if (!reader) {
      reader = this.create(database);
      if (!this.listenerUp) reader.setPolling(this.options.config.pollFallbackMs);
      this.readers.set(database, reader);
    }
    return reader;
  }

  existingReader(database: string): BusReader | undefined {
    return this.readers.get(database);
  }

  /** How many rows each database's reader has read: taken before asking Odoo for a subscription. */
  readCounts(): Map<string, number> {
    return new Map([...this.readers].map(([db, reader]) => [db, reader.readCount]));
  }

  /** Every database read so far, with its reader (status page, metrics). */
  entries(): IterableIterator<[string, BusReader]> {
    return this.readers.entries();
  }

  get healthy(): boolean {
    for (const reader of this.readers.values()) if (!reader.healthy) return false;
    return true;
  }

  /** The databases whose rows are not being delivered, and why (for readiness). */
  failures(): Array<{ database: string; reason: string }> {
    const failures: Array<{ database: string; reason: string }> = [];
    for (const reader of this.readers.values()) {
      const reason = reader.failure;
      if (reason !== undefined) failures.push({ database: reader.database, reason });
    }
    return failures;
  }

  /** An `imbus` NOTIFY: nudge the reader of every database it names. */
  onImbus(payload: string): void {
    let channels: ReturnType<typeof parseImbusPayload>;
    try {
      channels = parseImbusPayload(payload);
    } catch (error) {
      this.options.metrics.notifyMalformed.inc();
      this.options.logger.warn(
        {
          reason: error instanceof NotifyPayloadError ? error.message : String(error),
          bytes: payload.length,
        },
        'imbus NOTIFY payload skipped: not a JSON array of channels',
      );
      return;
    }
    const databases = notifiedDatabases(channels);
    if (databases === 'every') for (const reader of this.readers.values()) reader.nudge();
    else for (const db of databases) this.readers.get(db)?.nudge();
  }

  onListenerUp(reconnected: boolean): void {
    this.listenerUp = true;
    for (const reader of this.readers.values()) {
      reader.setPolling(undefined);
      // What committed while LISTEN was down is read now, from the table.
      if (reconnected) reader.nudge();
    }
  }

  onListenerDown(): void {
    this.listenerUp = false;
    for (const reader of this.readers.values())
      reader.setPolling(this.options.config.pollFallbackMs);
  }

  /** Waits for in-flight reads and their deliveries to finish (graceful shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.readers.values()].map((reader) => reader.idle()));
  }

  stop(): void {
    for (const reader of this.readers.values()) reader.stop();
  }

  private create(database: string): BusReader {
    const { config, metrics, pools } = this.options;
    return new BusReader({
      database,
      pool: pools.get(database),
      classify: (error) => pools.classify(database, error),
      logger: this.logger,
      metrics,
      deliver: this.options.deliver,
      coalesceMs: config.coalesceMs,
      batchSize: config.readBatchSize,
      lateCommitWindowMs: config.lateCommitWindowSeconds * 1000,
      recentRowsMs: config.recentRowsSeconds * 1000,
      maxFrameBytes: config.maxFrameBytes,
      maxRowBytes: config.maxRowBytes,
      now: this.clock,
      ...(this.journalDir === undefined
        ? {}
        : {
            journal: new HoleJournal(
              journalFile(this.journalDir, config.port, this.options.slot ?? 0, database),
              this.logger,
            ),
          }),
    });
  }
}
