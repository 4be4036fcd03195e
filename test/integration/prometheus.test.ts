/**
 * What the repository ships for Prometheus and Grafana, loaded by a real Prometheus (Debian's
 * `prometheus`) scraping a real sidecar's admin port: the alert rules load and evaluate without an
 * error and none fires on a healthy sidecar; every query of the Grafana dashboard evaluates, and
 * those about what is happening (sockets, deliveries, latency, reads, calls to Odoo) return data.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { type Prometheus, startPrometheus } from '../helpers/servers/prometheus.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const ALERTS = new URL('../../deploy/prometheus/alerts.yml', import.meta.url).pathname;
const DASHBOARD = JSON.parse(
  readFileSync(new URL('../../deploy/grafana/odoo-bus-sidecar.json', import.meta.url), 'utf8'),
) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };

let stack: Stack;
let prometheus: Prometheus;
let socket: BrowserSocket;

/** Grafana's variables as Grafana fills them (a range of a few scrapes). */
function concrete(expr: string): string {
  return expr.replaceAll('$__rate_interval', '15s').replaceAll('$instance', '.*');
}

describe('Prometheus on the admin port', () => {
  beforeAll(async () => {
    stack = await startStack();
    const { cookie } = stack.login({ memberChannels: [1] });
    socket = await stack.subscribed(cookie);
    prometheus = await startPrometheus({
      targets: [new URL(stack.adminUrl).host],
      ruleFiles: [ALERTS],
    });
  });
  afterAll(async () => {
    await socket?.close().catch(() => undefined);
    await prometheus?.stop();
    await stack?.close();
  });

  it('loads the alert rules, evaluates each without an error, and none fires on a healthy sidecar', async () => {
    await waitFor(async () => (await prometheus.query('up == 1')).length === 1, {
      message: 'Prometheus scraping the admin port',
    });
    const rules = await waitFor(
      async () => {
        const loaded = await prometheus.rules();
        return loaded.length > 0 && loaded.every((rule) => rule.health === 'ok') && loaded;
      },
      { message: 'every rule evaluated' },
    );
    expect(rules.map((rule) => rule.name).sort()).toEqual(
      expect.arrayContaining(['OdooBusSidecarListenDown', 'OdooBusSidecarNotReady']),
    );
    expect(rules.filter((rule) => rule.state !== 'inactive')).toEqual([]);
  });

  it('evaluates every query of the dashboard, with data where something happens', async () => {
    const writer = stack.writer();
    let n = 0;
    const data = await waitFor(
      async () => {
        await writer.sendmany([{ channel: ['discuss.channel', 1], type: 'prom', payload: n++ }]);
        const results = new Map<string, number>();
        for (const panel of DASHBOARD.panels) {
          for (const target of panel.targets ?? []) {
            results.set(target.expr, (await prometheus.query(concrete(target.expr))).length);
          }
        }
        const needed = [
          'odoo_bus_sidecar_ws_connections',
          'odoo_bus_sidecar_clients',
          'odoo_bus_sidecar_ws_notifications_delivered_total',
          'odoo_bus_sidecar_notify_to_write_seconds_bucket',
          'odoo_bus_sidecar_bus_rows_read_total',
          'odoo_bus_sidecar_odoo_in_flight',
          'odoo_bus_sidecar_build_info',
        ];
        const ok = needed.every((metric) =>
          [...results].some(([expr, count]) => expr.includes(metric) && count > 0),
        );
        return ok && results;
      },
      { message: 'the dashboard queries returning data', intervalMs: 1000, timeoutMs: 30_000 },
    );
    expect(data.size).toBeGreaterThan(40);
  });
});
