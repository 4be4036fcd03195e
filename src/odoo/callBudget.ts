/**
 * The queues of calls to Odoo of one process, from the settings (per worker process: the default
 * of `odooConcurrency` already takes Odoo's `workers` and the sidecar's into account), with the
 * share one client address may hold of each.
 */
import type { Config } from '../config/load.js';
import type { LimiterOptions } from './limiter.js';

export type QueueLimits = Pick<
  LimiterOptions,
  'slots' | 'places' | 'slotsPerAddress' | 'placesPerAddress' | 'waitMs'
>;

export function callQueues(config: Config): { calls: QueueLimits; forwarding: QueueLimits } {
  const queue = (slots: number, places: number): QueueLimits => ({
    slots,
    places,
    slotsPerAddress: Math.min(
      slots,
      config.odooSlotsPerAddress ?? Math.max(1, Math.floor(slots / 2)),
    ),
    placesPerAddress: Math.min(
      places,
      config.odooQueuePerAddress ?? Math.max(1, Math.floor(places / 10)),
    ),
    waitMs: config.odooQueueWaitMs,
  });
  return {
    calls: queue(config.odooConcurrency, config.odooQueueLimit),
    forwarding: queue(config.forwardConcurrency, config.forwardQueueLimit),
  };
}
