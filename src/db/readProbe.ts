/**
 * The readiness check of the read path: from start, before any socket subscribes, `bus_bus` is
 * read in every served database (`databases`), or, when any database is served, a query is made on
 * the notify database through the same host, port and role. A wrong password, a missing database
 * or a missing GRANT then makes `/readyz` answer 503 at once, with the fix in the log and in the
 * readiness report, instead of a user's socket being closed later. Checked again every
 * `intervalMs`; a failing check is retried sooner, with backoff.
 */
import type pg from 'pg';
import { backoffDelay } from '../lifecycle/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { FailureLog } from './connectErrors.js';
import type { ReadPools } from './readPools.js';

/** Checks the table and the privilege without reading a row. */
const TABLE_CHECK_SQL = 'SELECT 1 FROM bus_bus LIMIT 0';

export interface ReadTarget {
  database: string;
  /** An Odoo database (its `bus_bus` is read), or the notify database (a plain query). */
  kind: 'odoo' | 'notify';
}

export interface ReadProbeOptions {
  pools: ReadPools;
  targets: readonly ReadTarget[];
  /** A client for a one-off connection (the notify database has no read pool). */
  client: (database: string) => pg.Client;
  logger: Logger;
  metrics: Metrics;
  intervalMs?: number;
}

interface TargetState {
  ok: boolean | undefined;
  problem: string | undefined;
  attempt: number;
  log: FailureLog;
  timer: NodeJS.Timeout | undefined;
}

export class ReadProbe {
  private readonly states = new Map<string, TargetState>();
  private stopped = false;

  constructor(private readonly options: ReadProbeOptions) {
    for (const { database } of options.targets) {
      this.states.set(database, {
        ok: undefined,
        problem: undefined,
        attempt: 0,
        log: new FailureLog(options.logger, `reads of bus_bus (readiness check, ${database})`),
        timer: undefined,
      });
      options.metrics.readCheckUp.labels(database).set(0);
    }
  }

  /** Runs every check now; resolves when each has answered once. */
  async start(): Promise<void> {
    await Promise.all(this.options.targets.map((target) => this.check(target)));
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.states.values()) clearTimeout(state.timer);
  }

  /** True once every check has succeeded and none has failed since. */
  get healthy(): boolean {
    for (const state of this.states.values()) if (state.ok !== true) return false;
    return true;
  }

  /** What fails, per database, with the fix. */
  get problems(): string[] {
    const problems: string[] = [];
    for (const [database, state] of this.states) {
      if (state.ok === undefined) problems.push(`${database}: not checked yet`);
      else if (state.problem !== undefined) problems.push(`${database}: ${state.problem}`);
    }
    return problems;
  }

  private async check(target: ReadTarget): Promise<void> {
    const state = this.states.get(target.database);
    if (state === undefined || this.stopped) return;
    const { metrics, pools } = this.options;
    try {
      if (target.kind === 'odoo') await pools.get(target.database).query(TABLE_CHECK_SQL);
      else await this.queryOnce(target.database);
      state.ok = true;
      state.problem = undefined;
      state.attempt = 0;
      state.log.recovered('reads work', { database: target.database });
      metrics.readCheckUp.labels(target.database).set(1);
      this.schedule(target, state, this.options.intervalMs ?? 30_000);
    } catch (error) {
      const failure = pools.classify(target.database, error);
      state.ok = false;
      state.problem = `${failure.problem}${failure.fix === undefined ? '' : `; ${failure.fix}`}`;
      metrics.readCheckUp.labels(target.database).set(0);
      const delay = backoffDelay(state.attempt++, {
        baseMs: 500,
        maxMs: this.options.intervalMs ?? 30_000,
      });
      state.log.failed(failure, 'could not read', { database: target.database, retryInMs: delay });
      this.schedule(target, state, delay);
    }
  }

  private schedule(target: ReadTarget, state: TargetState, delay: number): void {
    if (this.stopped) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => void this.check(target), delay);
    state.timer.unref();
  }

  private async queryOnce(database: string): Promise<void> {
    const client = this.options.client(database);
    // An error after the query (the server going away) must not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
