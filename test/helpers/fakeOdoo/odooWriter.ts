/**
 * Odoo's side of the bus, written exactly as Odoo writes it (recorded in
 * `fixtures/odoo17/sql-statements.txt` and `notify-trace.json`), through PgBouncer like Odoo's workers:
 *
 * 1. on the Odoo database, in a REPEATABLE READ transaction, one multi-row
 *    `INSERT INTO "bus_bus" ("channel", "create_date", "create_uid", "message", "write_date", "write_uid")
 *    ... RETURNING "id"` per `_sendmany` call (17.0-20240709 inserts at call time, not at precommit),
 *    `create_date` = `write_date` = the transaction's `now() at time zone 'UTC'`;
 * 2. COMMIT;
 * 3. after the commit, on a new connection to database `postgres` (Odoo's `db_connect('postgres')`,
 *    same host and port, so through PgBouncer too): `BEGIN ISOLATION LEVEL REPEATABLE READ`, one
 *    `SELECT "pg_notify"('imbus', <payload>)` per payload (split at 8000 bytes), `COMMIT`.
 *
 * Odoo 12–14 (`version: 'odoo12-14'`): channels are stored as the caller gives them (no database
 * prefix), the message is any JSON value, and the notification is one `NOTIFY imbus, '<payload>'`
 * without splitting.
 */
import pg from 'pg';
import {
  type BusTarget,
  channelWithDb,
  distinctChannels,
  jsonDump,
  NOTIFY_PAYLOAD_MAX_BYTES,
  notifyPayloads,
} from './odooBusEncoding.js';

export type { BusTarget } from './odooBusEncoding.js';

type ChannelSpec =
  /** 15+: target without the database (`['res.partner', 7]`, `'broadcast'`); 12–14: as stored. */
  | { channel: BusTarget }
  /** Stored verbatim in every version: db-prefixed or foreign-database tuples. */
  | { rawChannel: unknown };

type MessageSpec =
  | { type: string; payload: unknown }
  /** The message as stored (12–14 style); in 15+ it replaces `{type, payload}`. */
  | { message: unknown };

export type BusNotification = ChannelSpec & MessageSpec;

export interface OdooWriterOptions {
  /** PgBouncer (or PostgreSQL) address, as Odoo's `db_host`/`db_port`. */
  host: string;
  port: number;
  database: string;
  user?: string;
  password?: string;
  version?: 'odoo15+' | 'odoo12-14';
  /** `ODOO_NOTIFY_PAYLOAD_MAX_LENGTH`. */
  maxPayloadBytes?: number;
  /** `ODOO_NOTIFY_FUNCTION`. */
  notifyFunction?: string;
  /** Where NOTIFYs are sent; Odoo hard-codes `postgres`. */
  notifyDatabase?: string;
  /**
   * For `openTransaction()`: one NOTIFY set per `send()` call as the recorded 17.0 build does
   * (default), or one per transaction as late 17.0 / 18 / 19 do.
   */
  notifyPer?: 'call' | 'transaction';
  /**
   * `new` (default): each NOTIFY set on a connection of its own, opened and closed, as recorded.
   * `pooled`: on connections kept open, as Odoo's connection pool keeps its `postgres` cursor's
   * connection between commits (the benchmark, where opening one per commit would dominate).
   */
  notifyConnection?: 'new' | 'pooled';
  /** `create_uid` / `write_uid` of the rows. */
  uid?: number;
}

/** Moments of a write the caller may want to time (the benchmark's commit-to-receipt latency). */
export interface WriteHooks {
  /** Called as soon as PostgreSQL acknowledged the COMMIT, before the NOTIFYs are sent. */
  onCommitted?: () => void;
}

export interface OdooTransaction {
  /** INSERTs now (ids are allocated now); nothing is visible or notified before `commit()`. */
  send(notifications: readonly BusNotification[]): Promise<number[]>;
  commit(hooks?: WriteHooks): Promise<void>;
  rollback(): Promise<void>;
}

export interface OdooWriter {
  /** One transaction, one INSERT, then one NOTIFY set; resolves with the new ids, in order. */
  sendmany(notifications: readonly BusNotification[], hooks?: WriteHooks): Promise<number[]>;
  sendone(notification: BusNotification): Promise<number>;
  openTransaction(): Promise<OdooTransaction>;
  /** One NOTIFY with an arbitrary payload, the way Odoo sends them (malformed-payload tests). */
  notifyRaw(payload: string): Promise<void>;
  /** Every payload notified so far, in order. */
  readonly notified: readonly string[];
  close(): Promise<void>;
}

interface StoredRow {
  channelValue: unknown;
  channel: string;
  message: string;
}

class OdooBusWriter implements OdooWriter {
  readonly notified: string[] = [];
  private readonly pool: pg.Pool;
  private notifyPool: pg.Pool | undefined;
  private readonly legacy: boolean;

  constructor(private readonly o: Required<OdooWriterOptions>) {
    this.legacy = o.version === 'odoo12-14';
    this.pool = new pg.Pool({ ...this.connection(o.database), max: 10, allowExitOnIdle: true });
    // Pooled connections die when a test restarts PgBouncer or PostgreSQL; the pool drops them.
    this.pool.on('error', () => {});
  }

  private connection(database: string): pg.ClientConfig {
    const { host, port, user, password } = this.o;
    // Odoo names its connections `odoo-<pid>`.
    return { host, port, database, user, password, application_name: `odoo-${process.pid}` };
  }

  private row(notification: BusNotification): StoredRow {
    let channelValue: unknown;
    if ('rawChannel' in notification) channelValue = notification.rawChannel;
    else if (this.legacy) channelValue = notification.channel;
    else channelValue = channelWithDb(this.o.database, notification.channel);
    const message =
      'message' in notification
        ? notification.message
        : { type: notification.type, payload: notification.payload };
    return { channelValue, channel: jsonDump(channelValue), message: jsonDump(message) };
  }

  /** The INSERT of one call, inside the caller's open transaction. */
  async insert(
    client: pg.PoolClient,
    notifications: readonly BusNotification[],
  ): Promise<{ ids: number[]; channels: unknown[] }> {
    if (notifications.length === 0) return { ids: [], channels: [] };
    const rows = notifications.map((n) => this.row(n));
    const params: unknown[] = [this.o.uid];
    const now = `(now() at time zone 'UTC')`;
    const values = rows.map((row) => {
      params.push(row.channel, row.message);
      return `($${params.length - 1}, ${now}, $1, $${params.length}, ${now}, $1)`;
    });
    const result = await client.query<{ id: number }>(
      `INSERT INTO "bus_bus" ("channel", "create_date", "create_uid", "message", "write_date", "write_uid") VALUES ${values.join(', ')} RETURNING "id"`,
      params,
    );
    return {
      ids: result.rows.map((r) => r.id),
      channels: distinctChannels(rows.map((r) => r.channelValue)),
    };
  }

  /** What Odoo's postcommit hook does for one set of channels. */
  async notify(channels: readonly unknown[]): Promise<void> {
    const distinct = distinctChannels(channels);
    if (distinct.length === 0) return;
    const payloads = this.legacy
      ? [jsonDump(distinct)]
      : notifyPayloads(distinct, this.o.maxPayloadBytes);
    await this.sendNotifies(payloads);
  }

  private async sendNotifies(payloads: readonly string[]): Promise<void> {
    if (this.o.notifyConnection === 'pooled') {
      if (this.notifyPool === undefined) {
        this.notifyPool = new pg.Pool({
          ...this.connection(this.o.notifyDatabase),
          max: 10,
          allowExitOnIdle: true,
        });
        this.notifyPool.on('error', () => {});
      }
      const client = await this.notifyPool.connect();
      try {
        await this.notifyOn(client, payloads);
        client.release();
      } catch (error) {
        client.release(error instanceof Error ? error : true);
        throw error;
      }
      return;
    }
    const client = new pg.Client(this.connection(this.o.notifyDatabase));
    client.on('error', () => {});
    await client.connect();
    try {
      await this.notifyOn(client, payloads);
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async notifyOn(client: pg.ClientBase, payloads: readonly string[]): Promise<void> {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    for (const payload of payloads) {
      if (this.legacy) await client.query(`NOTIFY imbus, ${client.escapeLiteral(payload)}`);
      else {
        const fn = client.escapeIdentifier(this.o.notifyFunction);
        await client.query(`SELECT ${fn}('imbus', $1)`, [payload]);
      }
      this.notified.push(payload);
    }
    await client.query('COMMIT');
  }

  async openTransaction(): Promise<OdooTransaction> {
    const client = await this.pool.connect();
    // A checked-out client has no pool listener: a server restart would otherwise crash the test.
    // Pooled clients come back: one listener each is enough.
    if (client.listenerCount('error') === 0) client.on('error', () => {});
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    }
    return new OpenTransaction(this, client, this.o.notifyPer);
  }

  async sendmany(notifications: readonly BusNotification[], hooks?: WriteHooks): Promise<number[]> {
    if (notifications.length === 0) return [];
    const tx = await this.openTransaction();
    let ids: number[];
    try {
      ids = await tx.send(notifications);
    } catch (error) {
      await tx.rollback().catch(() => {});
      throw error;
    }
    await tx.commit(hooks);
    return ids;
  }

  async sendone(notification: BusNotification): Promise<number> {
    const [id] = await this.sendmany([notification]);
    if (id === undefined) throw new Error('INSERT returned no id');
    return id;
  }

  notifyRaw(payload: string): Promise<void> {
    return this.sendNotifies([payload]);
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.notifyPool?.end()]);
  }
}

class OpenTransaction implements OdooTransaction {
  /** Channels of each `send()` call, notified after the commit. */
  private readonly calls: unknown[][] = [];
  private done = false;

  constructor(
    private readonly writer: OdooBusWriter,
    private readonly client: pg.PoolClient,
    private readonly notifyPer: 'call' | 'transaction',
  ) {}

  async send(notifications: readonly BusNotification[]): Promise<number[]> {
    if (this.done) throw new Error('transaction already ended');
    const { ids, channels } = await this.writer.insert(this.client, notifications);
    if (channels.length > 0) this.calls.push(channels);
    return ids;
  }

  private end(error?: unknown): void {
    this.done = true;
    this.client.release(error instanceof Error ? error : undefined);
  }

  async commit(hooks?: WriteHooks): Promise<void> {
    if (this.done) throw new Error('transaction already ended');
    try {
      await this.client.query('COMMIT');
    } catch (error) {
      this.end(error);
      throw error;
    }
    hooks?.onCommitted?.();
    this.end();
    const sets = this.notifyPer === 'call' ? this.calls : [this.calls.flat()];
    for (const channels of sets) await this.writer.notify(channels);
  }

  async rollback(): Promise<void> {
    if (this.done) return;
    try {
      await this.client.query('ROLLBACK');
      this.end();
    } catch (error) {
      this.end(error);
      throw error;
    }
  }
}

/** A writer on `database`, connecting like Odoo does (give it PgBouncer's host and port). */
export function createOdooWriter(options: OdooWriterOptions): OdooWriter {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return new OdooBusWriter({
    user: 'odoo',
    password: 'odoo',
    version: 'odoo15+',
    maxPayloadBytes: NOTIFY_PAYLOAD_MAX_BYTES,
    notifyFunction: 'pg_notify',
    notifyDatabase: 'postgres',
    notifyPer: 'call',
    notifyConnection: 'new',
    uid: 1,
    ...(given as OdooWriterOptions),
  });
}
