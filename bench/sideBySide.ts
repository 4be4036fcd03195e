/**
 * The side-by-side table of a run against a real Odoo: the sidecar and the external server (Odoo's
 * own gevent worker) under the same workload, the same sessions and the same database, per N, as
 * a Markdown table the README carries.
 */
import type { RunResult } from './measure.js';

const kb = (bytes: number | undefined) =>
  bytes === undefined ? '–' : `${(bytes / 1024).toFixed(1)} KB`;
const msText = (value: number | undefined) =>
  value === undefined ? '–' : value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
const percent = (part: number, whole: number) =>
  whole === 0 ? '–' : `${((part / whole) * 100).toFixed(part === whole ? 0 : 1)} %`;

function closes(run: RunResult): string {
  const entries = Object.entries(run.closes).filter(([, v]) => v > 0);
  return entries.length === 0 ? 'none' : entries.map(([code, n]) => `${code}×${n}`).join(', ');
}

function connectErrors(run: RunResult): string {
  const entries = Object.entries(run.connect.errors).filter(([, v]) => v > 0);
  return entries.length === 0 ? 'none' : entries.map(([code, n]) => `${code}×${n}`).join(', ');
}

function connections(run: RunResult): string {
  if (!run.pgConnections) return '–';
  const total = Object.values(run.pgConnections).reduce((a, b) => a + b, 0);
  return String(total);
}

const rows: Array<[string, (run: RunResult) => string]> = [
  ['sockets connected / subscribed', (r) => `${r.connect.ok} / ${r.connect.ready}`],
  ['handshake errors', connectErrors],
  [
    'RSS per socket still open, steady (no forced GC)',
    (r) => kb(r.memory.rssPerSocketUncollectedBytes),
  ],
  [
    // A server that closed sockets may keep their memory (Python does): per socket it accepted.
    'RSS growth per socket accepted, steady',
    (r) =>
      r.memory.rssPerSocketUncollectedBytes === undefined || r.connect.ok === 0
        ? '–'
        : kb(
            (r.memory.rssPerSocketUncollectedBytes * (r.memory.openSockets ?? r.connect.ok)) /
              r.connect.ok,
          ),
  ],
  [
    'RSS per socket after a full GC',
    (r) => kb(r.kind === 'sidecar' ? r.memory.rssPerSocketBytes : undefined),
  ],
  ['one notification to all: commit → receipt p50', (r) => msText(r.burst.latencyMs.p50)],
  ['p99', (r) => msText(r.burst.latencyMs.p99)],
  ['max', (r) => msText(r.burst.latencyMs.max)],
  [
    'delivered (of bursts × sockets subscribed when they began)',
    (r) => percent(r.burst.delivered, r.burst.expected),
  ],
  ['close codes seen by clients', closes],
  [
    'server CPU s per 1,000 deliveries',
    (r) =>
      r.burst.cpuPer1000Deliveries === undefined ? '–' : r.burst.cpuPer1000Deliveries.toFixed(3),
  ],
  [
    '`bus_bus` reads per notification',
    (r) =>
      r.burst.busReadsPerNotification === undefined
        ? '–'
        : r.burst.busReadsPerNotification.toFixed(1),
  ],
  ['PostgreSQL connections held by the bus server', connections],
];

/** Markdown: one column per (target, N). */
export function sideBySide(runs: readonly RunResult[]): string {
  const columns = runs.filter((r) => r.kind !== 'reference');
  if (columns.length === 0) return '';
  const header = `| | ${columns.map((r) => `${r.target}, N = ${r.n.toLocaleString('en-US')}`).join(' | ')} |`;
  const lines = [header, `|---|${columns.map(() => '---').join('|')}|`];
  for (const [name, cell] of rows) lines.push(`| ${name} | ${columns.map(cell).join(' | ')} |`);
  return lines.join('\n');
}
