/**
 * The process-wide handlers, as a last resort only: every listener, timer and background task of
 * the sidecar catches its own errors (`observability/caught.ts`), so these should never run. A
 * rejected promise that still slips through is logged and counted (`last_resort_errors_total`)
 * and the process goes on. An exception thrown out of an event handler leaves the process in a
 * state nobody knows: it is logged and the process exits (1), so that the supervisor, or the
 * primary process with `workers`, starts a clean one.
 */

import type { Logger } from '../observability/logger.js';
import { LogLimiter } from '../observability/logLimiter.js';
import type { Metrics } from '../observability/metrics.js';

export function installLastResort(logger: Logger, metrics?: Metrics): void {
  const limiter = new LogLimiter();
  process.on('unhandledRejection', (reason) => {
    metrics?.lastResortErrors.labels('unhandledRejection').inc();
    limiter.log('unhandled-rejection', undefined, (note) =>
      logger.error(
        { err: reason, ...note },
        'a rejected promise was not handled (a bug): logged, the sidecar goes on',
      ),
    );
  });
  process.on('uncaughtException', (error) => {
    metrics?.lastResortErrors.labels('uncaughtException').inc();
    logger.fatal({ err: error }, 'uncaught exception (a bug): exiting');
    process.exit(1);
  });
}
