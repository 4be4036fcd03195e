/**
 * The centre of the data flow: NOTIFY payloads nudge the per-database readers, readers hand their
 * rows to the fan-out, the fan-out writes frames to the subscribers registered for each channel.
 * Transports (websocket, long polling) only register subscribers and implement `send`.
 */

import { HoleJournal, journalDirectory, journalFile } from '../bus/journal.js';
import { NotifyPayloadError, parseImbusPayload } from '../bus/notifyPayload.js';
import { BusReader } from '../bus/reader.js';
import type { BusRow } from '../bus/types.js';
import type { Config } from '../config/load.js';
import type { ReadPools } from '../db/readPools.js';
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { CaughtErrors } from '../observability/caught.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { EncodedBatch } from './encodedBatch.js';
import { groupDeliveries } from './fanout.js';
import { splitBySize } from './frameSplit.js';
import { Registry } from './registry.js';

export interface HubSubscriber {
  /** The Odoo database whose rows this subscriber receives. */
  readonly db: string | undefined;
  /** Last word on one row (a socket skips rows its catch-up already carried). */
  accepts(row: BusRow): boolean;
  /** True when `accepts` would take every row and record nothing (the usual case). */
  readonly acceptsAll: boolean;
  /**
   * Writes one batch; it is shared by every subscriber of the group, never mutate its bytes.
   * `now` is the hub's (monotonic) clock.
   */
  send(batch: EncodedBatch, now: number): void;
}

export interface HubOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  pools: ReadPools;
  /** Which worker process of the instance this is (the restart journal is per process). */
  slot?: number;
  /** The monotonic clock of the readers' deadlines (tests inject one). */
  clock?: Clock;
  /** Where a subscriber's failure to take a frame ends (counted, logged, the others go on). */
  caught: CaughtErrors;
}

export class Hub<S extends HubSubscriber> {
  readonly registry = new Registry<S>();
  private readonly readers = new Map<string, BusReader>();
  private listenerUp = false;
  private readonly journalDir: string | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: HubOptions) {
    this.clock = options.clock ?? monotonicClock;
    this.journalDir = journalDirectory(
      options.config.stateDir,
      options.config.port,
      options.logger.child({ component: 'reader' }),
    );
  }

  /** The reader of `database`, created on first use. */
  reader(database: string): BusReader {
    let reader = this.readers.get(database);
    if (!reader) {
      const { config, logger, metrics } = this.options;
      const readerLogger = logger.child({ component: 'reader' });
      reader = new BusReader({
        database,
        pool: this.options.pools.get(database),
        classify: (error) => this.options.pools.classify(database, error),
        logger: readerLogger,
        metrics,
        deliver: (db, rows) => this.deliver(db, rows),
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
                readerLogger,
              ),
            }),
      });
      if (!this.listenerUp) reader.setPolling(config.pollFallbackMs);
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

  get readersHealthy(): boolean {
    for (const reader of this.readers.values()) if (!reader.healthy) return false;
    return true;
  }

  /** The databases whose rows are not being delivered, and why (for readiness). */
  readerFailures(): Array<{ database: string; reason: string }> {
    const failures: Array<{ database: string; reason: string }> = [];
    for (const reader of this.readers.values()) {
      const reason = reader.failure;
      if (reason !== undefined) failures.push({ database: reader.database, reason });
    }
    return failures;
  }

  subscribe(subscriber: S, keys: Iterable<string>): void {
    this.registry.replace(subscriber, keys);
  }

  unsubscribe(subscriber: S): void {
    this.registry.remove(subscriber);
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
    let everyReader = false;
    const databases = new Set<string>();
    for (const channel of channels) {
      if (channel.db === undefined) everyReader = true;
      else databases.add(channel.db);
    }
    // Channels without a database (plain strings of Odoo 12-14) may belong to any database.
    if (everyReader) for (const reader of this.readers.values()) reader.nudge();
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

  private deliver(database: string, rows: BusRow[]): void {
    const groups = groupDeliveries<S>(
      rows,
      (row) => this.registry.subscribersOf(row.channel),
      (subscriber, row) => subscriber.accepts(row),
      {
        eligible: (subscriber) => subscriber.db === database,
        acceptsAll: (subscriber) => subscriber.acceptsAll,
      },
    );
    const now = this.clock();
    const { maxFrameBytes } = this.options.config;
    for (const group of groups) {
      const frames = splitBySize(group.rows, maxFrameBytes);
      if (frames.length > 1) this.options.metrics.framesSplit.inc();
      for (const rows of frames) {
        const batch = new EncodedBatch(rows);
        for (const subscriber of group.subscribers) {
          try {
            subscriber.send(batch, now);
          } catch (error) {
            // One subscriber's fault must not cost the others their rows.
            this.options.caught('deliver', error);
          }
        }
      }
    }
  }
}
