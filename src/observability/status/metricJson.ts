/**
 * Reading prom-client's JSON form of metrics (`Registry.getMetricsAsJSON()`, also what a cluster's
 * workers send their primary): sums of series, values by label, histogram buckets, and quantiles
 * of bucket counts as Prometheus' `histogram_quantile` computes them. The status page is built
 * from these, so it shows what Prometheus would.
 */

export interface MetricJsonValue {
  value: number;
  labels: Record<string, string | number>;
  /** Histograms: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
  metricName?: string;
}

export interface MetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values: MetricJsonValue[];
}

/** Cumulative bucket counts by upper bound (ascending, `+Inf` last), as a histogram exposes them. */
export interface Buckets {
  bounds: number[];
  counts: number[];
}

function matches(value: MetricJsonValue, labels: Record<string, string> | undefined): boolean {
  if (labels === undefined) return true;
  for (const [key, wanted] of Object.entries(labels)) {
    if (String(value.labels[key]) !== wanted) return false;
  }
  return true;
}

/** One reading of a set of metrics, by name. */
export class MetricsReading {
  private readonly byName = new Map<string, MetricJson>();

  constructor(
    metrics: readonly MetricJson[],
    /** When it was taken (ms since the epoch). */
    readonly at: number,
  ) {
    // prom-client hands out its live value objects: a reading keeps the numbers of its moment.
    for (const metric of metrics) {
      this.byName.set(metric.name, { ...metric, values: metric.values.map((v) => ({ ...v })) });
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Sum of the series of `name` (a histogram's: its `_count`) whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number {
    const metric = this.byName.get(name);
    if (metric === undefined) return 0;
    let total = 0;
    for (const value of metric.values) {
      if (metric.type === 'histogram' && value.metricName !== `${name}_count`) continue;
      if (matches(value, labels)) total += value.value;
    }
    return total;
  }

  /** The gauge's value, or undefined when it is not exported (an optional metric). */
  value(name: string): number | undefined {
    const metric = this.byName.get(name);
    if (metric === undefined || metric.values.length === 0) return undefined;
    return this.sum(name);
  }

  /** Sums of `name` by the values of `label` (e.g. closes by code). */
  byLabel(name: string, label: string, labels?: Record<string, string>): Map<string, number> {
    const sums = new Map<string, number>();
    const metric = this.byName.get(name);
    if (metric === undefined) return sums;
    for (const value of metric.values) {
      if (metric.type === 'histogram' && value.metricName !== `${name}_count`) continue;
      const key = value.labels[label];
      if (key === undefined || !matches(value, labels)) continue;
      sums.set(String(key), (sums.get(String(key)) ?? 0) + value.value);
    }
    return sums;
  }

  /** A histogram's buckets, summed over the series whose labels include `labels`. */
  buckets(name: string, labels?: Record<string, string>): Buckets | undefined {
    const metric = this.byName.get(name);
    if (metric === undefined || metric.type !== 'histogram') return undefined;
    const byBound = new Map<number, number>();
    for (const value of metric.values) {
      if (value.metricName !== `${name}_bucket` || !matches(value, labels)) continue;
      const le = value.labels.le;
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + value.value);
    }
    const bounds = [...byBound.keys()].sort((a, b) => a - b);
    return { bounds, counts: bounds.map((bound) => byBound.get(bound) ?? 0) };
  }

  /** Histogram buckets per value of `label` (e.g. Odoo call durations by route). */
  bucketsByLabel(name: string, label: string): Map<string, Buckets> {
    const result = new Map<string, Buckets>();
    for (const key of this.byLabel(name, label).keys()) {
      const buckets = this.buckets(name, { [label]: key });
      if (buckets !== undefined) result.set(key, buckets);
    }
    return result;
  }
}

/** How much a counter grew; a counter that went down was reset (a worker restarted): its value. */
export function increase(now: number, before: number): number {
  return now >= before ? now - before : now;
}

/** Bucket counts of `now` minus those of `before` (same bounds), reset-safe like `increase`. */
export function bucketIncrease(now: Buckets, before: Buckets | undefined): Buckets {
  if (before === undefined || before.bounds.length !== now.bounds.length) return now;
  const counts = now.counts.map((count, i) => increase(count, before.counts[i] ?? 0));
  return { bounds: now.bounds, counts };
}

/** Adds `more` into `into` (same bounds); returns `into`, or `more` when `into` is missing. */
export function addBuckets(into: Buckets | undefined, more: Buckets): Buckets {
  if (into === undefined || into.bounds.length !== more.bounds.length) {
    return { bounds: more.bounds, counts: [...more.counts] };
  }
  for (let i = 0; i < more.counts.length; i++)
    into.counts[i] = (into.counts[i] ?? 0) + (more.counts[i] ?? 0);
  return into;
}

/**
 * The `q` quantile of cumulative bucket counts, interpolated linearly inside its bucket as
 * Prometheus' `histogram_quantile` does (the first bucket from 0; a quantile in `+Inf` is the
 * highest finite bound). Undefined when nothing was observed.
 */
export function quantile(q: number, buckets: Buckets): number | undefined {
  const { bounds, counts } = buckets;
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0 || bounds.length === 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const count = counts[i] ?? 0;
    if (count < rank) continue;
    const upper = bounds[i] ?? 0;
    if (upper === Number.POSITIVE_INFINITY) return bounds[i - 1] ?? 0;
    const lower = i === 0 ? 0 : (bounds[i - 1] ?? 0);
    const below = i === 0 ? 0 : (counts[i - 1] ?? 0);
    const inBucket = count - below;
    return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
  }
  return bounds[bounds.length - 1];
}
