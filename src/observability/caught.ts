/**
 * Where unexpected errors end: every listener, timer and background task of the sidecar catches
 * what it did not foresee and hands it here, so one bad request, frame or row is counted
 * (`errors_caught_total{site}`), logged (a few lines per site and minute), and the process goes on.
 */

import type { Logger } from './logger.js';
import type { LogLimiter } from './logLimiter.js';
import type { Metrics } from './metrics.js';

/** Where an error was caught; a bounded set, used as a metric label. */
export type CaughtSite =
  | 'upgrade'
  | 'ws-message'
  | 'ws-raw-data'
  | 'ws-close'
  | 'ws-sweep'
  | 'subscribe'
  | 'presence'
  | 'on-closed'
  | 'notification'
  | 'deliver'
  | 'longpoll'
  | 'longpoll-sweep'
  | 'forward'
  | 'http';

export type CaughtErrors = (site: CaughtSite, error: unknown) => void;

export function caughtErrors(logger: Logger, metrics: Metrics, limiter: LogLimiter): CaughtErrors {
  return (site, error) => {
    metrics.errorsCaught.labels(site).inc();
    limiter.log(`caught:${site}`, undefined, (note) =>
      logger.error({ err: error, site, ...note }, 'unexpected error caught; the sidecar goes on'),
    );
  };
}

/** `listener`, with what it throws handed to `caught` instead of the event emitter that called it. */
export function guarded<A extends unknown[]>(
  caught: CaughtErrors,
  site: CaughtSite,
  listener: (...args: A) => void,
): (...args: A) => void {
  return (...args) => {
    try {
      listener(...args);
    } catch (error) {
      caught(site, error);
    }
  };
}
