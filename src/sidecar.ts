/**
 * Wires one sidecar: config → LISTEN connection → per-database readers → hub → transports, with the
 * Odoo client beside them. `createSidecar` never touches process-wide state (signals, exit), so tests
 * run several in one process; `main.ts` owns the process.
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { BusReaders } from './bus/readers.js';
import { ConnectionCaps } from './capacity/connectionCaps.js';
import { capacityLimits } from './capacity/limits.js';
import { SubscriptionBudget } from './capacity/subscriptionBudget.js';
import { type Config, servesDatabase } from './config/load.js';
import { PgEndpoint } from './db/endpoint.js';
import { Listener } from './db/listener.js';
import { ReadPools } from './db/readPools.js';
import { ReadProbe, type ReadTarget } from './db/readProbe.js';
import { Hub, type HubSubscriber } from './hub/hub.js';
import { type Clock, monotonicClock } from './lifecycle/clock.js';
import {
  type AdminServer,
  bindMetricViews,
  type SidecarParts,
  sidecarAdmin,
} from './observability/admin/sidecarAdmin.js';
import { caughtErrors, guarded } from './observability/caught.js';
import { readiness } from './observability/health.js';
import type { Logger } from './observability/logger.js';
import { LogLimiter } from './observability/logLimiter.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { REVOKE_CHANNEL } from './odoo/addonContract.js';
import { callQueues } from './odoo/callBudget.js';
import { OdooClient } from './odoo/client.js';
import { OdooInfoSource } from './odoo/odooInfo.js';
import { RevocationHandler } from './odoo/revocationHandler.js';
import { ProxyTrust } from './transports/clientIdentity.js';
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
  /** Every database's reader (nudged by the listener, delivering to the hub). */
  readonly readers: BusReaders;
  readonly websockets: WebsocketServer;
  readonly longPolling: LongPollingServer;
  readonly listener: Listener;
  readonly odooInfo: OdooInfoSource;
  /** The admin port's server (metrics, probes, status page); none in a worker of a cluster. */
  readonly admin: AdminServer | undefined;
  /** What a cluster's primary asks its workers for (`observability/admin/cluster.ts`). */
  readonly parts: SidecarParts;
  /** Starts the LISTEN connection and the HTTP servers; resolves with the public address. */
  start(): Promise<{ host: string; port: number }>;
  /** Graceful stop: refuse new sockets, close open ones with 1012 over the window, drain, release. */
  shutdown(): Promise<void>;
  /** Immediate stop (second signal, or tests). */
  destroy(): Promise<void>;
}

export function createSidecar(
  config: Config,
  logger: Logger,
  /** `admin: false` in a worker of a cluster: its primary serves the admin port. */
  options: { metrics?: Metrics; clock?: Clock; slot?: number; admin?: boolean } = {},
): Sidecar {
  const metrics = options.metrics ?? createMetrics();
  const clock = options.clock ?? monotonicClock;
  const logLimiter = new LogLimiter({
    clock,
    onSuppressed: (event) => metrics.logSuppressed.labels(event).inc(),
  });
  const caught = caughtErrors(logger, metrics, logLimiter);
  const tls = {
    sslMode: config.dbSslMode,
    sslRootCert: config.dbSslRootCert,
    sslCert: config.dbSslCert,
    sslKey: config.dbSslKey,
  };
  const readEndpoint = new PgEndpoint({ host: config.readDbHost, port: config.readDbPort, ...tls });
  const listenEndpoint = new PgEndpoint({
    host: config.listenDbHost,
    port: config.listenDbPort,
    ...tls,
  });
  const pools = new ReadPools({
    host: config.readDbHost,
    port: config.readDbPort,
    user: config.dbUser,
    password: config.dbPassword,
    max: config.readPoolSize,
    logger: logger.child({ component: 'read-pool' }),
    Client: readEndpoint.clientClass(),
  });
  const hub = new Hub<HubSubscriber>({
    maxFrameBytes: config.maxFrameBytes,
    metrics,
    clock,
    caught,
  });
  const readers = new BusReaders({
    config,
    logger,
    metrics,
    pools,
    deliver: (database, rows, nudgedAt) => hub.deliver(database, rows, nudgedAt),
    clock,
    ...(options.slot === undefined ? {} : { slot: options.slot }),
  });
  const odoo = new OdooClient({
    baseUrl: config.odooUrl,
    ...callQueues(config),
    timeoutMs: config.odooTimeoutMs,
    maxAnswerBytes: config.maxCallAnswerBytes,
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
    metrics,
    odooUrl: config.odooUrl,
    clock,
  });
  const limits = capacityLimits(config);
  const connections = new ConnectionCaps(limits.connections, limits.connectionsPerAddress, (held) =>
    metrics.connectionsHeld.set(held),
  );
  const subscriptions = new SubscriptionBudget(
    limits.subscribedBytes,
    limits.subscribedBytesPerAddress,
    (held) => metrics.subscribedBytes.set(held),
  );
  const EndpointClient = readEndpoint.clientClass();
  const readProbe = new ReadProbe({
    pools,
    targets: readTargets(config),
    client: (database) =>
      new EndpointClient({
        host: config.readDbHost,
        port: config.readDbPort,
        user: config.dbUser,
        password: config.dbPassword,
        database,
        application_name: 'odoo-bus-sidecar-check',
        connectionTimeoutMillis: 5_000,
        query_timeout: 10_000,
      }),
    logger: logger.child({ component: 'read-check' }),
    metrics,
  });
  const proxyTrust = new ProxyTrust(config.proxyMode, config.trustedProxies);
  const transport: TransportDependencies = {
    config,
    logger,
    metrics,
    hub,
    readers,
    odoo,
    proxyTrust,
    servesDatabase: (db) => servesDatabase(config, db),
    odooMajor: () => odooInfo.major(),
    clock,
    logLimiter,
    caught,
    connections,
    subscriptions,
  };
  const websockets = new WebsocketServer({
    ...transport,
    workerVersion: () => odooInfo.workerVersion(),
    keepsSessionIds: () => odooInfo.keepsSessionIds(),
  });
  const longPolling = new LongPollingServer(transport);
  const revocations = new RevocationHandler({
    secret: config.secret,
    servesDatabase: (db) => servesDatabase(config, db),
    targets: [websockets, longPolling],
    partnerIntervalMs: config.revocationIntervalSeconds * 1000,
    maxPartnersPerInterval: config.revocationMaxPartners,
    logger: logger.child({ component: 'revocation' }),
    metrics,
    clock,
  });
  const listener = new Listener({
    connection: {
      host: config.listenDbHost,
      port: config.listenDbPort,
      user: config.dbUser,
      password: config.dbPassword,
      database: config.notifyDatabase,
      // Read at each connection: TLS as the server answered (see `PgEndpoint`).
      get ssl() {
        return listenEndpoint.ssl();
      },
    },
    channels: [IMBUS_CHANNEL, REVOKE_CHANNEL],
    logger: logger.child({ component: 'listener' }),
    metrics,
    // Called from the LISTEN connection's events: a fault there must not end the process.
    onNotification: guarded(caught, 'notification', (channel: string, payload: string) => {
      metrics.notifications.labels(channel).inc();
      if (channel === IMBUS_CHANNEL) readers.onImbus(payload);
      else if (channel === REVOKE_CHANNEL) revocations.onNotify(payload);
    }),
    onUp: (reconnected) => readers.onListenerUp(reconnected),
    onDown: () => readers.onListenerDown(),
    // The round trip's outbound leg takes the path Odoo's own NOTIFYs take: the read host.
    sendProbe: async (channel, payload) => {
      await pools.get(config.notifyDatabase).query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    checkIntervalMs: config.listenProbeSeconds * 1000,
    checkTimeoutMs: config.listenProbeTimeoutMs,
  });

  let shuttingDown = false;
  const readinessNow = () => {
    const state = readiness({
      listenerUp: listener.isUp,
      listenProblem: listener.problem,
      readsHealthy: readProbe.healthy && readers.healthy,
      readProblems: [
        ...readProbe.problems,
        ...readers.failures().map(({ database, reason }) => `${database}: ${reason}`),
      ],
      odoo: odooInfo.health(),
      shuttingDown,
      sockets: websockets.openCount,
      readConnections: pools.totalCount,
    });
    metrics.ready.set(state.ready ? 1 : 0);
    return state;
  };
  const app = buildApp({
    logger,
    metrics,
    forwarding: forwardingOf(transport),
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    plugins: [(instance) => longPolling.register(instance)],
  });
  const parts: SidecarParts = {
    config,
    logger,
    metrics,
    hub,
    readers,
    websockets,
    longPolling,
    pools,
    readiness: readinessNow,
  };
  bindMetricViews(parts);
  const admin = options.admin === false ? undefined : sidecarAdmin(parts);
  app.server.on('upgrade', (request, socket, head) =>
    websockets.handleUpgrade(request, socket, head),
  );
  // Past this, Node closes new TCP connections at once: the last open files stay for the
  // connections the sidecar makes itself (PostgreSQL, Odoo), whatever clients hold.
  if (limits.tcpConnections !== undefined) app.server.maxConnections = limits.tcpConnections;
  app.server.on('drop', () => metrics.tcpDropped.inc());

  let shutdownPromise: Promise<void> | undefined;
  const release = async () => {
    readers.stop();
    odooInfo.stop();
    revocations.stop();
    readProbe.stop();
    await listener.stop();
    await pools.end();
    await odoo.close();
  };

  return {
    config,
    app,
    metrics,
    hub,
    readers,
    websockets,
    longPolling,
    listener,
    odooInfo,
    admin,
    parts,
    async start() {
      await Promise.all([listenEndpoint.negotiate(), readEndpoint.negotiate()]);
      // Not awaited: /readyz answers 503, naming what fails, until the read checks pass.
      void readProbe.start();
      await Promise.all([listener.start(), odooInfo.start()]);
      await app.listen({ host: config.host, port: config.port });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const adminAddress = await admin?.listen();
      logger.info(
        {
          host: config.host,
          port,
          admin: adminAddress && `${adminAddress.host}:${adminAddress.port}`,
          odooUrl: config.odooUrl,
          listen: `${config.listenDbHost}:${config.listenDbPort}`,
          maxConnections: limits.connections,
          openFiles: limits.openFiles.known ? limits.openFiles.limit : 'unknown',
          tls: { listen: listenEndpoint.usesTls, reads: readEndpoint.usesTls },
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
        // The port stays open while sockets are closed: /readyz answers 503 ("draining"), a new
        // websocket gets 503 and a new poll Odoo's "try again" error, so that the proxy and the
        // load balancer see the drain. Held polls are answered at once.
        longPolling.shutdown();
        await websockets.shutdown(config.shutdownWindowSeconds * 1000);
        // Give clients a moment to answer the close frames, then drop what is left.
        await websockets.whenEmpty(2000);
        websockets.terminateAll();
        const serverClosed = app.close();
        await readers.drain();
        await release();
        await serverClosed;
        // Last: probes see the drain (503) until the end.
        await admin?.close();
        logger.info('shut down');
      })();
      return shutdownPromise;
    },
    async destroy() {
      shuttingDown = true;
      longPolling.shutdown();
      websockets.terminateAll();
      await Promise.all([app.close(), release(), admin?.close()]);
    },
  };
}

/** What the read check reads: every served database, or the notify database when any is served. */
function readTargets(config: Config): ReadTarget[] {
  const served = config.databases.filter((db) => servesDatabase(config, db));
  if (served.length > 0) return served.map((database) => ({ database, kind: 'odoo' }));
  return [{ database: config.notifyDatabase, kind: 'notify' }];
}
