import { describe, expect, it } from 'vitest';
import {
  counterByLabel,
  INITIAL_RECONNECT_DELAY_MS,
  MAXIMUM_RECONNECT_DELAY_MS,
  mergeStormStatus,
  nextReconnectDelay,
  reconnectsAfter,
  spread,
} from '../../../bench/storm.js';

describe("Odoo's worker retry delay", () => {
  it('grows by half plus up to a second of jitter from the first delay', () => {
    expect(nextReconnectDelay(INITIAL_RECONNECT_DELAY_MS, 0)).toBe(1500);
    expect(nextReconnectDelay(INITIAL_RECONNECT_DELAY_MS, 0.5)).toBe(2000);
    expect(nextReconnectDelay(2000, 0.999)).toBeCloseTo(3999, 0);
  });

  it('stops growing at the ceiling, jitter still added', () => {
    let delay = INITIAL_RECONNECT_DELAY_MS;
    for (let i = 0; i < 30; i++) delay = nextReconnectDelay(delay, 0.25);
    expect(delay).toBe(MAXIMUM_RECONNECT_DELAY_MS + 250);
  });

  it('reconnects after every close but a clean one', () => {
    expect(reconnectsAfter(1000)).toBe(false);
    for (const code of [1001, 1006, 1011, 1012, 1013, 4001])
      expect(reconnectsAfter(code)).toBe(true);
  });
});

describe('storm summaries', () => {
  it('takes nearest-rank percentiles and the maximum', () => {
    const values = Array.from({ length: 10 }, (_, i) => 10 - i);
    expect(spread(values)).toEqual({ count: 10, p50: 5, p90: 9, max: 10 });
    expect(spread([])).toEqual({ count: 0, p50: undefined, p90: undefined, max: undefined });
  });

  it('sums a counter over its series by one label', () => {
    const text = [
      '# TYPE odoo_bus_sidecar_odoo_calls_total counter',
      'odoo_bus_sidecar_odoo_calls_total{route="/websocket/peek_notifications",outcome="result"} 40',
      'odoo_bus_sidecar_odoo_calls_total{route="/websocket/peek_notifications",outcome="error"} 2',
      'odoo_bus_sidecar_odoo_calls_total{route="/websocket/on_closed",outcome="result"} 3',
      'odoo_bus_sidecar_odoo_calls_other{route="/x",outcome="result"} 99',
    ].join('\n');
    expect(counterByLabel(text, 'odoo_bus_sidecar_odoo_calls_total', 'route')).toEqual({
      '/websocket/peek_notifications': 42,
      '/websocket/on_closed': 3,
    });
    expect(counterByLabel(text, 'odoo_bus_sidecar_odoo_calls_total', 'outcome')).toEqual({
      result: 43,
      error: 2,
    });
  });

  it("merges the client processes' reports", () => {
    const merged = mergeStormStatus([
      {
        sockets: 2,
        resubscribed: 1,
        resubscribedAtUs: [5],
        attempts: 3,
        handshakeErrors: { 'http-503': 1 },
        closes: { '1012': 2 },
      },
      {
        sockets: 1,
        resubscribed: 1,
        resubscribedAtUs: [7],
        attempts: 1,
        handshakeErrors: { 'http-503': 2, ECONNREFUSED: 1 },
        closes: { '1012': 1 },
      },
    ]);
    expect(merged).toEqual({
      sockets: 3,
      resubscribed: 2,
      resubscribedAtUs: [5, 7],
      attempts: 4,
      handshakeErrors: { 'http-503': 3, ECONNREFUSED: 1 },
      closes: { '1012': 3 },
    });
  });
});
