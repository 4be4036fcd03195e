/**
 * Turns runs into the comparison the issue asks for: for each N, every figure of each target next
 * to the reference's and their ratio, with the target ratio and whether it is met. Pure functions,
 * so the summary can be regenerated from a saved `result.json`.
 */

import type { RunResult } from './measure.js';
import { sideBySide } from './sideBySide.js';
import { describeStorm } from './stormRun.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  openFileLimit: number | undefined;
}

export interface Comparison {
  n: number;
  target: string;
  rows: ComparisonRow[];
}

export interface ComparisonRow {
  metric: string;
  unit: string;
  value: number | undefined;
  reference: number | undefined;
  ratio: number | undefined;
  /** The goal, in words (`≤ 2× reference`), and whether the value meets it. */
  goal: string | undefined;
  met: boolean | undefined;
}

export interface BenchResult {
  startedAt: string;
  machine: Machine;
  options: Record<string, unknown>;
  runs: RunResult[];
  comparisons: Comparison[];
  limits: string[];
}

function ratio(value: number | undefined, reference: number | undefined): number | undefined {
  if (value === undefined || reference === undefined || reference === 0) return undefined;
  return value / reference;
}

function row(
  metric: string,
  unit: string,
  value: number | undefined,
  reference: number | undefined,
  goal?: {
    text: string;
    check: (value: number, ratio: number | undefined) => boolean;
    /** The goal is a ratio: without a reference (N beyond one process) there is no verdict. */
    relative?: boolean;
  },
): ComparisonRow {
  const r = ratio(value, reference);
  const judged = goal !== undefined && value !== undefined && (!goal.relative || r !== undefined);
  return {
    metric,
    unit,
    value,
    reference,
    ratio: r,
    goal: goal?.text,
    met: judged ? goal.check(value, r) : undefined,
  };
}

/** Runs of a target other than the reference, each compared with the reference of the same N. */
export function compare(runs: readonly RunResult[]): Comparison[] {
  const comparisons: Comparison[] = [];
  const sizes = [...new Set(runs.map((r) => r.n))].sort((a, b) => a - b);
  const largest = sizes.at(-1);
  for (const n of sizes) {
    const reference = runs.find((r) => r.n === n && r.kind === 'reference');
    for (const run of runs.filter((r) => r.n === n && r.kind !== 'reference')) {
      const workers = Number(/×(\d+)$/.exec(run.target)?.[1] ?? 1);
      const s = run.sustained;
      const rs = reference?.sustained;
      const floorWrites = rs?.serverWritesPerSecond ?? rs?.framesPerSecond;
      const held = run.pgConnections
        ? Object.values(run.pgConnections).reduce((a, b) => a + b, 0)
        : undefined;
      comparisons.push({
        n,
        target: run.target,
        rows: [
          row('sockets ready', '', run.connect.ready, reference?.connect.ready),
          row(
            'idle RSS per socket (after a full GC)',
            'KB',
            kb(run.memory.rssPerSocketBytes),
            kb(reference?.memory.rssPerSocketBytes),
            // The goal is one process at the largest N: at small N, heap growth steps dominate.
            n === largest && workers === 1
              ? {
                  text: '≤ 2× reference',
                  check: (_, r) => r !== undefined && r <= 2,
                  relative: true,
                }
              : undefined,
          ),
          row(
            'idle RSS per socket, before a full GC',
            'KB',
            kb(run.memory.rssPerSocketUncollectedBytes),
            kb(reference?.memory.rssPerSocketUncollectedBytes),
          ),
          row(
            'burst: commit → last receipt (median)',
            'ms',
            run.burst.lastReceiptMs.median,
            reference?.burst.lastReceiptMs.median,
            {
              text: '≤ 1.3× reference',
              check: (_, r) => r !== undefined && r <= 1.3,
              relative: true,
            },
          ),
          row('burst: reference write loop alone', 'ms', undefined, reference?.burst.writeLoopMs),
          row(
            'burst: server CPU per burst',
            'ms',
            perBurstMs(run.burst.cpuSeconds, run.burst.notifications),
            perBurstMs(reference?.burst.cpuSeconds, reference?.burst.notifications),
          ),
          row(
            'burst: load generator CPU per burst',
            'ms',
            run.burst.clientCpuSecondsPerBurst * 1000,
            reference ? reference.burst.clientCpuSecondsPerBurst * 1000 : undefined,
          ),
          row(
            'burst: commit → receipt p50',
            'ms',
            run.burst.latencyMs.p50,
            reference?.burst.latencyMs.p50,
          ),
          row(
            'burst: commit → receipt p99',
            'ms',
            run.burst.latencyMs.p99,
            reference?.burst.latencyMs.p99,
          ),
          row(
            'burst: commit → receipt max',
            'ms',
            run.burst.latencyMs.max,
            reference?.burst.latencyMs.max,
          ),
          row(
            'burst: delivered',
            '%',
            pct(run.burst.delivered, run.burst.expected),
            pct(reference?.burst.delivered, reference?.burst.expected),
            { text: '100%', check: (v) => v >= 100 },
          ),
          row(
            'bus_bus reads per notification (bursts)',
            '',
            run.burst.busReadsPerNotification,
            undefined,
            { text: `= 1 per worker (${workers})`, check: (v) => v <= workers },
          ),
          row('sustained: deliveries/s', '/s', s?.deliveriesPerSecond, floorWrites, {
            text: 'all offered, no backlog',
            check: () => noBacklog(run),
          }),
          row('sustained: socket writes/s', '/s', s?.framesPerSecond, floorWrites),
          row(
            'sustained: notifications per frame',
            '',
            s?.notificationsPerFrame,
            rs?.notificationsPerFrame,
          ),
          row('sustained: writes per socket per read', '', s?.writesPerSocketPerRead, undefined, {
            text: '≤ 1',
            check: (v) => v <= 1.0001,
          }),
          row('sustained: commit → receipt p50', 'ms', s?.latencyMs.p50, rs?.latencyMs.p50),
          row('sustained: commit → receipt p99', 'ms', s?.latencyMs.p99, rs?.latencyMs.p99),
          row('sustained: commit → receipt max', 'ms', s?.latencyMs.max, rs?.latencyMs.max),
          row('sustained: drain after last commit', 'ms', s?.drainMs, rs?.drainMs),
          row(
            'sustained: CPU s per 1,000 deliveries',
            's',
            s?.cpuPer1000Deliveries,
            rs?.cpuPer1000Deliveries,
          ),
          row(
            'sustained: bus_bus reads per notification',
            '',
            s?.busReadsPerNotification,
            undefined,
          ),
          row('PostgreSQL connections held', '', held, undefined, {
            text: `≤ ${3 * workers} (1 LISTEN + pool of 2, per worker)`,
            check: (v) => v <= 3 * workers,
          }),
        ],
      });
    }
  }
  return comparisons;
}

/** Everything offered was delivered and latency did not climb from the first to the last seconds. */
export function noBacklog(run: RunResult): boolean {
  const s = run.sustained;
  if (s?.mode !== 'rate') return false;
  if (s.deliveries < s.expected) return false;
  const series = s.meanLatencyBySecondMs.filter((v) => v > 0);
  if (series.length < 4) return true;
  const head = series.slice(0, 2).reduce((a, b) => a + b, 0) / 2;
  const tail = series.slice(-2).reduce((a, b) => a + b, 0) / 2;
  // Rising by more than half and by more than 50 ms is a backlog building up.
  return !(tail > head * 1.5 && tail - head > 50);
}

function perBurstMs(seconds: number | undefined, bursts: number | undefined): number | undefined {
  return seconds === undefined || !bursts ? undefined : (seconds / bursts) * 1000;
}

function kb(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / 1024;
}

function pct(part: number | undefined, whole: number | undefined): number | undefined {
  return part === undefined || whole === undefined || whole === 0
    ? undefined
    : (part / whole) * 100;
}

function format(value: number | undefined, unit = ''): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  const text = value.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
  return unit === '' || unit === '/s' ? `${text}${unit}` : `${text} ${unit}`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** The human summary: one table per N and target, then what limited N. */
export function humanSummary(result: BenchResult): string {
  const lines: string[] = [];
  const m = result.machine;
  lines.push(
    `odoo-bus-sidecar benchmark — ${result.startedAt}`,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, ${m.openFileLimit ?? '?'} open files per process`,
    '',
  );
  if ((result.options as { odoo?: unknown }).odoo)
    lines.push('Against a real Odoo, side by side:', '', sideBySide(result.runs), '');
  for (const comparison of result.comparisons) {
    const run = result.runs.find((r) => r.n === comparison.n && r.target === comparison.target);
    lines.push(
      `N = ${comparison.n.toLocaleString('en-US')} — ${comparison.target} vs reference` +
        (run?.sustained?.mode === 'rate'
          ? ` (sustained: ${run.sustained.sharedNotifications} shared + ${run.sustained.privateNotifications} private notifications in ${run.sustained.seconds} s)`
          : ''),
    );
    lines.push(
      `  ${pad('metric', 42)}${pad(comparison.target, 14, true)}${pad('reference', 14, true)}${pad('ratio', 9, true)}  goal`,
    );
    for (const r of comparison.rows) {
      const goal =
        r.goal === undefined
          ? ''
          : `${r.goal}${r.met === undefined ? '' : r.met ? '  met' : '  NOT MET'}`;
      lines.push(
        `  ${pad(r.metric, 42)}${pad(format(r.value, r.unit), 14, true)}${pad(format(r.reference, r.unit), 14, true)}${pad(r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`, 9, true)}  ${goal}`,
      );
    }
    if (run) {
      const closes = Object.entries(run.closes).filter(([, v]) => v > 0);
      if (closes.length > 0)
        lines.push(`  closes by the server: ${JSON.stringify(Object.fromEntries(closes))}`);
      if (run.pgConnections)
        lines.push(`  PostgreSQL connections: ${JSON.stringify(run.pgConnections)}`);
      if (run.memory.perProcess) {
        lines.push('  per process at idle: RSS after / before a full GC, sockets, open files');
        for (const p of run.memory.perProcess) {
          const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
          lines.push(
            `    ${pad(p.name, 16)}${pad(`${mb(p.rssBytes)} / ${mb(p.rssBeforeGcBytes)} MB`, 16, true)}` +
              `${pad(p.sockets === undefined ? '' : `${format(p.sockets)} sockets`, 16, true)}` +
              `${pad(`${format(p.openFiles)} files`, 14, true)}`,
          );
        }
      }
      if (run.sustained) {
        lines.push(
          `  mean latency per second of the sustained phase (ms): ${run.sustained.meanLatencyBySecondMs.map((v) => v.toFixed(0)).join(' ')}`,
          `  load generator CPU share per client process: ${run.sustained.clientCpuShare.map((v) => `${(v * 100).toFixed(0)}%`).join(', ')}`,
        );
      }
    }
    lines.push('');
  }
  for (const run of result.runs)
    for (const storm of run.storms ?? [])
      lines.push(
        `Restart storm (${storm.kind}), ${run.target}, N = ${run.n}: ${describeStorm(storm)}`,
        '',
      );
  if (result.limits.length > 0) {
    lines.push('What limited N:');
    for (const limit of result.limits) lines.push(`  ${limit}`);
  }
  return lines.join('\n');
}

/** Median of each numeric field over repeated runs of the same (N, target). */
export function medianRun(runs: readonly RunResult[]): RunResult {
  if (runs.length === 1) return runs[0] as RunResult;
  return medianOf(runs as unknown[]) as RunResult;
}

function medianOf(values: unknown[]): unknown {
  const first = values[0];
  if (typeof first === 'number') {
    const numbers = values.filter((v): v is number => typeof v === 'number' && !Number.isNaN(v));
    if (numbers.length === 0) return first;
    const sorted = numbers.sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2
      ? sorted[mid]
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  }
  if (Array.isArray(first) || first === null || typeof first !== 'object') return first;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first as object)) {
    out[key] = medianOf(values.map((v) => (v as Record<string, unknown> | undefined)?.[key]));
  }
  return out;
}
