/**
 * The benchmark's command line. Every option has a default that runs the whole comparison on a
 * fresh checkout; `--help` prints this list.
 */
import { parseArgs } from 'node:util';

export interface ExternalTarget {
  name: string;
  /** `ws://host:port/websocket` of any server speaking Odoo's websocket protocol. */
  url: string;
  /** One session cookie for every socket (`session_id=...`); unset: one bench session per socket. */
  cookie: string | undefined;
  /** The Odoo database whose `bus_bus` the notifications go to. */
  database: string;
  /** Where Odoo's writes go (its db_host/db_port, e.g. PgBouncer): postgres://user:pass@host:port */
  pg: string;
  /** Pid of the server process, for its RSS and CPU (optional). */
  pid: number | undefined;
}

export interface BenchOptions {
  sizes: number[];
  targets: string[];
  workers: number[];
  /** Separate sidecar processes behind nginx, per run (empty: none). */
  instances: number[];
  bursts: number;
  burstGapMs: number;
  rate: number;
  privateRate: number;
  durationSeconds: number;
  clientProcesses: number | undefined;
  socketsPerClient: number;
  connectConcurrency: number;
  sharedChannel: string;
  settleMs: number;
  repeat: number;
  odooConcurrency: number;
  coalesceMs: number | undefined;
  out: string;
  build: boolean;
  cpuProf: boolean;
  heapSnapshot: boolean;
  external: ExternalTarget | undefined;
  json: boolean;
  /** Re-render summary.txt and latency.svg of a saved result.json, measure nothing. */
  report: string | undefined;
}

export const USAGE = `Usage: npm run bench -- [options]

Runs the same workload against the sidecar, a bare reference websocket server and, optionally, any
endpoint speaking Odoo's websocket protocol, side by side, and reports every figure with its ratio.

  --n <list>                socket counts, e.g. 1000,5000,19500 (default 1000,5000,19500)
  --targets <list>          reference,sidecar[,external] (default: reference,sidecar, plus external
                            when --external-url is given)
  --workers <list>          sidecar worker processes per run, e.g. 1,2 (default 1)
  --instances <list>        also: that many separate sidecar processes behind nginx running
                            deploy/nginx.conf (scaling out), e.g. 3 (default none)
  --bursts <k>              single notifications to all N sockets, one at a time (default 20)
  --burst-gap-ms <ms>       pause between two bursts (default 250)
  --rate <r>                sustained phase: notifications/s on the shared channel (default 50; 0 skips)
  --private-rate <r>        sustained phase: notifications/s to one socket's private channel (default 100)
  --duration <s>            sustained phase length (default 10)
  --client-procs <k>        load-generator processes (default: enough for --sockets-per-client, at least 2)
  --sockets-per-client <k>  most sockets one client process holds (default 10000; the limit is 20,000 files)
  --connect-concurrency <k> handshakes in flight at once, over all clients (default 256)
  --shared-channel <name>   channel string every socket subscribes to (default bench_shared)
  --settle-ms <ms>          wait before reading idle memory (default 3000)
  --repeat <k>              measure each (N, target) k times and report medians (default 1)
  --odoo-concurrency <k>    the sidecar's calls to (fake) Odoo in flight (default 16)
  --coalesce-ms <ms>        the sidecar's coalescing window (default: the sidecar's own, 5)
  --out <dir>               where results go (default bench-results/<date>)
  --no-build                run dist/main.js as it is (default: build it first)
  --cpu-prof                write a V8 CPU profile of the sidecar per run (into --out)
  --heap-snapshot           write a heap snapshot of the sidecar at idle with N sockets (into --out)
  --json                    print only the JSON result
  --report <result.json>    re-render summary.txt and latency.svg of a saved run (nothing measured)
  External target (e.g. Odoo's own gevent worker):
  --external-url <ws url>   ws://host:8072/websocket
  --external-cookie <c>     session_id=...: one session for every socket (default: bench sessions)
  --external-db <name>      the Odoo database (required with --external-url)
  --external-pg <url>       postgres://user:password@host:port where Odoo writes (required)
  --external-pid <pid>      the server's pid, for RSS and CPU
  --external-name <name>    label in the report (default odoo)
`;

function numbers(text: string, name: string): number[] {
  const values = text.split(',').map((part) => Number(part.trim().replaceAll('_', '')));
  if (values.some((v) => !Number.isFinite(v) || v < 0))
    throw new Error(`--${name}: expected numbers, got "${text}"`);
  return values;
}

function one(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const [value] = numbers(text, name);
  return value as number;
}

export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      n: { type: 'string' },
      targets: { type: 'string' },
      workers: { type: 'string' },
      instances: { type: 'string' },
      bursts: { type: 'string' },
      'burst-gap-ms': { type: 'string' },
      rate: { type: 'string' },
      'private-rate': { type: 'string' },
      duration: { type: 'string' },
      'client-procs': { type: 'string' },
      'sockets-per-client': { type: 'string' },
      'connect-concurrency': { type: 'string' },
      'shared-channel': { type: 'string' },
      'settle-ms': { type: 'string' },
      repeat: { type: 'string' },
      'odoo-concurrency': { type: 'string' },
      'coalesce-ms': { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'heap-snapshot': { type: 'boolean' },
      json: { type: 'boolean' },
      'external-url': { type: 'string' },
      'external-cookie': { type: 'string' },
      'external-db': { type: 'string' },
      'external-pg': { type: 'string' },
      'external-pid': { type: 'string' },
      'external-name': { type: 'string' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  let external: ExternalTarget | undefined;
  if (values['external-url'] !== undefined) {
    if (values['external-db'] === undefined || values['external-pg'] === undefined)
      throw new Error('--external-url needs --external-db and --external-pg');
    external = {
      name: values['external-name'] ?? 'odoo',
      url: values['external-url'],
      cookie: values['external-cookie'],
      database: values['external-db'],
      pg: values['external-pg'],
      pid: values['external-pid'] === undefined ? undefined : Number(values['external-pid']),
    };
  }
  const targets = values.targets?.split(',').map((t) => t.trim()) ?? [
    'reference',
    'sidecar',
    ...(external ? ['external'] : []),
  ];
  for (const target of targets) {
    if (!['reference', 'sidecar', 'external'].includes(target))
      throw new Error(`--targets: unknown target "${target}"`);
    if (target === 'external' && !external)
      throw new Error('--targets external needs --external-url');
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  return {
    sizes: numbers(values.n ?? '1000,5000,19500', 'n').map(Math.round),
    targets,
    workers: numbers(values.workers ?? '1', 'workers').map(Math.round),
    instances:
      values.instances === undefined ? [] : numbers(values.instances, 'instances').map(Math.round),
    bursts: one(values.bursts, 'bursts', 20),
    burstGapMs: one(values['burst-gap-ms'], 'burst-gap-ms', 250),
    rate: one(values.rate, 'rate', 50),
    privateRate: one(values['private-rate'], 'private-rate', 100),
    durationSeconds: one(values.duration, 'duration', 10),
    clientProcesses:
      values['client-procs'] === undefined ? undefined : one(values['client-procs'], 'c', 2),
    socketsPerClient: one(values['sockets-per-client'], 'sockets-per-client', 10_000),
    connectConcurrency: one(values['connect-concurrency'], 'connect-concurrency', 256),
    sharedChannel: values['shared-channel'] ?? 'bench_shared',
    settleMs: one(values['settle-ms'], 'settle-ms', 3000),
    repeat: Math.max(1, one(values.repeat, 'repeat', 1)),
    odooConcurrency: one(values['odoo-concurrency'], 'odoo-concurrency', 16),
    coalesceMs:
      values['coalesce-ms'] === undefined ? undefined : one(values['coalesce-ms'], 'coalesce', 5),
    out: values.out ?? `bench-results/${stamp}`,
    build: !values['no-build'],
    cpuProf: values['cpu-prof'] ?? false,
    heapSnapshot: values['heap-snapshot'] ?? false,
    external,
    json: values.json ?? false,
    report: values.report,
  };
}
