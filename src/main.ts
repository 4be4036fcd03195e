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
import { createLogger } from './observability/logger.js';
import { createSidecar } from './sidecar.js';

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
  const sidecar = createSidecar(config, logger);
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
  logger.info({ settings: startupSummary(loaded) }, 'configuration read');
  for (const warning of loaded.warnings) logger.warn(warning);
  logger.info({ workers: config.workers }, 'starting worker processes');
  let stopping = false;
  for (let i = 0; i < config.workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    cluster.fork();
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
else void runWorker(loaded);
