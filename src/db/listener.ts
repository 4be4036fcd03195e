/**
 * The one LISTEN connection.
 *
 * Lifecycle: connect (directly to PostgreSQL: LISTEN cannot go through PgBouncer in transaction
 * mode) → `LISTEN` every channel and a private probe channel → the first round trip → `onUp` →
 * notifications flow → on any error, end or failed check: `onDown`, drop the client, reconnect
 * after a capped, jittered backoff. The backoff attempt counter is reset only once the connection
 * has proved itself, so a server that accepts connections but fails right after is not hammered.
 *
 * A notification is only a hint: everything committed while the connection was down is read from
 * `bus_bus` after `onUp` (the reader's catch-up), so nothing depends on a NOTIFY arriving.
 *
 * The round trip. A connection can look perfect (it connects, `LISTEN` succeeds, `SELECT 1`
 * answers) and still never deliver a notification: through PgBouncer in transaction mode the
 * server connection that ran `LISTEN` goes back to the pool, and PgBouncer drops what it receives
 * ("got packet 'A' from server when not linked"). So the listener proves the path end to end: a
 * NOTIFY with a random token on a private channel, sent on another connection (`sendProbe`, the
 * read path, as Odoo's own NOTIFYs travel), must come back on this connection within
 * `checkTimeoutMs` — before the listener first reports up, and every `checkIntervalMs` after.
 * A round trip that cannot be sent (the read path is down) proves nothing either way and is not
 * held against the LISTEN connection.
 *
 * Dead connections: TCP keepalive plus a periodic `SELECT 1` with a deadline, because a half-open
 * connection (a restarted server behind a NAT, a pulled cable) would otherwise look healthy.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
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
  /** Sends a NOTIFY on another connection: the outbound leg of the round trip. */
  sendProbe?: (channel: string, payload: string) => Promise<void>;
  /** Where the admin changes the LISTEN address, named in the round trip's error. */
  settingHint?: string;
  checkIntervalMs?: number;
  checkTimeoutMs?: number;
  backoff?: { baseMs?: number; maxMs?: number };
}

class RoundTripTimeout extends Error {
  override name = 'RoundTripTimeout';
}

const DEFAULT_SETTING_HINT =
  'IMDISPATCHER_DB_HOST / IMDISPATCHER_DB_PORT (odoo.conf imdispatcher_db_host / imdispatcher_db_port)';

export class Listener {
  private client: pg.Client | undefined;
  private attempt = 0;
  private everUp = false;
  private up = false;
  private stopped = false;
  /** The last round trip that failed, with the fix (cleared by one that succeeds). */
  private roundTripProblem: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private connecting: Promise<void> | undefined;
  /** Round-trip tokens sent and not yet back, with what to call when they are. */
  private readonly awaited = new Map<string, () => void>();
  /** The round trip's failure was logged as an error since the last success (one per streak). */
  private roundTripErrorLogged = false;
  /** A probe that could not be sent was logged since the last one sent (one per streak). */
  private unsentLogged = false;
  /** Unique per process: several sidecars may listen on the same cluster. */
  readonly probeChannel = `odoo_bus_sidecar_probe_${randomBytes(6).toString('hex')}`;

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

  /**
   * Why it is down, with the fix (undefined while up, or before the first attempt ends): a
   * connection that failed, or a round trip that did not come back.
   */
  get problem(): string | undefined {
    if (this.up) return undefined;
    return this.roundTripProblem ?? this.failures.problem;
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
    clearTimeout(this.checkTimer);
    const client = this.client;
    this.client = undefined;
    this.awaited.clear();
    this.markDown();
    if (client) {
      client.removeAllListeners('notification');
      await client.end().catch(() => undefined);
    }
  }

  private get checkTimeoutMs(): number {
    return this.options.checkTimeoutMs ?? 5_000;
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
      if (error instanceof RoundTripTimeout) this.logRoundTripFailure(error);
      // Lost once it was listening; before that, it never connected.
      else
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
      if (message.channel === this.probeChannel) {
        const arrived = this.awaited.get(message.payload ?? '');
        this.awaited.delete(message.payload ?? '');
        arrived?.();
        return;
      }
      this.options.onNotification(message.channel, message.payload ?? '');
    });
    try {
      await client.connect();
      for (const channel of [...this.options.channels, this.probeChannel]) {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      }
      if (this.stopped || this.client !== client) return;
      // Not up before the path is proven: a LISTEN through PgBouncer succeeds and delivers nothing.
      await this.roundTrip(client);
    } catch (error) {
      fail(error instanceof RoundTripTimeout ? 'probe' : 'connect', error);
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
    this.scheduleCheck(client, fail);
    this.options.onUp(reconnected);
  }

  /**
   * Sends a token on the probe channel over another connection and waits for it here. Resolves
   * when it came back or could not be sent (nothing proven either way); throws `RoundTripTimeout`
   * when it was sent and did not come back in time.
   */
  private async roundTrip(client: pg.Client): Promise<void> {
    const send = this.options.sendProbe;
    if (send === undefined) return;
    const { logger, metrics } = this.options;
    const token = randomBytes(12).toString('hex');
    let timer: NodeJS.Timeout | undefined;
    const arrived = new Promise<boolean>((resolve) => {
      this.awaited.set(token, () => resolve(true));
      timer = setTimeout(() => resolve(false), this.checkTimeoutMs);
    });
    const started = performance.now();
    // A read path that hangs must not hold the check (nor the start) past the deadline.
    const first = await Promise.race([
      send(this.probeChannel, token).then(
        () => 'sent' as const,
        (error: unknown) => ({ error }),
      ),
      arrived.then((came) => (came ? ('arrived' as const) : ('deadline' as const))),
    ]);
    if (first !== 'sent' && first !== 'arrived') {
      clearTimeout(timer);
      this.awaited.delete(token);
      metrics.listenProbes.labels('unsent').inc();
      const fields = {
        err:
          first === 'deadline'
            ? new Error(`not sent within ${this.checkTimeoutMs} ms`)
            : first.error,
        channel: this.probeChannel,
      };
      const text =
        'LISTEN round trip not checked: the probe NOTIFY could not be sent on the read connection';
      if (this.unsentLogged) logger.debug(fields, text);
      else logger.warn(fields, text);
      this.unsentLogged = true;
      return;
    }
    this.unsentLogged = false;
    const ok = first === 'arrived' || (await arrived);
    clearTimeout(timer);
    this.awaited.delete(token);
    if (this.client !== client) return;
    if (!ok) {
      metrics.listenProbes.labels('timeout').inc();
      throw new RoundTripTimeout(
        `a NOTIFY sent on another connection did not come back on the LISTEN connection within ${this.checkTimeoutMs} ms`,
      );
    }
    metrics.listenProbes.labels('ok').inc();
    metrics.listenRoundTripSeconds.set((performance.now() - started) / 1000);
    this.roundTripProblem = undefined;
    if (this.roundTripErrorLogged) {
      this.roundTripErrorLogged = false;
      logger.info('LISTEN round trip works again: notifications reach the sidecar');
    }
  }

  private logRoundTripFailure(error: RoundTripTimeout): void {
    const { host, port, database } = this.options.connection;
    const fields = {
      host,
      port,
      database,
      timeoutMs: this.checkTimeoutMs,
      attempt: this.attempt + 1,
    };
    this.roundTripProblem =
      `notifications do not come back on the LISTEN connection to ${host}:${port} (${error.message}): ` +
      `likely PgBouncer in transaction mode; set ${this.options.settingHint ?? DEFAULT_SETTING_HINT} to PostgreSQL itself`;
    if (this.roundTripErrorLogged) {
      this.options.logger.info(fields, 'LISTEN round trip failed again; still polling bus_bus');
      return;
    }
    this.roundTripErrorLogged = true;
    this.options.logger.error(
      fields,
      `LISTEN round trip failed: ${error.message}. The LISTEN connection to ${host}:${port} ` +
        'does not deliver notifications; the likely cause is PgBouncer in transaction mode (or ' +
        `another proxy that drops notifications) on that address. Set ${this.options.settingHint ?? DEFAULT_SETTING_HINT} ` +
        'to PostgreSQL itself. Until then bus_bus is polled (nothing is lost, deliveries are slower) ' +
        'and /readyz reports listen as failing.',
    );
  }

  /** One `SELECT 1` with a deadline, then one round trip; again `checkIntervalMs` later. */
  private scheduleCheck(client: pg.Client, fail: (stage: string, error: unknown) => void): void {
    clearTimeout(this.checkTimer);
    const interval = this.options.checkIntervalMs ?? 15_000;
    this.checkTimer = setTimeout(async () => {
      const timeout = this.checkTimeoutMs;
      let deadline: NodeJS.Timeout | undefined;
      const answered = await new Promise<unknown>((resolve) => {
        deadline = setTimeout(
          () => resolve(new Error(`no answer to SELECT 1 in ${timeout} ms`)),
          timeout,
        );
        client.query('SELECT 1').then(
          () => resolve(undefined),
          (error: unknown) => resolve(error),
        );
      });
      clearTimeout(deadline);
      if (this.client !== client) return;
      if (answered !== undefined) {
        fail('health', answered);
        return;
      }
      try {
        await this.roundTrip(client);
      } catch (error) {
        fail('probe', error);
        return;
      }
      if (this.client === client && !this.stopped) this.scheduleCheck(client, fail);
    }, interval);
    this.checkTimer.unref();
  }

  private markDown(): void {
    if (!this.up) return;
    this.up = false;
    this.options.metrics.listenerUp.set(0);
    this.options.onDown();
  }

  private dropAndRetry(client: pg.Client): void {
    clearTimeout(this.checkTimer);
    this.client = undefined;
    this.awaited.clear();
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
