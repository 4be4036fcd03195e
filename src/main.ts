#!/usr/bin/env node
/**
 * Process entry: read the configuration once (flags > environment > odoo.conf > defaults), start
 * one sidecar — or, with `workers > 1`, that many worker processes sharing the port, each with its
 * own LISTEN connection and reader — and own the signals. First SIGTERM/SIGINT: graceful shutdown
 * (see `Sidecar.shutdown`), bounded by `shutdownTimeout`; a second signal exits at once. The
 * primary of several workers replaces a worker that exits, with a backoff, and gives up when they
 * keep failing to start (`lifecycle/workerRestarts.ts`).
 */
import cluster from 'node:cluster';
import { ConfigError, type LoadResult, loadConfig } from './config/load.js';
import { OdooConfError } from './config/odooConf.js';
import { configReport, startupSummary } from './config/report.js';
import { settings } from './config/settings.js';
import { monotonicClock } from './lifecycle/clock.js';
import { installLastResort } from './lifecycle/lastResort.js';
import { WorkerRestarts } from './lifecycle/workerRestarts.js';
import { answerPrimary, clusterAdmin } from './observability/admin/cluster.js';
import { createLogger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createSidecar } from './sidecar.js';
import { VERSION } from './version.js';

/** Set by the primary for each worker process (not a setting). */
const WORKER_SLOT_ENV = 'ODOO_BUS_SIDECAR_WORKER_SLOT';

function usage(): string {
  const lines = [
    'Usage: odoo-bus-sidecar [--odoo-config /etc/odoo/odoo.conf] [--check-config] [--version] [--<setting> value ...]',
    '',
    "Serves Odoo's bus (/websocket) from one direct LISTEN connection. Settings (flag, environment, odoo.conf):",
  ];
  for (const s of Object.values(settings)) {
    const sources = [
      `--${s.source.flag}`,
      ...s.source.env,
      ...(s.source.odoo ?? []).map((o) => `odoo.conf:${o}`),
    ];
    lines.push(`  ${sources.join(', ')}`, `      ${s.description}`);
  }
  return lines.join('\n');
}

function load(): LoadResult {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError || error instanceof OdooConfError) {
      process.stderr.write(`odoo-bus-sidecar: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function runWorker(loaded: LoadResult): Promise<void> {
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  // With several workers the primary said all this once already.
  if (cluster.isPrimary) {
    logger.info({ version: VERSION }, 'odoo-bus-sidecar starting');
    logger.info({ settings: startupSummary(loaded) }, 'configuration read');
    for (const warning of loaded.warnings) logger.warn(warning);
  }
  const metrics = createMetrics();
  installLastResort(logger, metrics);
  // A worker's place among its siblings, kept by its replacement: its restart journal is found again.
  const slot = Number(process.env[WORKER_SLOT_ENV] ?? 0);
  const sidecar = createSidecar(config, logger, {
    metrics,
    slot: Number.isInteger(slot) ? slot : 0,
    // A worker of a cluster leaves the admin port to its primary, and answers its questions.
    admin: cluster.isPrimary,
  });
  if (!cluster.isPrimary) answerPrimary(sidecar.parts);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    const hardStop = setTimeout(() => {
      logger.error(
        { timeoutSeconds: config.shutdownTimeoutSeconds },
        'shutdown took too long: exiting',
      );
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    hardStop.unref();
    sidecar.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await sidecar.start();
  } catch (error) {
    logger.fatal({ err: error }, 'cannot start');
    // A worker tells the primary why, so that its giving up can say it.
    if (process.send) process.send({ startFailed: String(error) }, () => process.exit(1));
    else process.exit(1);
  }
}

function runPrimary(loaded: LoadResult): void {
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  installLastResort(logger);
  logger.info({ settings: startupSummary(loaded) }, 'configuration read');
  for (const warning of loaded.warnings) logger.warn(warning);
  logger.info({ version: VERSION, workers: config.workers }, 'starting worker processes');
  // Workers that die young are started again later and later, and workers that keep failing to
  // start make the primary give up: a fault that kills every worker at start must not turn the
  // primary into a fork loop.
  const restarts = new WorkerRestarts({
    backoff: { baseMs: 500, maxMs: 30_000 },
    now: monotonicClock,
  });
  const slots = new Map<number, number>();
  const pending = new Set<NodeJS.Timeout>();
  let stopping = false;
  /** 0 after a signal, 1 once the primary gave up. */
  let exitCode = 0;
  const fork = (slot: number) => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    restarts.started(worker.id);
    slots.set(worker.id, slot);
    worker.on('error', (error) =>
      logger.error({ err: error, workerPid: worker.process.pid }, 'worker error'),
    );
  };
  const stopWorkers = (signal: NodeJS.Signals) => {
    for (const timer of pending) clearTimeout(timer);
    pending.clear();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  cluster.on('listening', (worker) => restarts.listening(worker.id));
  cluster.on('message', (worker, message: unknown) => {
    if (typeof message === 'object' && message !== null && 'startFailed' in message) {
      restarts.failedWith(worker.id, String(message.startFailed));
    }
  });
  for (let i = 0; i < config.workers; i++) fork(i);
  clusterAdmin(config, logger)
    .listen()
    .then(
      ({ host, port }) => logger.info({ admin: `${host}:${port}` }, 'admin port listening'),
      (error: unknown) => {
        logger.fatal({ err: error }, 'cannot open the admin port');
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
        process.exit(1);
      },
    );
  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker.id) ?? 0;
    slots.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    const decision = restarts.exited(worker.id, { code, signal });
    if (decision.action === 'give-up') {
      logger.fatal(
        { failedStarts: decision.failedStarts, reason: decision.reason },
        `worker processes failed to start ${decision.failedStarts} times in a row (last: ${decision.reason}); giving up`,
      );
      stopping = true;
      exitCode = 1;
      stopWorkers('SIGTERM');
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    logger.error(
      { workerPid: worker.process.pid, code, signal, restartInMs: Math.round(decision.delayMs) },
      'worker exited; starting another',
    );
    // The replacement keeps the slot (and with it the worker's restart journal).
    const timer = setTimeout(() => {
      pending.delete(timer);
      if (!stopping) fork(slot);
    }, decision.delayMs);
    pending.add(timer);
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    stopping = true;
    stopWorkers(signals > 1 ? 'SIGKILL' : signal);
    // No worker left to wait for (one was due to be restarted): nothing else will end the process.
    if (signals > 1) process.exit(1);
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

// Before the configuration: the version is asked for without one.
if (process.argv.slice(2).includes('--version')) {
  process.stdout.write(`odoo-bus-sidecar ${VERSION}\n`);
  process.exit(0);
}
const loaded = load();
if (loaded.actions.help) {
  process.stdout.write(`${usage()}\n`);
  process.exit(0);
}
if (loaded.actions.checkConfig) {
  process.stdout.write(`${JSON.stringify(configReport(loaded), null, 2)}
`);
  process.exit(0);
}
if (loaded.config.workers > 1 && cluster.isPrimary) runPrimary(loaded);
else {
  runWorker(loaded).catch((error: unknown) => {
    process.stderr.write(`odoo-bus-sidecar: cannot start: ${String(error)}\n`);
    process.exit(1);
  });
}
