import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replaceMetricsTable, sidecarMetrics } from '../../../src/observability/metricsDocs.js';

describe('README metrics reference', () => {
  it('is the one generated from the metrics (run `npm run docs:metrics` after changing them)', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(replaceMetricsTable(readme)).toBe(readme);
  });

  it('names every metric with the prefix, Prometheus-style, with a meaning', () => {
    for (const { name, type, help } of sidecarMetrics()) {
      expect(name).toMatch(/^odoo_bus_sidecar_[a-z0-9_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
      if (type === 'histogram') expect(name).toMatch(/_seconds$/);
      expect(help.length).toBeGreaterThan(10);
    }
  });
});
