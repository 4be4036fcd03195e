import { afterEach, describe, expect, it, vi } from 'vitest';
import { permits } from '../../../src/observability/admin/access.js';
import { metricsJson } from '../../../src/observability/admin/sidecarAdmin.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { quantile } from '../../../src/observability/status/metricJson.js';
import { StatusSampler } from '../../../src/observability/status/sampler.js';

/** A sampler over a fresh registry, on a clock the test moves. */
function sampled() {
  const metrics = createMetrics({ defaultMetrics: false });
  let now = 1_700_000_000_000;
  const sampler = new StatusSampler({
    read: (names) => metricsJson(metrics, names),
    now: () => now,
  });
  return {
    metrics,
    sampler,
    async tick(ms = 1000) {
      now += ms;
      await sampler.sample();
    },
  };
}

describe('quantile of histogram buckets', () => {
  it('interpolates inside the bucket, as histogram_quantile does', () => {
    // 10 observations up to 0.1 s, 10 more between 0.1 and 0.2 s.
    const buckets = { bounds: [0.1, 0.2, Number.POSITIVE_INFINITY], counts: [10, 20, 20] };
    expect(quantile(0.5, buckets)).toBeCloseTo(0.1);
    expect(quantile(0.75, buckets)).toBeCloseTo(0.15);
    expect(quantile(0.25, buckets)).toBeCloseTo(0.05);
  });

  it('answers the highest finite bound for the +Inf bucket, nothing without observations', () => {
    expect(quantile(0.99, { bounds: [1, Number.POSITIVE_INFINITY], counts: [0, 5] })).toBe(1);
    expect(
      quantile(0.5, { bounds: [1, Number.POSITIVE_INFINITY], counts: [0, 0] }),
    ).toBeUndefined();
  });
});

describe('the status sampler', () => {
  it('turns counters into rates per second and histograms into quantiles of that second', async () => {
    const { metrics, sampler, tick } = sampled();
    await tick();
    metrics.written.notifications += 50;
    metrics.written.frames += 5;
    // 98 quick batches and 2 slow ones: the p99 falls among the slow.
    for (let i = 0; i < 98; i++) metrics.notifyToWriteSeconds.observe(0.004);
    metrics.notifyToWriteSeconds.observe(0.9);
    metrics.notifyToWriteSeconds.observe(0.9);
    await tick(2000);
    // A quiet second after: the rates drop to 0, the latency has nothing to say.
    await tick();
    const { values, t } = sampler.seriesSince();
    expect(t).toHaveLength(3);
    expect(values.deliveries).toEqual([null, 25, 0]);
    expect(values.frames).toEqual([null, 2.5, 0]);
    expect(values.notifyToWriteP50?.[1]).toBeGreaterThan(2.5);
    expect(values.notifyToWriteP50?.[1]).toBeLessThanOrEqual(5);
    expect(values.notifyToWriteP99?.[1]).toBeGreaterThan(500);
    expect(values.notifyToWriteP99?.[1]).toBeLessThanOrEqual(1000);
    expect(values.notifyToWriteP99?.[2]).toBeNull();
  });

  it('keeps per-database series aligned with the times, and only newer samples after `since`', async () => {
    const { metrics, sampler, tick } = sampled();
    let clients = [{ db: 'a', websockets: 1, longPolls: 0 }];
    metrics.views.clients = () => clients;
    await tick();
    clients = [
      { db: 'a', websockets: 2, longPolls: 0 },
      { db: 'b', websockets: 3, longPolls: 1 },
    ];
    await tick();
    const all = sampler.seriesSince();
    expect(all.values['ws:a']).toEqual([1, 2]);
    expect(all.values['ws:b']).toEqual([null, 3]);
    expect(all.values['lp:b']).toEqual([null, 1]);
    const newer = sampler.seriesSince(all.t[0]);
    expect(newer.t).toEqual([all.t[1]]);
    expect(newer.values['ws:b']).toEqual([3]);
  });

  it('counts the close codes of the last hour, and forgets older minutes', async () => {
    const { metrics, sampler, tick } = sampled();
    await tick();
    metrics.closes.labels('4001').inc(3);
    metrics.closes.labels('1013').inc();
    await tick();
    expect(Object.fromEntries(sampler.lastHour().closes)).toEqual({ '4001': 3, '1013': 1 });
    await tick(61 * 60_000);
    metrics.closes.labels('1012').inc();
    await tick();
    expect(Object.fromEntries(sampler.lastHour().closes)).toEqual({ '1012': 1 });
  });

  it('takes a counter that went down (a restarted worker) as a new start, never a negative rate', async () => {
    const rows = { value: 100 };
    let now = 0;
    const sampler = new StatusSampler({
      now: () => (now += 1000),
      read: async () => [
        {
          name: 'odoo_bus_sidecar_bus_rows_read_total',
          help: '',
          type: 'counter',
          values: [{ value: rows.value, labels: {} }],
        },
      ],
    });
    await sampler.sample();
    rows.value = 7;
    await sampler.sample();
    expect(sampler.seriesSince().values.rows).toEqual([null, 7]);
  });
});

describe('the sampler while nobody watches', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('samples every five seconds, and every second for a minute after the page asked', async () => {
    vi.useFakeTimers();
    const metrics = createMetrics({ defaultMetrics: false });
    const sampler = new StatusSampler({ read: (names) => metricsJson(metrics, names) });
    sampler.start();
    await vi.advanceTimersByTimeAsync(10_000);
    // At the start, then after 5 s and 10 s.
    expect(sampler.seriesSince().t).toHaveLength(3);
    sampler.watched();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sampler.seriesSince().t).toHaveLength(13);
    await vi.advanceTimersByTimeAsync(120_000);
    // Watched for 60 s of those: 50 more a second, then one every 5 s.
    expect(sampler.seriesSince().t.length).toBeLessThan(13 + 50 + 20);
    sampler.stop();
  });

  it('keeps the samples of the last ten minutes, whatever their spacing', async () => {
    let now = 0;
    const metrics = createMetrics({ defaultMetrics: false });
    const sampler = new StatusSampler({
      read: (names) => metricsJson(metrics, names),
      now: () => now,
    });
    for (let i = 0; i < 200; i++) {
      now += 5000;
      await sampler.sample();
    }
    const { t } = sampler.seriesSince();
    expect(t.length).toBe(121);
    expect((t.at(-1) as number) - (t[0] as number)).toBe(600_000);
  });
});

describe('status page access', () => {
  const basic = (text: string) => ({
    authorization: `Basic ${Buffer.from(text).toString('base64')}`,
  });

  it('basic: the user and the password, both', () => {
    const access = { kind: 'basic', user: 'ops', password: 'pw:with:colons' } as const;
    expect(permits(access, basic('ops:pw:with:colons'))).toBe(true);
    expect(permits(access, basic('ops:pw'))).toBe(false);
    expect(permits(access, basic('x:pw:with:colons'))).toBe(false);
    expect(permits(access, {})).toBe(false);
    expect(permits(access, { authorization: 'Bearer pw:with:colons' })).toBe(false);
  });

  it('secret: the header or the password of basic authentication', () => {
    const access = { kind: 'secret', secret: 's' } as const;
    expect(permits(access, { 'x-bus-sidecar-secret': 's' })).toBe(true);
    expect(permits(access, basic('anyone:s'))).toBe(true);
    expect(permits(access, { 'x-bus-sidecar-secret': 'S' })).toBe(false);
    expect(permits(access, basic('s:'))).toBe(false);
  });
});
