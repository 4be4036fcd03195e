import { describe, expect, it } from 'vitest';
import { RetiredCounters } from '../../../src/observability/admin/retiredCounters.js';
import type { MetricJson } from '../../../src/observability/status/metricJson.js';

/** `ws_closes_total` with a value per close code, as one worker's answer carries it. */
const counter = (byCode: Record<string, number>): MetricJson => ({
  name: 'odoo_bus_sidecar_ws_closes_total',
  help: '',
  type: 'counter',
  values: Object.entries(byCode).map(([code, value]) => ({ value, labels: { code } })),
});
const gauge = (value: number): MetricJson => ({
  name: 'odoo_bus_sidecar_ws_connections',
  help: '',
  type: 'gauge',
  values: [{ value, labels: {} }],
});

describe('the counters of workers gone', () => {
  it('keeps the last counts of each worker that exited, summed by series; no gauge', () => {
    const retired = new RetiredCounters();
    retired.seen(1, [counter({ 1012: 3 }), gauge(10)]);
    retired.seen(1, [counter({ 1012: 5 })]);
    retired.seen(2, [counter({ 1012: 2, 4001: 7 })]);
    retired.seen(3, [counter({ 1012: 100 })]);
    expect(retired.metrics()).toEqual([]);
    retired.retire(1);
    retired.retire(2);
    const [closes, ...others] = retired.metrics();
    expect(others).toEqual([]);
    expect(closes?.values).toEqual([
      { value: 7, labels: { code: '1012' } },
      { value: 7, labels: { code: '4001' } },
    ]);
    // A live worker's counts are its own answer's, never counted twice.
    expect(retired.metrics(['odoo_bus_sidecar_ws_connections'])).toEqual([]);
    retired.retire(2);
    expect(retired.metrics()[0]?.values[0]?.value).toBe(7);
  });
});
