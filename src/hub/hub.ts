/**
 * The fan-out: the registry of subscribers per channel, and the delivery of one database's batch of
 * rows to the subscribers of its channels, split into frames and encoded once per group. No I/O:
 * the readers (`bus/readers.ts`) call `deliver`, transports register subscribers and implement
 * `send`.
 */

import type { BusRow } from '../bus/types.js';
import { type Clock, monotonicClock } from '../lifecycle/clock.js';
import type { CaughtErrors } from '../observability/caught.js';
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
  /** Largest frame written to a subscriber (a larger batch is split). */
  maxFrameBytes: number;
  metrics: Metrics;
  /** The monotonic clock handed to `send` (tests inject one). */
  clock?: Clock;
  /** Where a subscriber's failure to take a frame ends (counted, logged, the others go on). */
  caught: CaughtErrors;
}

export class Hub<S extends HubSubscriber> {
  readonly registry = new Registry<S>();
  private readonly clock: Clock;

  constructor(private readonly options: HubOptions) {
    this.clock = options.clock ?? monotonicClock;
  }

  subscribe(subscriber: S, keys: Iterable<string>): void {
    this.registry.replace(subscriber, keys);
  }

  unsubscribe(subscriber: S): void {
    this.registry.remove(subscriber);
  }

  /** One batch of new rows of `database`, ascending by id, to the subscribers of its channels. */
  deliver(database: string, rows: BusRow[], nudgedAt: number): void {
    const groups = groupDeliveries<S>(
      rows,
      (row) => this.registry.subscribersOf(row.channel),
      (subscriber, row) => subscriber.accepts(row),
      {
        eligible: (subscriber) => subscriber.db === database,
        acceptsAll: (subscriber) => subscriber.acceptsAll,
      },
    );
    if (groups.length === 0) return;
    const now = this.clock();
    const { maxFrameBytes } = this.options;
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
    // Once per batch, after the write to its last subscriber: never per socket.
    this.options.metrics.notifyToWriteSeconds.observe((performance.now() - nudgedAt) / 1000);
  }
}
