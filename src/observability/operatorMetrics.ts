/**
 * The metrics an operator reads first: which build runs and whether it is ready; who is connected
 * (the hub's registry, sessions, clients per database); what flows (bytes); how fast (read
 * duration, NOTIFY → read, NOTIFY → socket write); and what it holds (read pools, late-commit
 * holes, the limits of the calls to Odoo).
 *
 * State is read when scraped, through `views` (bound by `createSidecar`): nothing on a hot path
 * keeps a count for these gauges. The latency histograms are observed once per read and once per
 * batch delivered, never per socket. Labels are bounded: `db` takes only databases the sidecar
 * serves (a reader or a pool exists for each), `transport` and `state` a fixed few values.
 */
import { type Aggregator, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BUILD } from './buildInfo.js';
import { emptyViews, type MetricViews } from './metricViews.js';

/** Seconds, from half a millisecond (one quick read) to seconds (a stalled PgBouncer). */
const READ_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Seconds, up to what a fan-out to tens of thousands of sockets takes, and a backlog. */
const DELIVERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function operatorMetrics(registry: Registry, prefix: string, written: { bytes: number }) {
  const views: MetricViews = emptyViews();
  const received = { bytes: 0 };

  const viewGauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (gauge: Gauge<L>) => void | Promise<void>,
    aggregator: Aggregator = 'sum',
  ) =>
    new Gauge<L>({
      name: prefix + name,
      help,
      labelNames,
      registers: [registry],
      aggregator,
      collect() {
        return read(this);
      },
    });
  /** A counter that takes, when scraped, what the hot path added to a plain number. */
  const takenCounter = (name: string, help: string, take: () => number) =>
    new Counter({
      name: prefix + name,
      help,
      registers: [registry],
      collect() {
        this.inc(take());
      },
    });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name: prefix + name, help, buckets, registers: [registry] });

  const buildInfo = new Gauge<'version' | 'node'>({
    name: `${prefix}build_info`,
    help: 'Always 1; its labels name the version of the sidecar and of Node.js',
    labelNames: ['version', 'node'],
    registers: [registry],
    aggregator: 'first',
  });
  buildInfo.labels(BUILD.version, BUILD.node).set(1);

  return {
    /** The accessors the gauges read when scraped; `createSidecar` assigns them. */
    views,
    /** Bytes received from websocket clients, taken by `ws_received_bytes_total` when scraped. */
    received,
    buildInfo,
    ready: viewGauge(
      'ready',
      '1 while /readyz answers 200, ready or degraded (with workers: every worker is ready)',
      [],
      async (g) => g.set((await views.ready()) ? 1 : 0),
      'min',
    ),
    hubSubscribers: viewGauge(
      'hub_subscribers',
      'Websockets and held long polls subscribed to at least one channel',
      [],
      (g) => g.set(views.hub().subscribers),
    ),
    hubSubscriptions: viewGauge(
      'hub_subscriptions',
      'Subscriptions: one per subscriber and channel',
      [],
      (g) => g.set(views.hub().subscriptions),
    ),
    hubChannels: viewGauge('hub_channels', 'Channels with at least one subscriber', [], (g) =>
      g.set(views.hub().channels),
    ),
    sessions: viewGauge(
      'sessions',
      'Odoo sessions with an open websocket (websocket); sessions whose long polls are remembered from one poll to the next (longpolling)',
      ['transport'],
      (g) => {
        const sessions = views.sessions();
        g.labels('websocket').set(sessions.websocket);
        g.labels('longpolling').set(sessions.longpolling);
      },
    ),
    clients: viewGauge(
      'clients',
      'Open websockets whose database is known, and held long polls, per database served',
      ['db', 'transport'],
      (g) => {
        g.reset();
        for (const { db, websockets, longPolls } of views.clients()) {
          g.labels(db, 'websocket').set(websockets);
          g.labels(db, 'longpolling').set(longPolls);
        }
      },
    ),
    bytesSent: takenCounter(
      'ws_sent_bytes_total',
      'Bytes of notification frames written to websockets',
      () => {
        const bytes = written.bytes;
        written.bytes = 0;
        return bytes;
      },
    ),
    bytesReceived: takenCounter(
      'ws_received_bytes_total',
      'Bytes received from websocket clients (frames with their headers)',
      () => {
        const bytes = received.bytes;
        received.bytes = 0;
        return bytes;
      },
    ),
    longPollDelivered: new Counter({
      name: `${prefix}longpoll_notifications_delivered_total`,
      help: 'Notifications that answered a held long poll',
      registers: [registry],
    }),
    readSeconds: histogram(
      'bus_read_duration_seconds',
      'Duration of one query of bus_bus',
      READ_BUCKETS,
    ),
    notifyToReadSeconds: histogram(
      'notify_to_read_seconds',
      'From the first NOTIFY (or fallback poll) a read serves to its rows read, per read',
      READ_BUCKETS,
    ),
    notifyToWriteSeconds: histogram(
      'notify_to_write_seconds',
      'From the first NOTIFY a read serves to its rows written to the last socket or poll they go to, per batch delivered',
      DELIVERY_BUCKETS,
    ),
    readPoolSize: viewGauge(
      'read_pool_size',
      'Connections one database may hold for reading bus_bus (readPoolSize)',
      [],
      (g) => g.set(views.limits().readPoolSize),
      'first',
    ),
    readPoolConnections: viewGauge(
      'read_pool_connections',
      'Connections held for reading bus_bus, per database: running a query (in_use) or not (idle)',
      ['db', 'state'],
      (g) => {
        g.reset();
        for (const { db, total, idle } of views.readPools()) {
          g.labels(db, 'in_use').set(total - idle);
          g.labels(db, 'idle').set(idle);
        }
      },
    ),
    readPoolWaiting: viewGauge(
      'read_pool_waiting',
      'Reads of bus_bus waiting for a connection, per database',
      ['db'],
      (g) => {
        g.reset();
        for (const { db, waiting } of views.readPools()) g.labels(db).set(waiting);
      },
    ),
    holesWatched: viewGauge(
      'bus_holes_watched',
      'Ids below the read position still watched for a late commit, per database',
      ['db'],
      (g) => {
        g.reset();
        for (const { db, holes } of views.holes()) g.labels(db).set(holes);
      },
    ),
    odooConcurrencyLimit: viewGauge(
      'odoo_concurrency_limit',
      'Calls to Odoo allowed in flight at once (odooConcurrency)',
      [],
      (g) => g.set(views.limits().odooConcurrency),
    ),
    odooQueueLimit: viewGauge(
      'odoo_queue_limit',
      'Calls to Odoo allowed to wait for a slot (odooQueueLimit)',
      [],
      (g) => g.set(views.limits().odooQueueLimit),
    ),
  };
}
