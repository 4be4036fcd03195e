/**
 * `npm run bench -- [options]`: the benchmark of odoo-bus-sidecar (see `options.ts` for the options
 * and README § Benchmark for what is measured and why).
 *
 * For each N, the targets run one after the other on the same load generator: the reference server
 * first (the physical floor of this machine), then the sidecar (one per `--workers` value), then an
 * external endpoint if given. Each target is a fresh process per N. Results go to `--out` as
 * `result.json`, `summary.txt` and `latency.svg`; the summary is printed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createOdooWriter } from '../test/helpers/fakeOdoo/odooWriter.js';
import { latencyChart } from './chart.js';
import { type Child, forkBench } from './children.js';
import { type Environment, PgStats, startEnvironment } from './environment.js';
import { Fleet } from './fleet.js';
import { measure, type RunResult } from './measure.js';
import { type BenchOptions, parseOptions, USAGE } from './options.js';
import { openFileLimit } from './proc.js';
import type { FakeOdooCommand, FakeOdooReply } from './protocol.js';
import { odooSessions, sessionOfSocket } from './realOdoo.js';
import { type BenchResult, compare, humanSummary, medianRun } from './report.js';
import { runStorm } from './stormRun.js';
import {
  type RealDatabase,
  type RealSessions,
  type RunningTarget,
  type SidecarLaunch,
  startExternal,
  startReference,
  startSidecar,
  startSidecarFleet,
} from './targets.js';

const DATABASE = 'bench';
const repoRoot = resolve(import.meta.dirname, '..');

function machine(): BenchResult['machine'] {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.versions.node,
    openFileLimit: openFileLimit(),
  };
}

/** What stopped N from going higher, from the runs' own evidence. */
function limitsOf(runs: readonly RunResult[]): string[] {
  const limits: string[] = [];
  for (const run of runs) {
    if (run.connect.failed > 0 || run.connect.ready < run.n) {
      limits.push(
        `${run.target} at N=${run.n}: ${run.connect.ok} connected, ${run.connect.ready} ready; errors ${JSON.stringify(run.connect.errors)}; server open files ${run.limits.serverOpenFiles ?? '?'} of ${run.limits.openFileLimit ?? '?'}`,
      );
    }
  }
  const largest = Math.max(...runs.map((r) => r.n));
  for (const run of runs.filter((r) => r.n === largest && r.limits.serverOpenFiles !== undefined)) {
    const files = run.limits.serverOpenFiles as number;
    const limit = run.limits.openFileLimit;
    if (run.target.includes('×')) {
      limits.push(`${run.target} at N=${run.n}: ${files} open files in its busiest process`);
      continue;
    }
    const own = files - run.connect.ok;
    limits.push(
      `${run.target} at N=${run.n}: ${files} open files, ${own} of them not client sockets (listening socket, PostgreSQL, keep-alive connections to Odoo, inspector, stdio)` +
        (limit === undefined
          ? ''
          : `; with ${limit} open files per process (not raisable here) one process holds at most ${limit - own} sockets`),
    );
  }
  return limits;
}

/** The Node/V8 flags of package.json's `start` script: the sidecar measured as it is run. */
function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const words = (pkg.scripts?.start ?? '').split(/\s+/);
  return words.slice(1).filter((word) => word.startsWith('--'));
}

function largestOf(sizes: readonly number[]): number {
  return Math.max(...sizes);
}

async function build(): Promise<void> {
  execFileSync(
    process.execPath,
    [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: repoRoot,
      stdio: 'inherit',
    },
  );
  // What `npm run build` copies besides tsc's output: the status page reads its assets at start.
  cpSync(
    join(repoRoot, 'src/observability/status/assets'),
    join(repoRoot, 'dist/observability/status/assets'),
    { recursive: true },
  );
}

function chartTitle(result: BenchResult): string {
  return `One notification to N sockets — ${result.machine.cpus} cores, ${result.startedAt.slice(0, 10)}`;
}

async function rerender(file: string): Promise<void> {
  const result = JSON.parse(await readFile(file, 'utf8')) as BenchResult;
  result.comparisons = compare(result.runs);
  result.limits = limitsOf(result.runs);
  const dir = dirname(file);
  await writeFile(join(dir, 'summary.txt'), `${humanSummary(result)}\n`);
  await writeFile(join(dir, 'latency.svg'), latencyChart(result.runs, chartTitle(result)));
  process.stdout.write(`${humanSummary(result)}\n`);
}

async function main(): Promise<void> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const o = options;
  if (o.report !== undefined) {
    await rerender(resolve(o.report));
    return;
  }
  const log = (line: string) => {
    if (!o.json) process.stderr.write(`${line}\n`);
  };
  const out = resolve(repoRoot, o.out);
  await mkdir(out, { recursive: true });
  const startedAt = new Date().toISOString();
  if (o.build && o.targets.includes('sidecar')) {
    log('building the sidecar (dist/)');
    await build();
  }

  const needsDatabase = o.targets.includes('sidecar');
  let env: Environment | undefined;
  let fakeOdoo: Child<FakeOdooCommand, FakeOdooReply> | undefined;
  let odooUrl = '';
  let real: RealDatabase | undefined;
  let sessions: RealSessions | undefined;
  let statsFlushMs = 0;
  if (o.odoo) {
    // A real Odoo: its sessions for every target, its database for the writes and the counters.
    const tabs = o.odoo.tabs;
    const list = await odooSessions(
      { ...o.odoo, sessionsCache: resolve(repoRoot, o.odoo.sessionsCache) },
      Math.ceil(largestOf(o.sizes) / tabs),
      log,
    );
    sessions = {
      sids: list.map((s) => s.sid),
      partnerOfSocket: (index) => sessionOfSocket(list, index).partnerId,
    };
    const pgUrl = new URL(o.odoo.pg);
    const connection = {
      host: pgUrl.hostname,
      port: Number(pgUrl.port || 5432),
      user: decodeURIComponent(pgUrl.username || 'odoo'),
      password: decodeURIComponent(pgUrl.password || ''),
    };
    const stats = new PgStats({ ...connection, database: o.odoo.database }, o.odoo.database);
    if (!(await stats.hasStatements())) {
      log('no pg_stat_statements in that database: bus_bus reads are counted as table scans');
      statsFlushMs = 11_000;
    }
    real = {
      odooConfig: o.odoo.config === undefined ? undefined : resolve(o.odoo.config),
      writer: createOdooWriter({
        ...connection,
        database: o.odoo.database,
        notifyConnection: 'pooled',
      }),
      stats,
      sessions,
    };
    odooUrl = o.odoo.url;
  } else if (needsDatabase) {
    log('starting PostgreSQL (pg_stat_statements) and PgBouncer (transaction mode)');
    env = await startEnvironment(DATABASE);
    fakeOdoo = forkBench<FakeOdooCommand, FakeOdooReply>('fakeOdoo', {
      env: { BENCH_DB: DATABASE },
      name: 'fake Odoo',
    });
    const { port } = await fakeOdoo.next('listening', 30_000);
    odooUrl = `http://127.0.0.1:${port}`;
  }

  const largest = largestOf(o.sizes);
  const clientCount = o.clientProcesses ?? Math.max(2, Math.ceil(largest / o.socketsPerClient));
  log(`load generator: ${clientCount} client processes`);
  const fleet = new Fleet(clientCount);

  const runs: RunResult[] = [];
  const results: BenchResult = {
    startedAt,
    machine: machine(),
    options: {
      ...o,
      external: o.external
        ? { ...o.external, cookie: o.external.cookie ? '[set]' : undefined }
        : undefined,
    },
    runs,
    comparisons: [],
    limits: [],
  };
  const save = async () => {
    results.comparisons = compare(runs);
    results.limits = limitsOf(runs);
    await writeFile(join(out, 'result.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(out, 'summary.txt'), `${humanSummary(results)}\n`);
    await writeFile(join(out, 'latency.svg'), latencyChart(runs, chartTitle(results)));
  };

  const launches: Array<{ name: string; start: (n: number) => Promise<RunningTarget> }> = [];
  const sidecarLaunch = (workers: number): SidecarLaunch => ({
    env,
    real,
    odooUrl,
    workers,
    sharedChannel: o.sharedChannel,
    odooConcurrency: o.odooConcurrency,
    coalesceMs: o.coalesceMs,
    logFile: join(out, 'sidecar.log'),
    diagnosticsDir: o.cpuProf || o.heapSnapshot ? out : undefined,
    cpuProf: o.cpuProf,
    heapSnapshot: o.heapSnapshot,
    nodeArgs: o.sidecarNodeArgs ?? startFlags(),
    extraEnv: o.sidecarEnv,
    shutdownWindowSeconds: o.shutdownWindowSeconds ?? (o.storm.length > 0 ? undefined : 1),
  });
  for (const target of o.targets) {
    if (target === 'reference') {
      launches.push({
        name: 'reference',
        start: () => startReference(o.heapSnapshot ? out : undefined, o.heapSnapshot),
      });
    }
    if (target === 'sidecar') {
      for (const workers of o.workers) {
        launches.push({
          name: workers > 1 ? `sidecar×${workers}` : 'sidecar',
          start: () => startSidecar(sidecarLaunch(workers)),
        });
      }
      for (const instances of o.instances) {
        launches.push({
          name: `nginx+sidecar×${instances}`,
          start: (n) => startSidecarFleet(sidecarLaunch(1), instances, n),
        });
      }
    }
    if (target === 'external' && o.external) {
      const external = o.external;
      launches.push({
        name: external.name,
        start: () => startExternal(external, o.sharedChannel, sessions),
      });
    }
  }

  try {
    for (const n of o.sizes) {
      // Repetitions interleave the targets, so that a change in the machine's load (other users)
      // falls on all of them alike; each figure is the median over the repetitions.
      const repeats = launches.map(() => [] as RunResult[]);
      for (let r = 0; r < o.repeat; r++) {
        for (const [index, launch] of launches.entries()) {
          log(`N=${n} ${launch.name}${o.repeat > 1 ? ` (run ${r + 1}/${o.repeat})` : ''}`);
          const target = await launch.start(n);
          try {
            const run = await measure(target, fleet, {
              n,
              bursts: o.bursts,
              burstGapMs: o.burstGapMs,
              rate: o.rate,
              privateRate: o.privateRate,
              durationSeconds: o.durationSeconds,
              settleMs: o.settleMs,
              sharedChannel: o.sharedChannel,
              connectConcurrency: o.connectConcurrency,
              connectRate: o.connectRate,
              heapSnapshot: o.heapSnapshot,
              steadyAfterConnectMs: o.steadyAfterConnectMs,
              statsFlushMs,
              readyTimeoutMs: o.odoo ? 900_000 : 120_000,
              log,
            });
            if (o.storm.length > 0 && target.restart !== undefined) {
              run.storms = [];
              for (const kind of o.storm) {
                run.storms.push(
                  await runStorm(target, fleet, {
                    kind,
                    odooUrl,
                    sampleEveryMs: 200,
                    beforeMs: 10_000,
                    publishEveryMs: 250,
                    timeoutMs: 600_000,
                    log,
                  }),
                );
                await save();
              }
            }
            repeats[index]?.push(run);
          } finally {
            await fleet.closeAll();
            await target.stop();
          }
        }
      }
      for (const list of repeats) if (list.length > 0) runs.push(medianRun(list));
      await save();
    }
  } finally {
    await fleet.stop();
    await fakeOdoo?.stop();
    await env?.close();
    await real?.writer.close();
  }
  await save();
  if (o.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else process.stdout.write(`${humanSummary(results)}\n\nresults: ${out}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
