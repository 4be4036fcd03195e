/**
 * `/status.json`: everything the status page shows, in one document — who runs (version, uptime,
 * settings with secrets left out), whether it is ready and why, the LISTEN connection, the
 * databases served, the calls to Odoo by route, the close codes and the busiest channels (their
 * subscriber counts only: no session, cookie or user is ever named), and the plotted series.
 */
import type { Config } from '../../config/load.js';
import { SECRET_SETTINGS, type SettingKey } from '../../config/settings.js';
import { CloseCode } from '../../transports/closeCodes.js';
import { BUILD } from '../buildInfo.js';
import { type MetricsReading, quantile } from './metricJson.js';
import {
  METRIC_PREFIX,
  ODOO_ERROR_OUTCOMES,
  type SeriesDocument,
  type StatusSampler,
} from './sampler.js';

/** What the sampler's metrics cannot say: asked of the sidecar (or of every worker) per request. */
export interface StatusExtras {
  readiness: { ready: boolean; checks: Record<string, boolean> };
  /** The busiest channels (Odoo's channel keys) with their subscriber counts. */
  topChannels: Array<{ channel: string; subscribers: number }>;
  /** With `workers`: each worker's process id, readiness and open websockets. */
  workers?: Array<{ pid: number; ready: boolean; sockets: number }>;
}

export interface StatusDocument {
  service: 'odoo-bus-sidecar';
  version: string;
  node: string;
  pid: number;
  workers: number;
  startedAt: string;
  uptimeSeconds: number;
  now: number;
  ready: boolean;
  checks: Record<string, boolean>;
  workerStates: Array<{ pid: number; ready: boolean; sockets: number }>;
  listen: {
    up: boolean | null;
    reconnects: number;
    roundTripMs: number | null;
    probes: Record<string, number> | null;
  };
  totals: Record<string, number>;
  databases: Array<{
    db: string;
    websockets: number;
    longPolls: number;
    holes: number;
    readInUse: number;
    readIdle: number;
    readWaiting: number;
  }>;
  odoo: {
    concurrency: number;
    queueLimit: number;
    routes: Array<{
      route: string;
      calls: number;
      errors: number;
      outcomes: Record<string, number>;
      p50Ms: number | null;
      p99Ms: number | null;
    }>;
  };
  closeCodes: Array<{ code: string; count: number; meaning: string }>;
  topChannels: Array<{ channel: string; subscribers: number }>;
  config: Array<{ key: string; value: string }>;
  series: SeriesDocument;
}

const CLOSE_MEANINGS: Record<string, string> = {
  [CloseCode.CLEAN]: 'outdated web client, told to reload',
  [CloseCode.GOING_AWAY]: 'going away',
  [CloseCode.POLICY_VIOLATION]: 'database not served',
  [CloseCode.SERVER_ERROR]: 'unexpected error of the sidecar',
  [CloseCode.RESTART]: 'sidecar restarting',
  [CloseCode.TRY_LATER]: 'try later: rate limit, slow consumer, Odoo queue full',
  [CloseCode.BAD_GATEWAY]: 'Odoo unavailable for a subscribe',
  [CloseCode.SESSION_EXPIRED]: 'session expired or revoked',
  [CloseCode.KEEP_ALIVE_TIMEOUT]: 'maximum age reached, reconnects at once',
  [CloseCode.KILL_NOW]: 'dropped: no answer to a ping',
};

/** Every setting as text; secrets only say whether they are set, URLs lose their credentials. */
export function configSummary(config: Config): Array<{ key: string; value: string }> {
  return Object.entries(config).map(([key, value]) => {
    let text: string;
    if (SECRET_SETTINGS.has(key as SettingKey)) text = value === undefined ? '(not set)' : '[set]';
    else if (value === undefined) text = '(not set)';
    else if (value instanceof RegExp) text = value.source;
    else if (Array.isArray(value)) text = value.length === 0 ? '(any)' : value.join(', ');
    else text = String(value);
    if (key === 'odooUrl') text = withoutCredentials(text);
    return { key, value: text };
  });
}

function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === '' && parsed.password === '') return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '[unreadable URL]';
  }
}

const ms = (seconds: number | undefined) =>
  seconds === undefined ? null : Math.round(seconds * 100_000) / 100;

export function statusDocument(options: {
  sampler: StatusSampler;
  extras: StatusExtras;
  /** The `ON_DEMAND_METRICS`, read for this request. */
  onDemand: MetricsReading;
  config: Config;
  /** `Date.now()` of the start, and the process whose document this is. */
  startedAt: number;
  pid: number;
  since: number | undefined;
}): StatusDocument {
  const { sampler, extras, config } = options;
  const latest = sampler.latest;
  const p = (name: string) => METRIC_PREFIX + name;
  const sum = (name: string, labels?: Record<string, string>) => latest?.sum(p(name), labels) ?? 0;
  const now = Date.now();

  const databases = new Set<string>([
    ...(latest?.byLabel(p('clients'), 'db').keys() ?? []),
    ...(latest?.byLabel(p('read_pool_connections'), 'db').keys() ?? []),
    ...(latest?.byLabel(p('bus_holes_watched'), 'db').keys() ?? []),
  ]);
  const lastHour = sampler.lastHour();
  const routes = [...lastHour.calls].map(([route, outcomes]) => {
    let calls = 0;
    let errors = 0;
    for (const [outcome, n] of outcomes) {
      calls += n;
      if (ODOO_ERROR_OUTCOMES.has(outcome)) errors += n;
    }
    const buckets = lastHour.callBuckets.get(route);
    return {
      route,
      calls,
      errors,
      outcomes: Object.fromEntries(outcomes),
      p50Ms: buckets === undefined ? null : ms(quantile(0.5, buckets)),
      p99Ms: buckets === undefined ? null : ms(quantile(0.99, buckets)),
    };
  });
  routes.sort((a, b) => b.calls - a.calls);
  const probesExported = latest?.has(p('listen_probes_total')) ?? false;
  const roundTrip = latest?.value(p('listen_round_trip_seconds'));
  const listenUp = latest?.value(p('listener_up'));

  return {
    service: 'odoo-bus-sidecar',
    version: BUILD.version,
    node: BUILD.node,
    pid: options.pid,
    workers: config.workers,
    startedAt: new Date(options.startedAt).toISOString(),
    uptimeSeconds: Math.round((now - options.startedAt) / 1000),
    now,
    ready: extras.readiness.ready,
    checks: extras.readiness.checks,
    workerStates: extras.workers ?? [],
    listen: {
      up: listenUp === undefined ? null : listenUp >= 1,
      reconnects: sum('listener_reconnects_total'),
      roundTripMs: ms(roundTrip),
      probes: probesExported
        ? Object.fromEntries(latest?.byLabel(p('listen_probes_total'), 'outcome') ?? [])
        : null,
    },
    totals: {
      sockets: sum('ws_connections'),
      polls: sum('longpoll_held'),
      subscribers: sum('hub_subscribers'),
      subscriptions: sum('hub_subscriptions'),
      channels: sum('hub_channels'),
      websocketSessions: options.onDemand.sum(p('sessions'), { transport: 'websocket' }),
      longpollingSessions: options.onDemand.sum(p('sessions'), { transport: 'longpolling' }),
      holes: sum('bus_holes_watched'),
      odooInFlight: sum('odoo_in_flight'),
      odooQueued: sum('odoo_queued'),
      readPoolSize: sum('read_pool_size'),
    },
    databases: [...databases].sort().map((db) => ({
      db,
      websockets: sum('clients', { db, transport: 'websocket' }),
      longPolls: sum('clients', { db, transport: 'longpolling' }),
      holes: sum('bus_holes_watched', { db }),
      readInUse: sum('read_pool_connections', { db, state: 'in_use' }),
      readIdle: sum('read_pool_connections', { db, state: 'idle' }),
      readWaiting: sum('read_pool_waiting', { db }),
    })),
    odoo: {
      concurrency: sum('odoo_concurrency_limit'),
      queueLimit: sum('odoo_queue_limit'),
      routes,
    },
    closeCodes: [...lastHour.closes]
      .map(([code, count]) => ({ code, count, meaning: CLOSE_MEANINGS[code] ?? '' }))
      .sort((a, b) => b.count - a.count),
    topChannels: extras.topChannels,
    config: configSummary(config),
    series: sampler.seriesSince(options.since),
  };
}
