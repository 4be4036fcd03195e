import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../../bench/measure.js';
import { compare, medianRun, noBacklog } from '../../../bench/report.js';

function run(target: string, kind: RunResult['kind'], n: number, lastMs: number): RunResult {
  return {
    target,
    kind,
    n,
    connect: { ok: n, failed: 0, errors: {}, seconds: 1, ready: n, readySeconds: 0.1 },
    limits: { serverOpenFiles: n + 30, openFileLimit: 20_000 },
    memory: {
      baselineRssBytes: 50e6,
      idleRssBytes: 50e6 + n * 4096,
      rssPerSocketBytes: kind === 'reference' ? 3072 : 5120,
      rssPerSocketUncollectedBytes: 6000,
      heapUsedBytes: undefined,
    },
    burst: {
      notifications: 10,
      delivered: 10 * n,
      expected: 10 * n,
      latencyMs: { p50: lastMs / 2, p99: lastMs, max: lastMs },
      lastReceiptMs: { median: lastMs, max: lastMs, all: [lastMs] },
      busReads: kind === 'reference' ? undefined : 10,
      busReadsPerNotification: kind === 'reference' ? undefined : 1,
      cpuSeconds: 1,
      notifyDelayMs: undefined,
      writeLoopMs: kind === 'reference' ? lastMs : undefined,
      clientCpuSecondsPerBurst: 0.1,
    },
    sustained: undefined,
    pgConnections: kind === 'reference' ? undefined : { listen: 1, read: 2 },
    closes: {},
    clientErrors: {},
  };
}

describe('bench report', () => {
  it('puts each target next to the reference of the same N, with ratios and goals', () => {
    const [comparison] = compare([
      run('reference', 'reference', 1000, 100),
      run('sidecar', 'sidecar', 1000, 120),
    ]);
    const row = (metric: string) => comparison?.rows.find((r) => r.metric.startsWith(metric));
    expect(row('burst: commit → last receipt')).toMatchObject({ ratio: 1.2, met: true });
    expect(row('idle RSS per socket (after')).toMatchObject({ value: 5, reference: 3, met: true });
    expect(row('PostgreSQL connections held')).toMatchObject({ value: 3, met: true });
    expect(row('bus_bus reads per notification (bursts)')).toMatchObject({ value: 1, met: true });
  });

  it('takes the median of every figure over repetitions', () => {
    const median = medianRun([
      run('sidecar', 'sidecar', 1000, 300),
      run('sidecar', 'sidecar', 1000, 100),
      run('sidecar', 'sidecar', 1000, 200),
    ]);
    expect(median.burst.lastReceiptMs.median).toBe(200);
    expect(median.target).toBe('sidecar');
  });

  it('calls rising latency over the sustained phase a backlog', () => {
    const base = run('sidecar', 'sidecar', 1000, 100);
    const sustained = (series: number[]) =>
      ({
        mode: 'rate',
        deliveries: 10,
        expected: 10,
        meanLatencyBySecondMs: series,
      }) as NonNullable<RunResult['sustained']>;
    expect(noBacklog({ ...base, sustained: sustained([100, 110, 90, 105, 100]) })).toBe(true);
    expect(noBacklog({ ...base, sustained: sustained([100, 200, 400, 800, 1600]) })).toBe(false);
  });
});
