/**
 * The queues of calls to Odoo of one process, from the settings. Odoo's `workers` are processes
 * that each serve one request at a time: the settings give what the whole sidecar may hold of
 * them, and each of its worker processes (`workers`) takes its part (at least one slot each).
 */
import type { Config } from '../config/load.js';
import type { LimiterOptions } from './limiter.js';

export type QueueLimits = Pick<
  LimiterOptions,
  'slots' | 'places' | 'slotsPerAddress' | 'placesPerAddress' | 'waitMs'
>;

export function callQueues(config: Config): { calls: QueueLimits; forwarding: QueueLimits } {
  const perProcess = (total: number) => Math.max(1, Math.floor(total / config.workers));
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
    calls: queue(perProcess(config.odooConcurrency), perProcess(config.odooQueueLimit)),
    forwarding: queue(perProcess(config.forwardConcurrency), perProcess(config.forwardQueueLimit)),
  };
}
