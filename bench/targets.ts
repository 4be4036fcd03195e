/**
 * The servers measured, each as its own process so that its RSS and CPU are its own:
 * - `sidecar`: `node dist/main.js`, reads through PgBouncer, LISTEN directly, subscriptions decided
 *   by the bench fake Odoo; notifications written and notified as Odoo does;
 * - `reference`: the bare `ws` server with its pre-framed write loop (`reference.ts`), driven over
 *   IPC: the physical floor;
 * - `external`: any endpoint speaking Odoo's websocket protocol (Odoo's own gevent worker), fed by
 *   the same Odoo-style writes into its database.
 * `publish` resolves with the moment latency is measured from: the COMMIT's acknowledgement for
 * database-backed targets, the start of the write loop for the reference.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { metricValue } from '../test/helpers/clients/metricsText.js';
import { createOdooWriter, type OdooWriter } from '../test/helpers/fakeOdoo/odooWriter.js';
import { startNginx } from '../test/helpers/servers/nginx.js';
import { freePort } from '../test/helpers/servers/ports.js';
import { sleep } from '../test/helpers/waitFor.js';
import { type Child, forkBench, killOnExit } from './children.js';
import { type Environment, PgStats, SIDECAR_DB_ROLE } from './environment.js';
import { collectGarbage, type MemoryBreakdown, memoryBreakdown } from './inspector.js';
import type { ExternalTarget } from './options.js';
import { childrenOf } from './proc.js';
import {
  BENCH_MESSAGE_TYPE,
  benchSid,
  nowUs,
  partnerOfSid,
  type ReferenceCommand,
  type ReferenceReply,
} from './protocol.js';

export interface FloodResult {
  starts: Array<[number, number]>;
  writes: number;
  elapsedUs: number;
  cpuUs: number;
}

export interface TargetProcess {
  name: string;
  pid: number;
  /** Open websockets, from the process's own metrics. */
  sockets?: number;
}

export interface RunningTarget {
  /** Label in the report: `reference`, `sidecar`, `sidecar×2`, `odoo`. */
  label: string;
  kind: 'reference' | 'sidecar' | 'external';
  host: string;
  port: number;
  path: string;
  hostHeader: string;
  origin: string;
  /** One cookie for every socket, or undefined for one bench session per socket. */
  cookie: string | undefined;
  /** Real Odoo sessions, several sockets (tabs) each: socket i uses `sessions[i % length]`. */
  sessions?: string[];
  /** Server process, and whether its children (cluster workers) count too. */
  pid: number | undefined;
  withChildren: boolean;
  /**
   * Every process of the target, when it is more than one: RSS and CPU are summed over them and
   * each is also reported on its own, with the sockets it holds when it can say.
   */
  processes?(): Promise<TargetProcess[]>;
  /** Reference only: duration of each broadcast's write loop, µs. */
  loopDurationsUs?: number[];
  /** Per write: from the COMMIT's acknowledgement to the NOTIFY's (Odoo's own delay), µs. */
  notifyDelaysUs?: number[];
  /** One notification on the shared channel; resolves with its commit (or loop start) time, µs. */
  publishShared(seq: number): Promise<number>;
  /** One notification to socket `index`'s private channel (bench sessions only). */
  publishPrivate?(seq: number, index: number): Promise<number>;
  /** Reference only: write loops back to back. */
  flood?(firstSeq: number, durationMs: number): Promise<FloodResult>;
  /** Reads of `bus_bus` by this target so far, counted by PostgreSQL. */
  busReads?(): Promise<number | undefined>;
  /** PostgreSQL connections this target holds, by application name. */
  pgConnections?(): Promise<Record<string, number> | undefined>;
  /**
   * Sidecar only: signals the process, starts it again with the same settings as soon as it has
   * exited, and resolves once the new one is ready (times from the signal, ms).
   */
  restart?(signal: 'SIGTERM' | 'SIGKILL'): Promise<{ exitedMs: number; readyMs: number }>;
  /** The sidecar's Prometheus text. */
  metricsText?(): Promise<string>;
  /** Files for `--cpu-prof` / `--heap-snapshot`. */
  diagnosticsDir?: string;
  /** A full garbage collection in the server process(es), before memory is read. */
  collectGarbage?(): Promise<void>;
  /** V8's and Node's view of the server's memory (single process only), collecting nothing. */
  memoryBreakdown?(): Promise<MemoryBreakdown | undefined>;
  /** Asks for a heap snapshot (sidecar started with `--heap-snapshot`). */
  heapSnapshot?(): Promise<void>;
  stop(): Promise<void>;
}

const repoRoot = resolve(import.meta.dirname, '..');

/** A real Odoo's sessions, for the sockets' cookies and their partners' private channels. */
export interface RealSessions {
  sids: string[];
  partnerOfSocket: (index: number) => number;
}

function dbPublisher(
  writer: OdooWriter,
  sharedChannel: string,
  partnerOfSocket: (index: number) => number = (index) => partnerOfSid(benchSid(index)),
): Pick<RunningTarget, 'publishShared' | 'publishPrivate' | 'notifyDelaysUs'> {
  const notifyDelaysUs: number[] = [];
  const write = async (channel: string | [string, number], seq: number): Promise<number> => {
    let committed = 0;
    await writer.sendmany(
      [{ channel, type: BENCH_MESSAGE_TYPE, payload: { s: seq, t: Math.round(nowUs()) } }],
      {
        onCommitted: () => {
          committed = nowUs();
        },
      },
    );
    notifyDelaysUs.push(nowUs() - committed);
    return committed;
  };
  return {
    notifyDelaysUs,
    publishShared: (seq) => write(sharedChannel, seq),
    publishPrivate: (seq, index) => write(['res.partner', partnerOfSocket(index)], seq),
  };
}

/** Where the load generator reaches a server this benchmark started on loopback. */
function localEndpoint(port: number) {
  return {
    host: '127.0.0.1',
    port,
    path: '/websocket',
    hostHeader: `127.0.0.1:${port}`,
    origin: `http://127.0.0.1:${port}`,
    cookie: undefined,
  };
}

// --- reference ----------------------------------------------------------------------------------

export async function startReference(
  diagnosticsDir: string | undefined,
  heapSnapshot: boolean,
): Promise<RunningTarget> {
  const inspectPort = await freePort();
  const nodeArgs = [
    `--inspect=127.0.0.1:${inspectPort}`,
    ...(diagnosticsDir && heapSnapshot
      ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${diagnosticsDir}`]
      : []),
  ];
  const child = forkBench<ReferenceCommand, ReferenceReply>('reference', {
    name: 'reference',
    nodeArgs,
  });
  const { port } = await child.next('listening', 30_000);
  let busy: Promise<unknown> = Promise.resolve();
  const loopDurationsUs: number[] = [];
  // One command at a time: replies carry no correlation id.
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = busy.then(task, task);
    busy = run.catch(() => undefined);
    return run;
  };
  return {
    label: 'reference',
    kind: 'reference',
    ...localEndpoint(port),
    pid: child.pid,
    withChildren: false,
    loopDurationsUs,
    publishShared: (seq) =>
      serial(async () => {
        const reply = await child.request({ type: 'broadcast', seq }, 'broadcast');
        loopDurationsUs.push(reply.loopUs);
        return reply.startUs;
      }),
    flood: (firstSeq, durationMs) =>
      serial(() => child.request({ type: 'flood', firstSeq, durationMs }, 'flood')),
    diagnosticsDir,
    async collectGarbage() {
      await collectGarbage(inspectPort);
    },
    async heapSnapshot() {
      process.kill(child.pid, 'SIGUSR2');
      await serial(async () => {
        // The snapshot blocks the process; a broadcast is answered once it is written.
        await sleep(1000);
      });
    },
    stop: () => child.stop(),
  };
}

// --- sidecar ------------------------------------------------------------------------------------

/** The database side of a sidecar run against a real Odoo: its odoo.conf says where things are. */
export interface RealDatabase {
  odooConfig: string | undefined;
  writer: OdooWriter;
  stats: PgStats;
  sessions: RealSessions;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** The first of `count` consecutive free ports. */
async function freePortRun(count: number): Promise<number> {
  for (;;) {
    const first = await freePort();
    let free = true;
    for (let i = 1; i < count && free; i++) free = await portIsFree(first + i);
    if (free) return first;
  }
}

export interface SidecarLaunch {
  env: Environment | undefined;
  real: RealDatabase | undefined;
  odooUrl: string;
  workers: number;
  sharedChannel: string;
  odooConcurrency: number;
  coalesceMs: number | undefined;
  logFile: string;
  diagnosticsDir: string | undefined;
  cpuProf: boolean;
  heapSnapshot: boolean;
  /** Node/V8 flags, as the deployment starts it (`npm start`). */
  nodeArgs: string[];
  /** Extra environment (allocator settings and the like). */
  extraEnv: Record<string, string>;
  /** SIGTERM's close window, s (undefined: the sidecar's default). */
  shutdownWindowSeconds: number | undefined;
}

export async function startSidecar(launch: SidecarLaunch): Promise<RunningTarget> {
  const { env } = launch;
  const port = await freePort();
  const adminPort = await freePort();
  // The inspector lets the benchmark force a garbage collection before reading idle memory; cluster
  // workers get the following ports, which must be free too (else a worker runs without one and
  // its memory is read uncollected).
  const inspectPort = await freePortRun(launch.workers > 1 ? launch.workers + 1 : 1);
  const nodeArgs: string[] = [...launch.nodeArgs, `--inspect=127.0.0.1:${inspectPort}`];
  if (launch.diagnosticsDir && launch.cpuProf)
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${launch.diagnosticsDir}`);
  if (launch.diagnosticsDir && launch.heapSnapshot)
    nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${launch.diagnosticsDir}`);
  const { real } = launch;
  // Against a real Odoo, its odoo.conf gives the database, the LISTEN address, the secret and
  // the workers (the sidecar's calls to Odoo stay below them), as in a deployment.
  const database: Record<string, string> = env
    ? {
        DB_HOST: env.bouncer.host,
        DB_PORT: String(env.bouncer.port),
        IMDISPATCHER_DB_HOST: env.pg.host,
        IMDISPATCHER_DB_PORT: String(env.pg.port),
        DB_USER: SIDECAR_DB_ROLE.user,
        DB_PASSWORD: SIDECAR_DB_ROLE.password,
        SIDECAR_DB_NAME: env.database,
        SIDECAR_ODOO_VERSION: '17',
        SIDECAR_ODOO_CONCURRENCY: String(launch.odooConcurrency),
      }
    : real?.odooConfig
      ? { ODOO_RC: real.odooConfig }
      : {};
  const settings: Record<string, string> = {
    SIDECAR_HOST: '127.0.0.1',
    SIDECAR_PORT: String(port),
    SIDECAR_ADMIN_PORT: String(adminPort),
    ...database,
    SIDECAR_ODOO_URL: launch.odooUrl,
    // Every simulated browser connects from 127.x addresses: the per-address caps and shares
    // would treat thousands of them as a few clients.
    SIDECAR_ODOO_SLOTS_PER_ADDRESS: String(launch.odooConcurrency),
    SIDECAR_ODOO_QUEUE_PER_ADDRESS: '1000000',
    SIDECAR_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    SIDECAR_MAX_SUBSCRIBED_BYTES_PER_ADDRESS: String(2 ** 40),
    SIDECAR_WORKERS: String(launch.workers),
    // A short window keeps the benchmark's stops quick; a storm measures the sidecar's own.
    ...(launch.shutdownWindowSeconds === undefined
      ? {}
      : { SIDECAR_SHUTDOWN_WINDOW: String(launch.shutdownWindowSeconds) }),
    SIDECAR_LOG_LEVEL: 'warn',
  };
  if (launch.coalesceMs !== undefined) settings.SIDECAR_COALESCE_MS = String(launch.coalesceMs);
  // Only the settings above: nothing from the caller's environment leaks into the measured sidecar.
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...launch.extraEnv, ...settings };
  const spawnSidecar = async (): Promise<ChildProcess> => {
    const log = await open(launch.logFile, 'a');
    try {
      const spawned = spawn(process.execPath, [...nodeArgs, join(repoRoot, 'dist', 'main.js')], {
        env: childEnv,
        stdio: ['ignore', log.fd, log.fd],
      });
      killOnExit(spawned);
      return spawned;
    } finally {
      await log.close();
    }
  };
  // Readiness and metrics are on the admin port.
  const base = `http://127.0.0.1:${adminPort}`;
  const whenReady = async (started: ChildProcess): Promise<void> => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (started.exitCode !== null)
        throw new Error(`the sidecar exited at start; see ${launch.logFile}`);
      const ready = await fetch(`${base}/readyz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline)
        throw new Error(`the sidecar never became ready; see ${launch.logFile}`);
      await sleep(50);
    }
  };
  let child = await spawnSidecar();
  let exited = new Promise<void>((done) => child.once('exit', () => done()));
  await whenReady(child);
  const stats = env ? PgStats.forCluster(env.pg, env.database) : (real as RealDatabase).stats;
  const pid = child.pid ?? 0;
  return {
    label: launch.workers > 1 ? `sidecar×${launch.workers}` : 'sidecar',
    kind: 'sidecar',
    ...localEndpoint(port),
    sessions: real?.sessions.sids,
    pid,
    withChildren: launch.workers > 1,
    ...(launch.workers > 1
      ? {
          processes: async () => [
            { name: 'primary', pid },
            ...childrenOf(pid).map((worker, i) => ({ name: `worker ${i + 1}`, pid: worker })),
          ],
        }
      : {}),
    ...(env
      ? dbPublisher(env.writer, launch.sharedChannel)
      : dbPublisher(
          (real as RealDatabase).writer,
          launch.sharedChannel,
          (real as RealDatabase).sessions.partnerOfSocket,
        )),
    // Against a real Odoo every read of bus_bus counts (Odoo's own and the sidecar's, one role).
    busReads: () => stats.busReads(env ? SIDECAR_DB_ROLE.user : undefined),
    pgConnections: () =>
      env
        ? stats.connections({ role: SIDECAR_DB_ROLE.user })
        : stats.connections({ applicationName: 'odoo-bus-sidecar%' }),
    metricsText: () => fetch(`${base}/metrics`).then((r) => r.text()),
    diagnosticsDir: launch.diagnosticsDir,
    memoryBreakdown: () =>
      launch.workers <= 1 ? memoryBreakdown(inspectPort) : Promise.resolve(undefined),
    async collectGarbage() {
      if (launch.workers <= 1) await collectGarbage(inspectPort);
      else for (let i = 1; i <= launch.workers; i++) await collectGarbage(inspectPort + i);
    },
    async heapSnapshot() {
      const pids = launch.workers > 1 ? childrenOf(pid) : [pid];
      for (const p of pids) process.kill(p, 'SIGUSR2');
      // Writing a snapshot of a large heap blocks the process for a while.
      await sleep(1000);
      for (let i = 0; i < 600; i++) {
        const ok = await fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        await sleep(100);
      }
    },
    async restart(signal) {
      const signalledUs = nowUs();
      child.kill(signal);
      await exited;
      const exitedUs = nowUs();
      // Started again at once on the same port and admin port, as a supervisor does.
      child = await spawnSidecar();
      const current = child;
      exited = new Promise<void>((done) => current.once('exit', () => done()));
      await whenReady(current);
      return { exitedMs: (exitedUs - signalledUs) / 1000, readyMs: (nowUs() - signalledUs) / 1000 };
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

// --- several sidecars behind nginx --------------------------------------------------------------

/** Sockets one nginx worker is given at most: two descriptors each, under 20,000 open files. */
const SOCKETS_PER_NGINX_WORKER = 6000;

/**
 * Scaling out as deployed: `instances` sidecar processes, each its own LISTEN and reads (as on
 * separate hosts), behind nginx running `deploy/nginx.conf` with all of them in its upstream.
 * nginx gets enough workers that each stays under the open-file cap for `n` proxied sockets.
 */
export async function startSidecarFleet(
  launch: SidecarLaunch,
  instances: number,
  n: number,
): Promise<RunningTarget> {
  const sidecars: RunningTarget[] = [];
  try {
    for (let i = 0; i < instances; i++) {
      sidecars.push(
        await startSidecar({
          ...launch,
          workers: 1,
          logFile: launch.logFile.replace(/\.log$/, `-${i + 1}.log`),
        }),
      );
    }
    const nginx = await startNginx({
      sidecar: sidecars.map((s) => `${s.host}:${s.port}`),
      odoo: new URL(launch.odooUrl).host,
      workerProcesses: Math.max(2, Math.ceil(n / SOCKETS_PER_NGINX_WORKER)),
    });
    const first = sidecars[0] as RunningTarget;
    const port = Number(new URL(nginx.origins[0] as string).port);
    return {
      ...first,
      label: `nginx+sidecar×${instances}`,
      ...localEndpoint(port),
      pid: undefined,
      withChildren: false,
      async processes() {
        const own = await Promise.all(
          sidecars.map(async (s, i) => ({
            name: `sidecar ${i + 1}`,
            pid: s.pid as number,
            sockets: await s
              .metricsText?.()
              .then((text) => metricValue(text, 'odoo_bus_sidecar_ws_connections'))
              .catch(() => undefined),
          })),
        );
        return [
          ...own,
          { name: 'nginx master', pid: nginx.pid },
          ...childrenOf(nginx.pid).map((pid, i) => ({ name: `nginx worker ${i + 1}`, pid })),
        ];
      },
      async collectGarbage() {
        for (const s of sidecars) await s.collectGarbage?.();
      },
      async heapSnapshot() {
        for (const s of sidecars) await s.heapSnapshot?.();
      },
      async stop() {
        await nginx.stop();
        for (const s of sidecars) await s.stop();
      },
    };
  } catch (error) {
    for (const s of sidecars) await s.stop();
    throw error;
  }
}

// --- external -----------------------------------------------------------------------------------

export async function startExternal(
  target: ExternalTarget,
  sharedChannel: string,
  sessions?: RealSessions,
): Promise<RunningTarget> {
  const url = new URL(target.url);
  const pgUrl = new URL(target.pg);
  const connection = {
    host: pgUrl.hostname,
    port: Number(pgUrl.port || 5432),
    user: decodeURIComponent(pgUrl.username || 'odoo'),
    password: decodeURIComponent(pgUrl.password || ''),
  };
  const writer = createOdooWriter({
    ...connection,
    database: target.database,
    notifyConnection: 'pooled',
  });
  const stats = new PgStats({ ...connection, database: target.database }, target.database);
  const port = Number(url.port || (url.protocol === 'wss:' ? 443 : 80));
  const publisher = dbPublisher(writer, sharedChannel, sessions?.partnerOfSocket);
  return {
    label: target.name,
    kind: 'external',
    host: url.hostname,
    port,
    path: `${url.pathname}${url.search}`,
    hostHeader: url.host,
    origin: `${url.protocol === 'wss:' ? 'https' : 'http'}://${url.host}`,
    cookie: target.cookie,
    sessions: sessions?.sids,
    pid: target.pid,
    withChildren: false,
    // Without real sessions, private channels are the bench fake Odoo's partners: an external
    // Odoo knows nothing of them.
    publishShared: publisher.publishShared,
    ...(sessions ? { publishPrivate: publisher.publishPrivate } : {}),
    notifyDelaysUs: publisher.notifyDelaysUs,
    busReads: () => stats.busReads(undefined),
    pgConnections: () =>
      stats.connections(
        target.pid === undefined
          ? { role: connection.user }
          : { applicationName: `odoo-${target.pid}` },
      ),
    stop: () => writer.close(),
  };
}

export type { Child };
