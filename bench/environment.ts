/**
 * The database side of the benchmark, from the test harness: a throwaway PostgreSQL cluster with
 * `pg_stat_statements`, an Odoo database laid out like Odoo's, PgBouncer in transaction mode from
 * `deploy/pgbouncer.ini`, and a writer that inserts and notifies exactly as Odoo does, through
 * PgBouncer. Also the counters PostgreSQL keeps: reads of `bus_bus` and connections held.
 */
import pg from 'pg';
import { createOdooWriter, type OdooWriter } from '../test/helpers/fakeOdoo/odooWriter.js';
import { type PgBouncer, startPgBouncer } from '../test/helpers/servers/pgbouncer.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from '../test/helpers/servers/postgres.js';

export interface Environment {
  pg: PgCluster;
  bouncer: PgBouncer;
  database: string;
  writer: OdooWriter;
  close(): Promise<void>;
}

export async function startEnvironment(database: string): Promise<Environment> {
  const cluster = await startPostgres();
  try {
    await cluster.createOdooDatabase(database);
    const bouncer = await startPgBouncer(cluster);
    const writer = createOdooWriter({
      host: bouncer.host,
      port: bouncer.port,
      database,
      notifyConnection: 'pooled',
    });
    return {
      pg: cluster,
      bouncer,
      database,
      writer,
      async close() {
        await writer.close().catch(() => undefined);
        await bouncer.stop().catch(() => undefined);
        await cluster.stop();
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

// `\m`/`\M` are word boundaries, so `bus_bus_id_seq` does not count as a read of `bus_bus`.
const BUS_READS_SQL = String.raw`
  SELECT coalesce(sum(s.calls), 0)::int8 AS calls
  FROM pg_stat_statements s
  JOIN pg_database d ON d.oid = s.dbid
  JOIN pg_roles r ON r.oid = s.userid
  WHERE d.datname = $1 AND ($2::text IS NULL OR r.rolname = $2)
    AND s.query ~* '\mbus_bus\M'
    AND s.query !~* '^\s*(insert|delete)\M'`;

// Without pg_stat_statements (a PostgreSQL not started with it, e.g. a real Odoo's): index and
// sequential scans of bus_bus, one per SELECT of Odoo's and the sidecar's queries on it. Backends
// report them when idle, at most every 10 s (PGSTAT_IDLE_INTERVAL): read after a pause.
const BUS_SCANS_SQL = `
  SELECT (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::int8 AS calls
  FROM pg_stat_user_tables WHERE relname = 'bus_bus'`;

const CONNECTIONS_SQL = `
  SELECT coalesce(application_name, '') AS application_name, count(*)::int AS n
  FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
    AND ($1::text IS NULL OR usename = $1)
    AND ($2::text IS NULL OR application_name LIKE $2)
    AND application_name <> 'bus-harness-bench'
  GROUP BY 1 ORDER BY 1`;

/** Counts PostgreSQL keeps, on any server the benchmark can reach. */
export class PgStats {
  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly database: string,
  ) {}

  static forCluster(cluster: PgCluster, database: string): PgStats {
    return new PgStats(cluster.connection(database), database);
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    const client = new pg.Client({ ...this.connection, application_name: 'bus-harness-bench' });
    client.on('error', () => {});
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Statements that read `bus_bus` in the database (by `role` only, when given), ever. */
  async busReads(role: string | undefined): Promise<number | undefined> {
    try {
      const [row] = await this.query<{ calls: string }>(BUS_READS_SQL, [
        this.database,
        role ?? null,
      ]);
      return Number(row?.calls ?? 0);
    } catch {
      // no pg_stat_statements there
    }
    if (role !== undefined) return undefined;
    try {
      const [row] = await this.query<{ calls: string }>(BUS_SCANS_SQL, []);
      return row === undefined ? undefined : Number(row.calls);
    } catch {
      return undefined;
    }
  }

  /** Whether PostgreSQL counts statements here (else `busReads` counts scans, reported late). */
  async hasStatements(): Promise<boolean> {
    return this.query('SELECT 1 FROM pg_stat_statements LIMIT 1', []).then(
      () => true,
      () => false,
    );
  }

  /** Client connections by application name, of `role` or with `applicationName` (a LIKE pattern). */
  async connections(filter: {
    role?: string;
    applicationName?: string;
  }): Promise<Record<string, number> | undefined> {
    try {
      const rows = await this.query<{ application_name: string; n: number }>(CONNECTIONS_SQL, [
        filter.role ?? null,
        filter.applicationName ?? null,
      ]);
      return Object.fromEntries(rows.map((r) => [r.application_name, r.n]));
    } catch {
      return undefined;
    }
  }
}

export const SIDECAR_DB_ROLE = SIDECAR_ROLE;
