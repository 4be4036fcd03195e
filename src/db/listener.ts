/**
 * The one LISTEN connection.
 *
 * Lifecycle: connect (directly to PostgreSQL: LISTEN cannot go through PgBouncer in transaction
 * mode) → `LISTEN` every channel → `onUp` → notifications flow → on any error, end or failed health
 * probe: `onDown`, drop the client, reconnect after a capped, jittered backoff. The backoff attempt
 * counter is reset only once `LISTEN` has succeeded, so a server that accepts connections but fails
 * right after does not get hammered.
 *
 * A notification is only a hint: everything committed while the connection was down is read from
 * `bus_bus` after `onUp` (the reader's catch-up), so nothing depends on a NOTIFY arriving.
 *
 * Dead connections: TCP keepalive plus a periodic `SELECT 1` with a deadline, because a half-open
 * connection (a restarted server behind a NAT, a pulled cable) would otherwise look healthy while no
 * notification ever arrives.
 */
import pg from 'pg';
import { backoffDelay } from '../lifecycle/backoff.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type ConnectTarget, classifyConnectError, FailureLog } from './connectErrors.js';

export interface ListenerOptions {
  connection: pg.ClientConfig;
  channels: readonly string[];
  logger: Logger;
  metrics: Metrics;
  onNotification: (channel: string, payload: string) => void;
  /** Called after every successful LISTEN; `reconnected` is false the first time. */
  onUp: (reconnected: boolean) => void;
  onDown: () => void;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
}

export class Listener {
  private client: pg.Client | undefined;
  private attempt = 0;
  private everUp = false;
  private up = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;

  private readonly failures: FailureLog;

  constructor(private readonly options: ListenerOptions) {
    this.failures = new FailureLog(options.logger, 'LISTEN connection');
  }

  private get target(): ConnectTarget {
    const { host, port, user, database } = this.options.connection;
    return {
      host: host ?? '',
      port: port ?? 5432,
      user: user ?? '',
      database: database ?? '',
      purpose: 'listen',
    };
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Why it is down, with the fix (undefined while up, or before the first attempt ends). */
  get problem(): string | undefined {
    return this.failures.problem;
  }

  /** The backend pid of the LISTEN session, for diagnostics and tests. */
  get backendPid(): number | undefined {
    return (this.client as (pg.Client & { processID?: number }) | undefined)?.processID;
  }

  start(): Promise<void> {
    this.connecting ??= this.connect();
    return this.connecting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.healthTimer);
    const client = this.client;
    this.client = undefined;
    this.markDown();
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => undefined);
    }
  }

  private async connect(): Promise<void> {
    const { logger, metrics } = this.options;
    const client = new pg.Client({
      ...this.options.connection,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: this.options.connection.connectionTimeoutMillis ?? 5_000,
      application_name: 'odoo-bus-sidecar-listen',
    });
    this.client = client;
    let failedOnce = false;
    const fail = (stage: string, error: unknown) => {
      if (failedOnce || this.client !== client) return;
      failedOnce = true;
      metrics.listenerErrors.labels(stage).inc();
      // Lost once it was listening; before that, it never connected.
      this.failures.failed(
        classifyConnectError(error, this.target),
        this.up ? 'connection lost' : 'could not connect',
        { stage },
      );
      this.dropAndRetry(client);
    };
    // Attached before connect(): an unhandled 'error' on an idle pg client crashes the process.
    client.on('error', (error) => fail('connection', error));
    client.on('end', () => fail('end', new Error('connection ended')));
    client.on('notification', (message) => {
      this.options.onNotification(message.channel, message.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of this.options.channels) {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
    } catch (error) {
      fail('connect', error);
      return;
    }
    if (this.stopped || this.client !== client) return;
    this.failures.reset();
    this.attempt = 0;
    this.up = true;
    this.options.metrics.listenerUp.set(1);
    const reconnected = this.everUp;
    this.everUp = true;
    logger.info(
      {
        host: this.options.connection.host,
        port: this.options.connection.port,
        database: this.options.connection.database,
        reconnected,
      },
      'LISTEN connection established',
    );
    this.startHealthChecks(client, fail);
    this.options.onUp(reconnected);
  }

  private startHealthChecks(
    client: pg.Client,
    fail: (stage: string, error: unknown) => void,
  ): void {
    clearInterval(this.healthTimer);
    const interval = this.options.healthIntervalMs ?? 15_000;
    const timeout = this.options.healthTimeoutMs ?? 5_000;
    this.healthTimer = setInterval(() => {
      const deadline = setTimeout(
        () => fail('health', new Error(`no answer to SELECT 1 in ${timeout} ms`)),
        timeout,
      );
      client.query('SELECT 1').then(
        () => clearTimeout(deadline),
        (error: unknown) => {
          clearTimeout(deadline);
          fail('health', error);
        },
      );
    }, interval);
    this.healthTimer.unref();
  }

  private markDown(): void {
    if (!this.up) return;
    this.up = false;
    this.options.metrics.listenerUp.set(0);
    this.options.onDown();
  }

  private dropAndRetry(client: pg.Client): void {
    clearInterval(this.healthTimer);
    this.client = undefined;
    this.markDown();
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.options.backoff);
    this.options.metrics.listenerReconnects.inc();
    this.options.logger.debug(
      { delayMs: delay, attempt: this.attempt },
      'LISTEN reconnect scheduled',
    );
    this.retryTimer = setTimeout(() => {
      this.connecting = this.connect();
    }, delay);
  }
}
