/**
 * One small `pg.Pool` per Odoo database for the reads of `bus_bus`. Reads may go through PgBouncer
 * in transaction mode: every query is a single unnamed statement, which that mode supports.
 */
import pg from 'pg';
import type { Logger } from '../observability/logger.js';
import { type ConnectFailure, classifyConnectError } from './connectErrors.js';

export interface ReadPoolsOptions {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  max: number;
  logger: Logger;
  /** The client class of the endpoint (its TLS, see `PgEndpoint.clientClass`). */
  Client?: typeof pg.Client;
}

export class ReadPools {
  private readonly pools = new Map<string, pg.Pool>();

  constructor(private readonly options: ReadPoolsOptions) {}

  get(database: string): pg.Pool {
    let pool = this.pools.get(database);
    if (!pool) {
      pool = new pg.Pool({
        host: this.options.host,
        port: this.options.port,
        user: this.options.user,
        password: this.options.password,
        database,
        max: this.options.max,
        idleTimeoutMillis: 30_000,
        connectionTimeoutMillis: 5_000,
        // A read that hangs (a stalled PgBouncer) must fail so that the reader retries.
        query_timeout: 30_000,
        application_name: 'odoo-bus-sidecar-read',
        keepAlive: true,
        ...(this.options.Client === undefined ? {} : { Client: this.options.Client }),
      });
      // An idle client's error (server restart) must not crash the process; the pool replaces it.
      pool.on('error', (error) => {
        const { cause, detail } = this.classify(database, error);
        this.options.logger.warn({ database, cause, detail }, 'idle read connection lost');
      });
      this.pools.set(database, pool);
    }
    return pool;
  }

  /** What a failed read of `database` means and what to change. */
  classify(database: string, error: unknown): ConnectFailure {
    const { host, port, user } = this.options;
    return classifyConnectError(error, { host, port, user, database, purpose: 'read' });
  }

  /** Total connections held, for the readiness report and the benchmark. */
  get totalCount(): number {
    let total = 0;
    for (const pool of this.pools.values()) total += pool.totalCount;
    return total;
  }

  async end(): Promise<void> {
    await Promise.all([...this.pools.values()].map((pool) => pool.end().catch(() => undefined)));
    this.pools.clear();
  }
}
