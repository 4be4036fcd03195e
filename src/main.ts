#!/usr/bin/env node
/**
 * Process entry: read the configuration once (flags > environment > odoo.conf > defaults), start
 * one sidecar — or, with `workers > 1`, that many worker processes sharing the port, each with its
 * own LISTEN connection and reader — and own the signals. First SIGTERM/SIGINT: graceful shutdown
 * (see `Sidecar.shutdown`), bounded by `shutdownTimeout`; a second signal exits at once.
 */
import cluster from 'node:cluster';
import { ConfigError, type LoadResult, loadConfig } from './config/load.js';
import { OdooConfError } from './config/odooConf.js';
import { configReport, startupSummary } from './config/report.js';
import { settings } from './config/settings.js';
import { backoffDelay } from './lifecycle/backoff.js';
import { monotonicClock } from './lifecycle/clock.js';
import { installLastResort } from './lifecycle/lastResort.js';
import { createLogger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { createSidecar } from './sidecar.js';

/** A worker that lived this long ended for its own reasons: the next one starts at once. */
const WORKER_STABLE_MS = 30_000;
/** Set by the primary for each worker process (not a setting). */
const WORKER_SLOT_ENV = 'ODOO_BUS_SIDECAR_WORKER_SLOT';

function usage(): string {
  const lines = [
    'Usage: odoo-bus-sidecar [--odoo-config /etc/odoo/odoo.conf] [--check-config] [--<setting> value ...]',
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
  });
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
    process.exit(1);
  }
}

function runPrimary(loaded: LoadResult): void {
  const { config } = loaded;
  const logger = createLogger(config.logLevel);
  installLastResort(logger);
  logger.info({ settings: startupSummary(loaded) }, 'configuration read');
  for (const warning of loaded.warnings) logger.warn(warning);
  logger.info({ workers: config.workers }, 'starting worker processes');
  let stopping = false;
  const startedAt = new Map<number, number>();
  const slots = new Map<number, number>();
  // Workers that die young are started again later and later: a fault that kills every worker
  // at start must not turn the primary into a fork loop.
  let quickDeaths = 0;
  const fork = (slot: number) => {
    const worker = cluster.fork({ [WORKER_SLOT_ENV]: String(slot) });
    startedAt.set(worker.id, monotonicClock());
    slots.set(worker.id, slot);
    worker.on('error', (error) =>
      logger.error({ err: error, pid: worker.process.pid }, 'worker error'),
    );
  };
  for (let i = 0; i < config.workers; i++) fork(i);
  cluster.on('exit', (worker, code, signal) => {
    const lived = monotonicClock() - (startedAt.get(worker.id) ?? 0);
    const slot = slots.get(worker.id) ?? 0;
    startedAt.delete(worker.id);
    slots.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    quickDeaths = lived >= WORKER_STABLE_MS ? 0 : quickDeaths + 1;
    const delayMs =
      quickDeaths === 0 ? 0 : backoffDelay(quickDeaths - 1, { baseMs: 500, maxMs: 30_000 });
    logger.error(
      { pid: worker.process.pid, code, signal, restartInMs: delayMs },
      'worker exited; starting another',
    );
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, delayMs);
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {}))
      worker?.process.kill(signals > 1 ? 'SIGKILL' : signal);
    if (signals > 1) process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

const loaded = load();
if (loaded.actions.help) {
  process.stdout.write(`${usage()}\n`);
  process.exit(0);
}
if (loaded.actions.checkConfig) {
  process.stdout.write(`${JSON.stringify(configReport(loaded), null, 2)}\n`);
  process.exit(0);
}
if (loaded.config.workers > 1 && cluster.isPrimary) runPrimary(loaded);
else {
  runWorker(loaded).catch((error: unknown) => {
    process.stderr.write(`odoo-bus-sidecar: cannot start: ${String(error)}\n`);
    process.exit(1);
  });
}
