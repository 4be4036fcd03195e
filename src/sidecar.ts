/**
 * Wires one sidecar: config → LISTEN connection → per-database readers → hub → transports, with the
 * Odoo client beside them. `createSidecar` never touches process-wide state (signals, exit), so tests
 * run several in one process; `main.ts` owns the process.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type Config, servesDatabase } from './config/load.js';
import { Listener } from './db/listener.js';
import { ReadPools } from './db/readPools.js';
import { Hub, type HubSubscriber } from './hub/hub.js';
import { type Clock, monotonicClock } from './lifecycle/clock.js';
import { caughtErrors, guarded } from './observability/caught.js';
import { readiness } from './observability/health.js';
import type { Logger } from './observability/logger.js';
import { LogLimiter } from './observability/logLimiter.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { REVOKE_CHANNEL } from './odoo/addonContract.js';
import { OdooClient } from './odoo/client.js';
import { OdooInfoSource } from './odoo/odooInfo.js';
import { parseRevocation } from './odoo/revocation.js';
import type { TransportDependencies } from './transports/dependencies.js';
import { forwardingOf } from './transports/forward.js';
import { LongPollingServer } from './transports/longpolling/server.js';
import { WebsocketServer } from './transports/websocket/server.js';

export const IMBUS_CHANNEL = 'imbus';

export interface Sidecar {
  readonly config: Config;
  readonly app: FastifyInstance;
  readonly metrics: Metrics;
  readonly hub: Hub<HubSubscriber>;
  readonly websockets: WebsocketServer;
  readonly longPolling: LongPollingServer;
  readonly listener: Listener;
  readonly odooInfo: OdooInfoSource;
  /** Starts the LISTEN connection and the HTTP server; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  /** Graceful stop: refuse new sockets, close open ones with 1012 over the window, drain, release. */
  shutdown(): Promise<void>;
  /** Immediate stop (second signal, or tests). */
  destroy(): Promise<void>;
}

export function createSidecar(
  config: Config,
  logger: Logger,
  options: { metrics?: Metrics; clock?: Clock } = {},
): Sidecar {
  const metrics = options.metrics ?? createMetrics();
  const clock = options.clock ?? monotonicClock;
  const logLimiter = new LogLimiter({
    clock,
    onSuppressed: (event) => metrics.logSuppressed.labels(event).inc(),
  });
  const caught = caughtErrors(logger, metrics, logLimiter);
  const pools = new ReadPools({
    host: config.readDbHost,
    port: config.readDbPort,
    user: config.dbUser,
    password: config.dbPassword,
    max: config.readPoolSize,
    logger: logger.child({ component: 'read-pool' }),
  });
  const hub = new Hub<HubSubscriber>({ config, logger, metrics, pools });
  const odoo = new OdooClient({
    baseUrl: config.odooUrl,
    concurrency: config.odooConcurrency,
    queueLimit: config.odooQueueLimit,
    timeoutMs: config.odooTimeoutMs,
    maxAnswerBytes: config.maxOdooAnswerBytes,
    secret: config.secret,
    logger: logger.child({ component: 'odoo' }),
    metrics,
  });
  const odooInfo = new OdooInfoSource({
    odoo,
    secret: config.secret,
    refreshMs: config.infoRefreshSeconds * 1000,
    workerVersion: config.workerVersion,
    major: config.odooVersion === 'auto' ? undefined : config.odooVersion,
    logger: logger.child({ component: 'odoo-info' }),
    clock,
  });
  const transport: TransportDependencies = {
    config,
    logger,
    metrics,
    hub,
    odoo,
    servesDatabase: (db) => servesDatabase(config, db),
    odooMajor: () => odooInfo.major(),
    clock,
    logLimiter,
    caught,
  };
  const websockets = new WebsocketServer({
    ...transport,
    workerVersion: () => odooInfo.workerVersion(),
    keepsSessionIds: () => odooInfo.keepsSessionIds(),
  });
  const longPolling = new LongPollingServer(transport);
  const listener = new Listener({
    connection: {
      host: config.listenDbHost,
      port: config.listenDbPort,
      user: config.dbUser,
      password: config.dbPassword,
      database: config.notifyDatabase,
    },
    channels: [IMBUS_CHANNEL, REVOKE_CHANNEL],
    logger: logger.child({ component: 'listener' }),
    metrics,
    // Called from the LISTEN connection's events: a fault there must not end the process.
    onNotification: guarded(caught, 'notification', (channel: string, payload: string) => {
      metrics.notifications.labels(channel).inc();
      if (channel === IMBUS_CHANNEL) hub.onImbus(payload);
      else if (channel === REVOKE_CHANNEL) {
        const revocation = parseRevocation(payload);
        if (revocation === undefined) {
          metrics.notifyMalformed.inc();
          logger.warn(
            { channel, bytes: payload.length },
            'revocation NOTIFY skipped: not a JSON object',
          );
        } else if (revocation.db !== undefined && !servesDatabase(config, revocation.db)) {
          // Every Odoo on the cluster announces on this channel: another database's news is not ours.
          logger.debug(
            { db: revocation.db },
            'session revocation for a database not served, ignored',
          );
        } else {
          websockets.revoke(revocation);
          longPolling.revoke(revocation);
        }
      }
    }),
    onUp: (reconnected) => hub.onListenerUp(reconnected),
    onDown: () => hub.onListenerDown(),
  });

  let shuttingDown = false;
  const app = buildApp({
    logger,
    metrics,
    forwarding: forwardingOf(transport),
    proxyMode: config.proxyMode,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    plugins: [(instance) => longPolling.register(instance)],
    readiness: () =>
      readiness({
        listenerUp: listener.isUp,
        readsHealthy: hub.readersHealthy,
        shuttingDown,
        odooInfoFresh: odooInfo.required
          ? odooInfo.answeredAt !== undefined &&
            clock() - odooInfo.answeredAt < config.infoRefreshSeconds * 3000
          : undefined,
        sockets: websockets.openCount,
        readConnections: pools.totalCount,
      }),
  });
  app.server.on('upgrade', (request, socket, head) =>
    websockets.handleUpgrade(request, socket, head),
  );

  let shutdownPromise: Promise<void> | undefined;
  const release = async () => {
    hub.stop();
    odooInfo.stop();
    await listener.stop();
    await pools.end();
    await odoo.close();
  };

  return {
    config,
    app,
    metrics,
    hub,
    websockets,
    longPolling,
    listener,
    odooInfo,
    async start() {
      await Promise.all([listener.start(), odooInfo.start()]);
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      logger.info(
        {
          host: config.host,
          port,
          odooUrl: config.odooUrl,
          listen: `${config.listenDbHost}:${config.listenDbPort}`,
        },
        'odoo-bus-sidecar listening',
      );
      return { host: config.host, port };
    },
    shutdown() {
      shutdownPromise ??= (async () => {
        shuttingDown = true;
        logger.info(
          { sockets: websockets.openCount, windowSeconds: config.shutdownWindowSeconds },
          'shutting down',
        );
        // Held polls are answered first: the server's close waits for every request in flight.
        longPolling.shutdown();
        const serverClosed = app.close();
        await websockets.shutdown(config.shutdownWindowSeconds * 1000);
        // Give clients a moment to answer the close frames, then drop what is left.
        const deadline = clock() + 2000;
        while (websockets.openCount > 0 && clock() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        websockets.terminateAll();
        await hub.drain();
        await release();
        await serverClosed;
        logger.info('shut down');
      })();
      return shutdownPromise;
    },
    async destroy() {
      shuttingDown = true;
      longPolling.shutdown();
      websockets.terminateAll();
      await Promise.all([app.close(), release()]);
    },
  };
}
