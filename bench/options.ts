/**
 * The benchmark's command line. Every option has a default that runs the whole comparison on a
 * fresh checkout; `--help` prints this list.
 */
import { parseArgs } from 'node:util';
import type { RealOdooOptions } from './realOdoo.js';
import type { StormKind } from './stormRun.js';

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
  connectRate: number;
  sharedChannel: string;
  settleMs: number;
  repeat: number;
  odooConcurrency: number;
  coalesceMs: number | undefined;
  out: string;
  build: boolean;
  cpuProf: boolean;
  heapSnapshot: boolean;
  /** Node/V8 flags the sidecar runs with; undefined: those of `npm start`. */
  sidecarNodeArgs: string[] | undefined;
  /** Extra environment of the sidecar's process (allocator settings and the like). */
  sidecarEnv: Record<string, string>;
  external: ExternalTarget | undefined;
  /** Subscribes authorized by a real Odoo instead of the fake one (`--odoo-url`). */
  odoo: RealOdooOptions | undefined;
  /** The sidecar's SIGTERM close window, s (undefined: its own with --storm, else 1). */
  shutdownWindowSeconds: number | undefined;
  /** Restarts of the sidecar after the other phases, in this order (`--storm sigterm,kill`). */
  storm: StormKind[];
  /** Idle memory is read this long after the last socket connected (at least `settleMs` after ready). */
  steadyAfterConnectMs: number;
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
  --connect-rate <r>        sockets connected per second at most, like users arriving (default 0: no pacing)
  --shared-channel <name>   channel string every socket subscribes to (default bench_shared)
  --settle-ms <ms>          wait before reading idle memory (default 3000)
  --repeat <k>              measure each (N, target) k times and report medians (default 1)
  --odoo-concurrency <k>    the sidecar's calls to (fake) Odoo in flight (default 16)
  --coalesce-ms <ms>        the sidecar's coalescing window (default: the sidecar's own, 5)
  --out <dir>               where results go (default bench-results/<date>)
  --no-build                run dist/main.js as it is (default: build it first)
  --sidecar-node-args=<a>   Node/V8 flags for the sidecar, e.g. --sidecar-node-args=--max-semi-space-size=1
                            (default: those of package.json's "start" script)
  --sidecar-env=<K=V,...>   environment of the sidecar's process beyond its settings (default
                            MALLOC_ARENA_MAX=2, as the image and the systemd unit run it)
  --cpu-prof                write a V8 CPU profile of the sidecar per run (into --out)
  --heap-snapshot           write a heap snapshot of the sidecar at idle with N sockets (into --out)
  --steady-ms <ms>          read idle memory this long after the last connect, without forcing a
                            garbage collection first (default 0; 60000 with --odoo-url)
  --storm <list>            sigterm and/or kill: once the sockets are subscribed and idle, signal the
                            sidecar (SIGTERM, or SIGKILL), start it again on the same port at once,
                            let the clients reconnect as Odoo's worker does (backoff and jitter, last
                            id) and measure until every one is subscribed again; needs --odoo-url
                            (its /web/webclient/version_info is sampled every 200 ms). The sidecar
                            then runs with its own shutdown window instead of the bench's 1 s
  --shutdown-window <s>     the sidecar's SIGTERM close window (default: 1, or its own with --storm)
  --json                    print only the JSON result
  --report <result.json>    re-render summary.txt and latency.svg of a saved run (nothing measured)
  A real Odoo instead of the fake one (the sidecar asks it to authorize every subscribe):
  --odoo-url <http url>     its HTTP workers, e.g. http://127.0.0.1:8069
  --odoo-db <name>          its database
  --odoo-config <file>      the odoo.conf the sidecar reads (database, LISTEN address, secret)
  --odoo-pg <url>           postgres://user:password@host:port where Odoo writes (its PgBouncer);
                            also where PostgreSQL's counters are read
  --odoo-users <k>          users <prefix>1..<prefix>k log in, password = login (default 200)
  --odoo-login-prefix <p>   (default bench)
  --odoo-password <p>       one password for every user instead
  --tabs <k>                sockets per session (default 4): N/k sessions, spread over the users
  --sessions-cache <file>   logged-in sessions kept between runs (default bench-results/odoo-sessions.json)
  External target (e.g. Odoo's own gevent worker; with --odoo-url it serves the same sessions):
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
      'connect-rate': { type: 'string' },
      'shared-channel': { type: 'string' },
      'settle-ms': { type: 'string' },
      repeat: { type: 'string' },
      'odoo-concurrency': { type: 'string' },
      'coalesce-ms': { type: 'string' },
      out: { type: 'string' },
      'no-build': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'sidecar-node-args': { type: 'string' },
      'sidecar-env': { type: 'string' },
      'heap-snapshot': { type: 'boolean' },
      json: { type: 'boolean' },
      'external-url': { type: 'string' },
      'external-cookie': { type: 'string' },
      'external-db': { type: 'string' },
      'external-pg': { type: 'string' },
      'external-pid': { type: 'string' },
      'external-name': { type: 'string' },
      report: { type: 'string' },
      'steady-ms': { type: 'string' },
      storm: { type: 'string' },
      'shutdown-window': { type: 'string' },
      'odoo-url': { type: 'string' },
      'odoo-db': { type: 'string' },
      'odoo-config': { type: 'string' },
      'odoo-pg': { type: 'string' },
      'odoo-users': { type: 'string' },
      'odoo-login-prefix': { type: 'string' },
      'odoo-password': { type: 'string' },
      tabs: { type: 'string' },
      'sessions-cache': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  let external: ExternalTarget | undefined;
  if (values['external-url'] !== undefined) {
    values['external-db'] ??= values['odoo-db'];
    values['external-pg'] ??= values['odoo-pg'];
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
  let odoo: RealOdooOptions | undefined;
  if (values['odoo-url'] !== undefined) {
    if (values['odoo-db'] === undefined || values['odoo-pg'] === undefined)
      throw new Error('--odoo-url needs --odoo-db and --odoo-pg');
    odoo = {
      url: values['odoo-url'].replace(/\/+$/, ''),
      database: values['odoo-db'],
      config: values['odoo-config'],
      pg: values['odoo-pg'],
      users: Math.max(1, one(values['odoo-users'], 'odoo-users', 200)),
      loginPrefix: values['odoo-login-prefix'] ?? 'bench',
      password: values['odoo-password'],
      tabs: Math.max(1, one(values.tabs, 'tabs', 4)),
      sessionsCache: values['sessions-cache'] ?? 'bench-results/odoo-sessions.json',
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
  const storm = (values.storm ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  for (const kind of storm)
    if (kind !== 'sigterm' && kind !== 'kill')
      throw new Error(`--storm: expected sigterm and/or kill, got "${kind}"`);
  if (storm.length > 0 && !odoo) throw new Error('--storm needs --odoo-url');
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
    connectRate: one(values['connect-rate'], 'connect-rate', 0),
    sharedChannel: values['shared-channel'] ?? 'bench_shared',
    settleMs: one(values['settle-ms'], 'settle-ms', 3000),
    repeat: Math.max(1, one(values.repeat, 'repeat', 1)),
    odooConcurrency: one(values['odoo-concurrency'], 'odoo-concurrency', 16),
    coalesceMs:
      values['coalesce-ms'] === undefined ? undefined : one(values['coalesce-ms'], 'coalesce', 5),
    out: values.out ?? `bench-results/${stamp}`,
    build: !values['no-build'],
    cpuProf: values['cpu-prof'] ?? false,
    sidecarEnv: Object.fromEntries(
      (values['sidecar-env'] ?? 'MALLOC_ARENA_MAX=2')
        .split(',')
        .filter((pair) => pair.includes('='))
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
    sidecarNodeArgs: values['sidecar-node-args']?.split(/\s+/).filter((a) => a !== ''),
    heapSnapshot: values['heap-snapshot'] ?? false,
    external,
    odoo,
    steadyAfterConnectMs: one(values['steady-ms'], 'steady-ms', odoo ? 60_000 : 0),
    storm: storm as StormKind[],
    shutdownWindowSeconds:
      values['shutdown-window'] === undefined
        ? undefined
        : one(values['shutdown-window'], 'shutdown-window', 1),
    json: values.json ?? false,
    report: values.report,
  };
}
