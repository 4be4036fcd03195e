/**
 * The status page's memory: once a second while the page is open (every five seconds when nobody
 * has asked for it for a minute), the metrics it plots are read (the sidecar's own registry, or a
 * cluster's workers aggregated by its primary) and turned into one sample — gauges as they are,
 * counters as rates per second, latency histograms as quantiles of what was observed since the
 * sample before. The samples of the last `historySeconds` are kept, and per minute, for the last
 * hour, the close codes sent and the calls to Odoo by route and outcome.
 *
 * Nothing here touches the sidecar's state: it reads metrics like Prometheus does, at a fixed cost
 * per second whatever the number of sockets (the gauges that walk sockets or pools are read once).
 */
import {
  addBuckets,
  type Buckets,
  bucketIncrease,
  increase,
  type MetricJson,
  MetricsReading,
  quantile,
} from './metricJson.js';

export const METRIC_PREFIX = 'odoo_bus_sidecar_';
const m = (name: string) => METRIC_PREFIX + name;

/** Outcomes of a call to Odoo that are Odoo's (or the link's) fault. */
export const ODOO_ERROR_OUTCOMES: ReadonlySet<string> = new Set([
  'rpcError',
  'queueFull',
  'timeout',
  'connect',
  'http',
  'badResponse',
  'unserializable',
]);

/**
 * Every metric a sample reads; optional ones (the LISTEN probe) are simply absent when missing.
 * The gauges that walk every socket cost a fraction of a millisecond per 10,000 sockets: only the
 * plotted one (`clients`) is read every second, the others when the page asks.
 */
export const SAMPLED_METRICS: readonly string[] = [
  'ws_connections',
  'longpoll_held',
  'hub_subscribers',
  'hub_subscriptions',
  'hub_channels',
  'clients',
  'ws_notifications_delivered_total',
  'longpoll_notifications_delivered_total',
  'ws_frames_sent_total',
  'ws_sent_bytes_total',
  'ws_received_bytes_total',
  'notify_received_total',
  'bus_reads_total',
  'bus_rows_read_total',
  'bus_read_duration_seconds',
  'notify_to_read_seconds',
  'notify_to_write_seconds',
  'bus_holes_watched',
  'odoo_calls_total',
  'odoo_call_duration_seconds',
  'odoo_in_flight',
  'odoo_queued',
  'odoo_concurrency_limit',
  'odoo_queue_limit',
  'listener_up',
  'listener_reconnects_total',
  'listen_round_trip_seconds',
  'listen_probes_total',
  'ws_closes_total',
  'ws_slow_consumers_total',
  'read_pool_size',
  'read_pool_connections',
  'read_pool_waiting',
  'ready',
].map(m);

/** Read only when `/status.json` is asked for (they walk every socket, and are not plotted). */
export const ON_DEMAND_METRICS: readonly string[] = ['sessions'].map(m);

export interface SamplerOptions {
  /** Reads the named metrics (missing names are left out of the answer). */
  read: (names: readonly string[]) => Promise<MetricJson[]>;
  historySeconds?: number;
  /** Between two samples while the page is watched (asked for within `watchedForMs`). */
  intervalMs?: number;
  /** Between two samples while nobody watches. */
  idleIntervalMs?: number;
  watchedForMs?: number;
  /** Wall clock (ms since the epoch): samples are shown against the time of day. */
  now?: () => number;
  /** A sample that could not be taken (a worker that did not answer): the page shows a gap. */
  onError?: (error: unknown) => void;
}

export interface SeriesDocument {
  /** Time of each sample, ms since the epoch. */
  t: number[];
  /** Every series, aligned with `t`; null where it had no value. */
  values: Record<string, Array<number | null>>;
}

interface MinuteTotals {
  minute: number;
  closes: Map<string, number>;
  /** `route \t outcome` → calls. */
  calls: Map<string, number>;
  callBuckets: Map<string, Buckets>;
}

export interface LastHour {
  closes: Map<string, number>;
  calls: Map<string, Map<string, number>>;
  callBuckets: Map<string, Buckets>;
}

const MS_TO = 1000;

export class StatusSampler {
  private readonly times: number[] = [];
  private readonly series = new Map<string, Array<number | null>>();
  private readonly minutes: MinuteTotals[] = [];
  private previous: MetricsReading | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly historyMs: number;
  private readonly now: () => number;
  private lastWatched = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: SamplerOptions) {
    this.historyMs = (options.historySeconds ?? 600) * 1000;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== undefined) return;
    void this.sample();
    this.timer = setInterval(() => this.tick(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Someone reads the page: sample every second from now on, for a while. */
  watched(): void {
    this.lastWatched = this.now();
  }

  private tick(): void {
    const now = this.now();
    const watched = now - this.lastWatched < (this.options.watchedForMs ?? 60_000);
    const last = this.times[this.times.length - 1] ?? Number.NEGATIVE_INFINITY;
    // Unwatched, the history keeps its shape at a fifth of the cost.
    if (watched || now - last >= (this.options.idleIntervalMs ?? 5000) - 100) void this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The latest reading (current gauges), once one was taken. */
  get latest(): MetricsReading | undefined {
    return this.previous;
  }

  /** Takes one sample now (a tick of the timer; tests call it). Never rejects. */
  sample(): Promise<void> {
    // A slow read (a busy worker) is not stacked up behind: that second is skipped.
    this.running ??= this.take().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Samples taken after `since` (ms since the epoch), every one without it. */
  seriesSince(since = 0): SeriesDocument {
    let from = 0;
    while (from < this.times.length && (this.times[from] ?? 0) <= since) from++;
    const values: Record<string, Array<number | null>> = {};
    for (const [name, points] of this.series) values[name] = points.slice(from);
    return { t: this.times.slice(from), values };
  }

  /** Close codes and calls to Odoo of the last 60 minutes (whole minutes, the current one too). */
  lastHour(): LastHour {
    const closes = new Map<string, number>();
    const calls = new Map<string, Map<string, number>>();
    const callBuckets = new Map<string, Buckets>();
    for (const slot of this.minutes) {
      for (const [code, n] of slot.closes) closes.set(code, (closes.get(code) ?? 0) + n);
      for (const [key, n] of slot.calls) {
        const [route = '', outcome = ''] = key.split('\t');
        const outcomes = calls.get(route) ?? new Map<string, number>();
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + n);
        calls.set(route, outcomes);
      }
      for (const [route, buckets] of slot.callBuckets)
        callBuckets.set(route, addBuckets(callBuckets.get(route), buckets));
    }
    return { closes, calls, callBuckets };
  }

  private async take(): Promise<void> {
    let reading: MetricsReading;
    try {
      reading = new MetricsReading(await this.options.read(SAMPLED_METRICS), this.now());
    } catch (error) {
      this.options.onError?.(error);
      return;
    }
    const before = this.previous;
    this.previous = reading;
    this.push(reading.at, this.values(reading, before));
    if (before !== undefined) this.countMinute(reading, before);
  }

  private values(now: MetricsReading, before: MetricsReading | undefined): Map<string, number> {
    const values = new Map<string, number>();
    const set = (name: string, value: number | undefined) => {
      if (value !== undefined && Number.isFinite(value)) values.set(name, value);
    };
    set('sockets', now.sum(m('ws_connections')));
    set('polls', now.sum(m('longpoll_held')));
    set('subscribers', now.sum(m('hub_subscribers')));
    for (const [db, n] of now.byLabel(m('clients'), 'db', { transport: 'websocket' }))
      set(`ws:${db}`, n);
    for (const [db, n] of now.byLabel(m('clients'), 'db', { transport: 'longpolling' }))
      set(`lp:${db}`, n);
    set('odooInFlight', now.sum(m('odoo_in_flight')));
    set('odooQueued', now.sum(m('odoo_queued')));
    set('holes', now.sum(m('bus_holes_watched')));
    set('readInUse', now.sum(m('read_pool_connections'), { state: 'in_use' }));
    set('readWaiting', now.sum(m('read_pool_waiting')));
    set('listenUp', now.value(m('listener_up')));
    const roundTrip = now.value(m('listen_round_trip_seconds'));
    set('roundTripMs', roundTrip === undefined ? undefined : roundTrip * MS_TO);
    set('ready', now.value(m('ready')));
    if (before === undefined) return values;

    const seconds = Math.max((now.at - before.at) / 1000, 0.001);
    const rate = (name: string, labels?: Record<string, string>) =>
      increase(now.sum(name, labels), before.sum(name, labels)) / seconds;
    set(
      'deliveries',
      rate(m('ws_notifications_delivered_total')) +
        rate(m('longpoll_notifications_delivered_total')),
    );
    set('frames', rate(m('ws_frames_sent_total')));
    set('bytesOut', rate(m('ws_sent_bytes_total')));
    set('bytesIn', rate(m('ws_received_bytes_total')));
    set('notifies', rate(m('notify_received_total'), { channel: 'imbus' }));
    set('reads', rate(m('bus_reads_total'), { outcome: 'ok' }));
    set('readErrors', rate(m('bus_reads_total'), { outcome: 'error' }));
    set('rows', rate(m('bus_rows_read_total')));
    set('closes', rate(m('ws_closes_total')));
    set('slowConsumers', rate(m('ws_slow_consumers_total')));
    set('odooCalls', rate(m('odoo_calls_total')));
    let odooErrors = 0;
    for (const outcome of ODOO_ERROR_OUTCOMES)
      odooErrors += rate(m('odoo_calls_total'), { outcome });
    set('odooErrors', odooErrors);

    const quantiles = (name: string, key: string, qs: readonly number[]) => {
      const current = now.buckets(m(name));
      if (current === undefined) return;
      const observed = bucketIncrease(current, before.buckets(m(name)));
      for (const q of qs) {
        const value = quantile(q, observed);
        set(`${key}P${Math.round(q * 100)}`, value === undefined ? undefined : value * MS_TO);
      }
    };
    quantiles('notify_to_write_seconds', 'notifyToWrite', [0.5, 0.99]);
    quantiles('notify_to_read_seconds', 'notifyToRead', [0.5, 0.99]);
    quantiles('bus_read_duration_seconds', 'read', [0.99]);
    quantiles('odoo_call_duration_seconds', 'odoo', [0.5, 0.99]);
    return values;
  }

  private push(at: number, sample: Map<string, number>): void {
    const length = this.times.length;
    this.times.push(at);
    for (const [name, points] of this.series) {
      points.push(sample.get(name) ?? null);
      sample.delete(name);
    }
    // Series seen for the first time (a new database): nothing before.
    for (const [name, value] of sample) {
      const points: Array<number | null> = new Array(length).fill(null);
      points.push(value);
      this.series.set(name, points);
    }
    let drop = 0;
    while (drop < this.times.length && (this.times[drop] ?? at) < at - this.historyMs) drop++;
    if (drop > 0) {
      this.times.splice(0, drop);
      for (const [name, points] of this.series) {
        points.splice(0, drop);
        if (points.every((point) => point === null)) this.series.delete(name);
      }
    }
  }

  private countMinute(now: MetricsReading, before: MetricsReading): void {
    const minute = Math.floor(now.at / 60_000);
    let slot = this.minutes[this.minutes.length - 1];
    if (slot === undefined || slot.minute !== minute) {
      slot = { minute, closes: new Map(), calls: new Map(), callBuckets: new Map() };
      this.minutes.push(slot);
      while ((this.minutes[0]?.minute ?? minute) <= minute - 60) this.minutes.shift();
    }
    const closesBefore = before.byLabel(m('ws_closes_total'), 'code');
    for (const [code, count] of now.byLabel(m('ws_closes_total'), 'code')) {
      const grew = increase(count, closesBefore.get(code) ?? 0);
      if (grew > 0) slot.closes.set(code, (slot.closes.get(code) ?? 0) + grew);
    }
    for (const route of now.byLabel(m('odoo_calls_total'), 'route').keys()) {
      const outcomesBefore = before.byLabel(m('odoo_calls_total'), 'outcome', { route });
      for (const [outcome, count] of now.byLabel(m('odoo_calls_total'), 'outcome', { route })) {
        const grew = increase(count, outcomesBefore.get(outcome) ?? 0);
        const key = `${route}\t${outcome}`;
        if (grew > 0) slot.calls.set(key, (slot.calls.get(key) ?? 0) + grew);
      }
    }
    const bucketsBefore = before.bucketsByLabel(m('odoo_call_duration_seconds'), 'route');
    for (const [route, buckets] of now.bucketsByLabel(m('odoo_call_duration_seconds'), 'route')) {
      const observed = bucketIncrease(buckets, bucketsBefore.get(route));
      slot.callBuckets.set(route, addBuckets(slot.callBuckets.get(route), observed));
    }
  }
}
