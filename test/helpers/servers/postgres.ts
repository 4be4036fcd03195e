/**
 * Throwaway PostgreSQL clusters for integration tests.
 *
 * Each `startPostgres()` copies the cached template (`postgresTemplate.ts`) into its own temp dir and
 * starts a server on a free port of 127.0.0.1, so test files never share state. Two roles exist:
 * `odoo` (superuser, what Odoo and the harness use) and `bus_sidecar` (the sidecar under test, not a
 * superuser), so `pg_stat_statements` can tell the sidecar's reads of `bus_bus` from everyone else's.
 * Servers run under a guard (`guardedProcess.ts`): no cluster survives the test process.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { handToServiceAccount } from '../fakeOdoo/serviceAccount.js';
import { fixturePath } from '../fixtures.js';
import { removeAbandonedDirs } from './abandonedDirs.js';
import type { GuardedProcess } from './guardedProcess.js';
import {
  HARNESS_APPLICATION_NAME,
  launchOnFreePort,
  launchPostgres,
  ODOO_ROLE,
  SIDECAR_ROLE,
  waitUntilAccepting,
} from './postgresServer.js';
import { ensureTemplate } from './postgresTemplate.js';

export { ODOO_ROLE, SIDECAR_ROLE } from './postgresServer.js';

const execFileAsync = promisify(execFile);

const PASSWORDS: Readonly<Record<string, string>> = {
  [ODOO_ROLE.user]: ODOO_ROLE.password,
  [SIDECAR_ROLE.user]: SIDECAR_ROLE.password,
};

export interface Backend {
  pid: number;
  usename: string | null;
  datname: string | null;
  query: string;
  state: string | null;
  application_name: string;
}

export interface PgCluster {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  /** The server's log (appended across restarts). */
  readonly logFile: string;
  /** Client settings for `database` as `user` (default `odoo`), over TCP with the role's password. */
  connection(database: string, user?: string): pg.ClientConfig;
  /** Runs `sql` as `odoo` on a small pool of harness connections; returns the rows. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    params?: unknown[],
  ): Promise<R[]>;
  /** A database laid out like Odoo's for the bus: `bus_bus`/`bus_presence` from the recordings. */
  createOdooDatabase(name: string): Promise<void>;
  /** Executions, counted by PostgreSQL, of statements that read `bus_bus` in `database` as `user`. */
  busReadCount(database: string, user?: string): Promise<number>;
  resetStatementStats(): Promise<void>;
  /** Client backends other than the harness's own (`includeHarness` to see those too). */
  backends(database?: string, options?: { includeHarness?: boolean }): Promise<Backend[]>;
  /** `pg_terminate_backend` for each pid; resolves with how many were terminated. */
  terminate(pids: readonly number[]): Promise<number>;
  /**
   * Stops (`fast`: clean; `immediate`: crash-like) and starts again on the same port and data.
   * `whileDown` runs once the server has exited and before it starts again: a test checks there
   * what must hold during an outage, without racing the restart.
   */
  restart(mode: 'fast' | 'immediate', options?: { whileDown?: () => Promise<void> }): Promise<void>;
  /**
   * Runs `during` while `role` may not log in (existing sessions go on), then allows it again: a
   * connection the test cuts stays down for as long as the test needs to look at the outage.
   */
  refusingLogins<T>(role: string, during: () => Promise<T>): Promise<T>;
  /** Stops the server and deletes its files. Idempotent. */
  stop(): Promise<void>;
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

// `\m`/`\M` are word boundaries, so `bus_bus_id_seq` does not count as a read of `bus_bus`.
const BUS_READ_COUNT_SQL = String.raw`
  SELECT coalesce(sum(s.calls), 0)::int8 AS calls
  FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
  JOIN pg_roles r ON r.oid = s.userid
  WHERE d.datname = $1 AND r.rolname = $2
    AND s.query ~* '\mbus_bus\M'
    AND s.query !~* '^\s*(insert|delete)\M'`;

const BACKENDS_SQL = `
  SELECT pid, usename, datname, query, state, application_name
  FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
    AND ($1::text IS NULL OR datname = $1)
    AND ($2::bool OR application_name NOT LIKE '${HARNESS_APPLICATION_NAME}%')
  ORDER BY pid`;

class ThrowawayCluster implements PgCluster {
  readonly host = '127.0.0.1';
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  private readonly pools = new Map<string, pg.Pool>();
  private stopping: Promise<void> | undefined;

  constructor(
    private server: GuardedProcess,
    readonly port: number,
    private readonly rootDir: string,
  ) {
    this.socketDir = rootDir;
    this.dataDir = join(rootDir, 'data');
    this.logFile = join(rootDir, 'postgresql.log');
  }

  connection(database: string, user: string = ODOO_ROLE.user): pg.ClientConfig {
    return { host: this.host, port: this.port, database, user, password: PASSWORDS[user] };
  }

  private pool(database: string): pg.Pool {
    let pool = this.pools.get(database);
    if (pool === undefined) {
      pool = new pg.Pool({
        ...this.connection(database),
        application_name: HARNESS_APPLICATION_NAME,
        max: 3,
        idleTimeoutMillis: 2_000,
        allowExitOnIdle: true,
      });
      // Idle harness connections die in restarts and terminate() tests; the pool drops them.
      pool.on('error', () => {});
      this.pools.set(database, pool);
    }
    return pool;
  }

  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    database: string,
    sql: string,
    params?: unknown[],
  ): Promise<R[]> {
    const result = await this.pool(database).query<R>(sql, params);
    return result.rows;
  }

  async createOdooDatabase(name: string): Promise<void> {
    await this.query('postgres', `CREATE DATABASE ${quoteIdent(name)} OWNER ${ODOO_ROLE.user}`);
    // A dedicated connection: the pg_dump preamble empties search_path for the session.
    const client = new pg.Client({
      ...this.connection(name),
      application_name: HARNESS_APPLICATION_NAME,
    });
    await client.connect();
    try {
      await client.query(await readFile(fixturePath('odoo17', 'schema-standalone.sql'), 'utf8'));
      await client.query(`
        GRANT SELECT ON public.bus_bus TO ${SIDECAR_ROLE.user};
        GRANT SELECT, USAGE ON SEQUENCE public.bus_bus_id_seq TO ${SIDECAR_ROLE.user};
        CREATE EXTENSION pg_stat_statements SCHEMA public;`);
    } finally {
      await client.end();
    }
  }

  async busReadCount(database: string, user: string = SIDECAR_ROLE.user): Promise<number> {
    const [row] = await this.query<{ calls: string }>('postgres', BUS_READ_COUNT_SQL, [
      database,
      user,
    ]);
    return Number(row?.calls ?? 0);
  }

  async resetStatementStats(): Promise<void> {
    await this.query('postgres', 'SELECT pg_stat_statements_reset()');
  }

  backends(database?: string, options: { includeHarness?: boolean } = {}): Promise<Backend[]> {
    return this.query<Backend>('postgres', BACKENDS_SQL, [
      database ?? null,
      options.includeHarness ?? false,
    ]);
  }

  async terminate(pids: readonly number[]): Promise<number> {
    const rows = await this.query<{ ok: boolean }>(
      'postgres',
      'SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid',
      [pids],
    );
    return rows.filter((row) => row.ok).length;
  }

  private async closePools(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.end().catch(() => {})));
  }

  async restart(
    mode: 'fast' | 'immediate',
    options: { whileDown?: () => Promise<void> } = {},
  ): Promise<void> {
    if (this.stopping !== undefined) throw new Error('cluster is stopped');
    await this.closePools();
    this.server.signal(mode === 'fast' ? 'INT' : 'QUIT');
    await this.server.waitForExit();
    let failure: unknown;
    try {
      await options.whileDown?.();
    } catch (error) {
      // Started again all the same: the other tests of the file need the server.
      failure = error;
    }
    const launch = {
      dataDir: this.dataDir,
      port: this.port,
      socketDir: this.socketDir,
      logFile: this.logFile,
    };
    this.server = await launchPostgres(launch);
    await waitUntilAccepting(this.server, launch);
    if (failure !== undefined) throw failure;
  }

  async refusingLogins<T>(role: string, during: () => Promise<T>): Promise<T> {
    await this.query('postgres', `ALTER ROLE ${quoteIdent(role)} NOLOGIN`);
    try {
      return await during();
    } finally {
      await this.query('postgres', `ALTER ROLE ${quoteIdent(role)} LOGIN`);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.closePools();
      // The data is thrown away: no need for a clean shutdown.
      this.server.signal('QUIT');
      await this.server.waitForExit();
      await rm(this.rootDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

const CLUSTER_DIR_PREFIX = 'odoo-bus-sidecar-cluster-';

let sweep: Promise<void> | undefined;

/** Starts a fresh cluster (template copy, free port). Call `stop()` when done. */
export async function startPostgres(): Promise<PgCluster> {
  sweep ??= removeAbandonedDirs(CLUSTER_DIR_PREFIX, 'data/postmaster.pid').catch(() => {});
  await sweep;
  const template = await ensureTemplate();
  const rootDir = await mkdtemp(join(tmpdir(), CLUSTER_DIR_PREFIX));
  try {
    await handToServiceAccount(rootDir);
    const dataDir = join(rootDir, 'data');
    // `cp -a` keeps the owner (the service account) and the 0700 mode PostgreSQL insists on.
    await execFileAsync('cp', ['-a', template, dataDir]);
    const { server, port } = await launchOnFreePort({
      dataDir,
      socketDir: rootDir,
      logFile: join(rootDir, 'postgresql.log'),
    });
    return new ThrowawayCluster(server, port, rootDir);
  } catch (error) {
    await rm(rootDir, { recursive: true, force: true });
    throw error;
  }
}
