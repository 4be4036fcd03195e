/**
 * The admin side of one sidecar: binds the operator's gauges to its parts (read-only accessors,
 * read when scraped), answers what the status page needs beyond metrics (readiness, the busiest
 * channels), and — unless it is a worker of a cluster, whose primary serves the port — runs the
 * admin server with a status sampler over its own registry.
 */
import type { FastifyInstance } from 'fastify';
import type { BusReaders } from '../../bus/readers.js';
import type { Config } from '../../config/load.js';
import type { ReadPools } from '../../db/readPools.js';
import type { Hub, HubSubscriber } from '../../hub/hub.js';
import type { LongPollingServer } from '../../transports/longpolling/server.js';
import type { WebsocketServer } from '../../transports/websocket/server.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { DatabaseClients } from '../metricViews.js';
import { type StatusExtras, statusDocument } from '../status/document.js';
import { type MetricJson, MetricsReading } from '../status/metricJson.js';
import { ON_DEMAND_METRICS, StatusSampler } from '../status/sampler.js';
import type { StatusAccess } from './access.js';
import { type AdminSource, buildAdminApp, type ReadinessAnswer } from './server.js';

/** What readiness says; its details (health.ts) are passed on as they are. */
export type ReadinessReport = ReadinessAnswer & { checks: Record<string, boolean> };

export interface SidecarParts {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  hub: Hub<HubSubscriber>;
  readers: BusReaders;
  websockets: WebsocketServer;
  longPolling: LongPollingServer;
  pools: ReadPools;
  readiness: () => ReadinessReport | Promise<ReadinessReport>;
}

const TOP_CHANNELS = 10;

export function bindMetricViews(parts: SidecarParts): void {
  const { hub, readers, websockets, longPolling, pools, config } = parts;
  Object.assign(parts.metrics.views, {
    ready: async () => (await parts.readiness()).ready,
    hub: () => ({
      subscribers: hub.registry.subscriberCount,
      subscriptions: hub.registry.subscriptionCount,
      channels: hub.registry.channelCount,
    }),
    sessions: () => {
      // Several tabs of one browser share a session: counted once.
      const hashes = new Set<string>();
      for (const socket of websockets.sockets)
        if (socket.sessionHash !== undefined) hashes.add(socket.sessionHash);
      return { websocket: hashes.size, longpolling: longPolling.sessionCount };
    },
    clients: () => {
      const byDb = new Map<string, DatabaseClients>();
      const entry = (db: string) => {
        let found = byDb.get(db);
        if (found === undefined) {
          found = { db, websockets: 0, longPolls: 0 };
          byDb.set(db, found);
        }
        return found;
      };
      for (const [db] of readers.entries()) entry(db);
      for (const socket of websockets.sockets)
        if (socket.db !== undefined) entry(socket.db).websockets++;
      for (const poll of longPolling.heldPolls) entry(poll.db).longPolls++;
      return byDb.values();
    },
    readPools: () => pools.states(),
    holes: () => [...readers.entries()].map(([db, reader]) => ({ db, holes: reader.holeCount })),
    limits: () => ({
      readPoolSize: config.readPoolSize,
      odooConcurrency: config.odooConcurrency,
      odooQueueLimit: config.odooQueueLimit,
    }),
  } satisfies Partial<Metrics['views']>);
}

/** Readiness and the busiest channels: what a worker tells its primary, or one sidecar its page. */
export async function sidecarExtras(parts: SidecarParts): Promise<StatusExtras> {
  const { ready, checks } = await parts.readiness();
  return {
    readiness: { ready, checks },
    topChannels: parts.hub.registry
      .topChannels(TOP_CHANNELS)
      .map(({ key, subscribers }) => ({ channel: key, subscribers })),
  };
}

/** The named metrics of `metrics`' registry in JSON form (each one's `collect` runs). */
export async function metricsJson(
  metrics: Metrics,
  names: readonly string[],
): Promise<MetricJson[]> {
  const found = names.flatMap((name) => {
    const metric = metrics.registry.getSingleMetric(name);
    return metric === undefined ? [] : [metric];
  });
  return (await Promise.all(found.map((metric) => metric.get()))) as unknown as MetricJson[];
}

export function statusAccess(config: Config): StatusAccess {
  if (config.statusAuth === 'secret' && config.secret !== undefined)
    return { kind: 'secret', secret: config.secret };
  if (config.statusAuth === 'basic' && config.statusPassword !== undefined)
    return { kind: 'basic', user: config.statusUser, password: config.statusPassword };
  return { kind: 'none' };
}

/** The admin server and its sampler, for a source of metrics and status extras. */
export class AdminServer {
  readonly app: FastifyInstance;
  private readonly sampler: StatusSampler;
  private address: { host: string; port: number } | undefined;

  constructor(
    private readonly config: Config,
    logger: Logger,
    source: {
      readiness: () => Promise<ReadinessAnswer>;
      metrics: AdminSource['metrics'];
      metricsJson: (names: readonly string[]) => Promise<MetricJson[]>;
      extras: () => Promise<StatusExtras>;
    },
  ) {
    const startedAt = Date.now();
    this.sampler = new StatusSampler({
      read: source.metricsJson,
      onError: (error) => logger.debug({ err: error }, 'status sample not taken'),
    });
    this.app = buildAdminApp({
      logger,
      access: statusAccess(config),
      source: {
        readiness: source.readiness,
        metrics: source.metrics,
        status: async (since) => {
          this.sampler.watched();
          return statusDocument({
            sampler: this.sampler,
            extras: await source.extras(),
            onDemand: new MetricsReading(await source.metricsJson(ON_DEMAND_METRICS), Date.now()),
            config,
            startedAt,
            pid: process.pid,
            since,
          });
        },
      },
    });
  }

  /** The port it listens on (after `listen`; the configured one before). */
  get port(): number {
    return this.address?.port ?? this.config.adminPort;
  }

  async listen(): Promise<{ host: string; port: number }> {
    this.sampler.start();
    await this.app.listen({ host: this.config.adminHost, port: this.config.adminPort });
    const bound = this.app.server.address();
    const port = typeof bound === 'object' && bound ? bound.port : this.config.adminPort;
    this.address = { host: this.config.adminHost, port };
    return this.address;
  }

  async close(): Promise<void> {
    this.sampler.stop();
    await this.app.close();
  }
}

/** The admin server of one sidecar (no cluster): everything read in this process. */
export function sidecarAdmin(parts: SidecarParts): AdminServer {
  const { metrics } = parts;
  return new AdminServer(parts.config, parts.logger, {
    readiness: async () => parts.readiness(),
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      text: await metrics.registry.metrics(),
    }),
    metricsJson: (names) => metricsJson(metrics, names),
    extras: () => sidecarExtras(parts),
  });
}
