/**
 * The Grafana dashboard (`deploy/grafana/odoo-bus-sidecar.json`) and the Prometheus alert rules
 * (`deploy/prometheus/alerts.yml`): every metric they use is one the sidecar exports; the dashboard
 * imports as is (a datasource input, a uid, every panel on that datasource, no two panels on the
 * same cell); the rules are well-formed, and where `promtool` is installed (Debian's `prometheus`)
 * it checks them, runs their unit tests (`alerts.test.yml`) and parses every query of the
 * dashboard.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { processMetricNames, sidecarMetrics } from '../../src/observability/metricsDocs.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  uid: string;
  title: string;
  id: number | null;
  panels: Panel[];
  templating: { list: Array<{ name: string; datasource?: { uid?: string }; query: unknown }> };
}
interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(read('deploy/grafana/odoo-bus-sidecar.json')) as Dashboard;
const rules = (parse(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> })
  .groups;
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
const queries = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

/** Exported series names: the sidecar's metrics (histograms with their three series), process'. */
function exportedSeries(): Set<string> {
  const names = new Set(processMetricNames());
  for (const { name, type } of sidecarMetrics()) {
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  // prom-client's own histogram among the process metrics.
  for (const suffix of ['_bucket', '_sum', '_count'])
    names.add(`odoo_bus_sidecar_nodejs_gc_duration_seconds${suffix}`);
  return names;
}

function metricsIn(expr: string): string[] {
  return [...new Set(expr.match(/\bodoo_bus_sidecar_[a-z0-9_]+/g) ?? [])];
}

/** Grafana's variables, as a query would run. */
function concrete(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*');
}

/** Grafana's reference to the datasource chosen at import (not a template string of ours). */
const DATASOURCE_INPUT = ['$', '{DS_PROMETHEUS}'].join('');

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const promtoolMissing =
  promtool.status === 0 ? undefined : 'promtool is not installed (Debian: prometheus)';

describe('what the dashboard and the alert rules use', () => {
  it('is exported by the sidecar, every metric of it', () => {
    const exported = exportedSeries();
    const used = [...queries, ...rules.flatMap((group) => group.rules.map((rule) => rule.expr))];
    const missing = used.flatMap(metricsIn).filter((name) => !exported.has(name));
    expect(missing).toEqual([]);
    // Not an empty check: both files use many.
    expect(new Set(used.flatMap(metricsIn)).size).toBeGreaterThan(30);
  });
});

describe('deploy/grafana/odoo-bus-sidecar.json', () => {
  it('imports as is: a Prometheus datasource input, a fixed uid, no instance id', () => {
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({
        name: 'DS_PROMETHEUS',
        type: 'datasource',
        pluginId: 'prometheus',
      }),
    ]);
    expect(dashboard.uid).toBe('odoo-bus-sidecar');
    expect(dashboard.id).toBeNull();
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({
        panel: panel.title,
        uid: DATASOURCE_INPUT,
      });
      expect(panel.targets?.length).toBeGreaterThan(0);
      for (const target of panel.targets ?? [])
        expect(target.datasource?.uid).toBe(DATASOURCE_INPUT);
    }
    const instance = dashboard.templating.list.find((variable) => variable.name === 'instance');
    expect(instance?.datasource?.uid).toBe(DATASOURCE_INPUT);
    expect(JSON.stringify(instance?.query)).toContain('odoo_bus_sidecar_build_info');
  });

  it('has unique panel ids and no two panels on the same cell of its 24-column grid', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const taken = new Map<string, string>();
    for (const panel of panels) {
      const { x, y, w, h } = panel.gridPos;
      expect(x + w).toBeLessThanOrEqual(24);
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const cell = `${row},${column}`;
          expect({ cell, by: taken.get(cell) }).toEqual({ cell, by: undefined });
          taken.set(cell, panel.title);
        }
      }
    }
  });

  it(`parses with promtool, every query${promtoolMissing ? ` (skipped: ${promtoolMissing})` : ''}`, (context) => {
    if (promtoolMissing) context.skip(promtoolMissing);
    // Each query as a recording rule: `promtool check rules` parses its PromQL.
    const dir = mkdtempSync(join(tmpdir(), 'odoo-bus-sidecar-dashboard-'));
    try {
      const file = join(dir, 'queries.yml');
      const asRules = queries.map((expr, i) => ({
        record: `dashboard:query_${i}`,
        expr: concrete(expr),
      }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: asRules }] }));
      const result = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect({ status: result.status, output: result.stdout + result.stderr }).toEqual({
        status: 0,
        output: expect.stringContaining(`SUCCESS: ${queries.length} rules found`),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('names, grades and explains every alert', () => {
    const all = rules.flatMap((group) => group.rules);
    expect(all.length).toBeGreaterThanOrEqual(9);
    for (const rule of all) {
      expect(rule.alert).toMatch(/^OdooBusSidecar[A-Z][A-Za-z]+$/);
      expect(['critical', 'warning']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
    }
    // What an operator must hear of, each by its own alert.
    const watched = all.map((rule) => rule.expr).join('\n');
    for (const metric of [
      'odoo_bus_sidecar_listener_up',
      'odoo_bus_sidecar_ready',
      'odoo_bus_sidecar_bus_reads_total',
      'odoo_bus_sidecar_odoo_calls_total',
      'odoo_bus_sidecar_odoo_queued',
      'odoo_bus_sidecar_ws_slow_consumers_total',
      'odoo_bus_sidecar_notify_to_write_seconds_bucket',
      'odoo_bus_sidecar_process_open_fds',
      'odoo_bus_sidecar_process_max_fds',
    ])
      expect(watched).toContain(metric);
  });

  it(`passes promtool check rules and its unit tests${promtoolMissing ? ` (skipped: ${promtoolMissing})` : ''}`, (context) => {
    if (promtoolMissing) context.skip(promtoolMissing);
    for (const args of [
      ['check', 'rules', 'alerts.yml'],
      ['test', 'rules', 'alerts.test.yml'],
    ]) {
      const run = spawnSync('promtool', args, {
        cwd: join(root, 'deploy/prometheus'),
        encoding: 'utf8',
      });
      expect({ args, status: run.status, output: run.stdout + run.stderr }).toEqual({
        args,
        status: 0,
        output: expect.stringContaining('SUCCESS'),
      });
    }
  });
});
