/**
 * Counters that never go down in a cluster. The primary sums its workers' counters and histograms
 * (`cluster.ts`); when a worker exits, its counts would leave the sums, which Prometheus would read
 * as a counter reset (a false spike in every `rate()`). So the last counters and histograms each
 * worker sent are kept, and those of a worker gone are added to every later answer: the cluster's
 * counters then count since the cluster started, across worker restarts. Gauges are not kept (a
 * gone worker holds no sockets).
 */
import type { MetricJson, MetricJsonValue } from '../status/metricJson.js';

const KEPT_TYPES = new Set(['counter', 'histogram']);

function seriesKey(value: MetricJsonValue): string {
  const labels = Object.entries(value.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${value.metricName ?? ''}\u0000${JSON.stringify(labels)}`;
}

export class RetiredCounters {
  private readonly lastSeen = new Map<number, Map<string, MetricJson>>();
  private readonly retired = new Map<string, MetricJson>();

  /** Remembers the counters and histograms worker `id` just sent. */
  seen(id: number, metrics: readonly MetricJson[]): void {
    let kept = this.lastSeen.get(id);
    if (kept === undefined) {
      kept = new Map();
      this.lastSeen.set(id, kept);
    }
    for (const metric of metrics) if (KEPT_TYPES.has(metric.type)) kept.set(metric.name, metric);
  }

  /** Worker `id` exited: what it had counted stays in the sums. */
  retire(id: number): void {
    const kept = this.lastSeen.get(id);
    this.lastSeen.delete(id);
    if (kept === undefined) return;
    for (const metric of kept.values()) {
      const sum = this.retired.get(metric.name);
      if (sum === undefined) {
        this.retired.set(metric.name, { ...metric, values: metric.values.map((v) => ({ ...v })) });
        continue;
      }
      const byKey = new Map(sum.values.map((value) => [seriesKey(value), value]));
      for (const value of metric.values) {
        const same = byKey.get(seriesKey(value));
        if (same === undefined) sum.values.push({ ...value });
        else same.value += value.value;
      }
    }
  }

  /** The counts of workers gone (only `names` when given), as one more worker's answer. */
  metrics(names?: readonly string[]): MetricJson[] {
    const all = [...this.retired.values()];
    if (names === undefined) return all;
    const wanted = new Set(names);
    return all.filter((metric) => wanted.has(metric.name));
  }
}
