/**
 * Proof that the test harness itself is right before the sidecar's tests rely on it: a real cluster
 * run as a non-root user, the production PgBouncer file in transaction mode, Odoo's writes and
 * NOTIFYs as recorded, statement counting by PostgreSQL, the fake Odoo against the recorded answers,
 * and both websocket clients.
 */
import { readFileSync, statSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, pythonDumps } from '../../src/json/pythonJson.js';
import { readFixture } from '../helpers/fixtures.js';
import { createOdooWriter, type OdooWriter } from '../helpers/odooWriter.js';
import { type PgBouncer, startPgBouncer } from '../helpers/pgbouncer.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from '../helpers/postgres.js';
import { serviceAccount } from '../helpers/serviceAccount.js';
import { waitFor } from '../helpers/waitFor.js';

/** The recordings' database name, so channel texts and payload sizes match them byte for byte. */
const DB = 'odoo17';

interface Notification {
  payload: string;
  processId: number;
}

let cluster: PgCluster;
let bouncer: PgBouncer;
let writer: OdooWriter;
let listener: pg.Client;
const heard: Notification[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
  await cluster.createOdooDatabase(DB);
  bouncer = await startPgBouncer(cluster);
  writer = createOdooWriter({ host: bouncer.host, port: bouncer.port, database: DB });
  listener = await listenImbus();
});

/** The sidecar's way: one direct LISTEN on `postgres`, not through PgBouncer. */
async function listenImbus(): Promise<pg.Client> {
  const client = new pg.Client(cluster.connection('postgres', SIDECAR_ROLE.user));
  // It dies with the server in the restart test, and is replaced there.
  client.on('error', () => {});
  client.on('notification', (n) =>
    heard.push({ payload: n.payload ?? '', processId: n.processId }),
  );
  await client.connect();
  await client.query('LISTEN imbus');
  return client;
}

afterAll(async () => {
  await listener?.end().catch(() => {});
  await writer?.close();
  await bouncer?.stop();
  await cluster?.stop();
});

function postmasterUid(dataDir: string): number | undefined {
  const pid = readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0];
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  } catch {
    return undefined; // no /proc (not Linux)
  }
}

describe('throwaway PostgreSQL cluster', () => {
  it('runs as a non-root user, on 127.0.0.1, with the test settings', async () => {
    const uid = postmasterUid(cluster.dataDir);
    if (uid !== undefined) expect(uid).not.toBe(0);
    expect(statSync(cluster.dataDir).uid).toBe(serviceAccount()?.uid ?? process.getuid?.());
    const rows = await cluster.query<{ name: string; setting: string }>(
      'postgres',
      `SELECT name, setting FROM pg_settings WHERE name = ANY($1)`,
      [['listen_addresses', 'fsync', 'shared_preload_libraries', 'max_connections']],
    );
    expect(Object.fromEntries(rows.map((r) => [r.name, r.setting]))).toEqual({
      listen_addresses: '127.0.0.1',
      fsync: 'off',
      shared_preload_libraries: 'pg_stat_statements',
      max_connections: '300',
    });
  });

  it('has odoo as superuser and bus_sidecar as a plain login that may only read bus_bus', async () => {
    const roles = await cluster.query<{ rolname: string; rolsuper: boolean }>(
      'postgres',
      `SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('odoo', 'bus_sidecar') ORDER BY 1`,
    );
    expect(roles).toEqual([
      { rolname: 'bus_sidecar', rolsuper: false },
      { rolname: 'odoo', rolsuper: true },
    ]);
    const sidecar = new pg.Client(cluster.connection(DB, SIDECAR_ROLE.user));
    await sidecar.connect();
    try {
      await sidecar.query('SELECT id FROM bus_bus LIMIT 1');
      await sidecar.query(`SELECT last_value FROM bus_bus_id_seq`);
      await expect(sidecar.query(`INSERT INTO bus_bus (channel) VALUES ('x')`)).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await sidecar.end();
    }
  });

  it('lists and terminates backends', async () => {
    const victim = new pg.Client({ ...cluster.connection(DB), application_name: 'victim' });
    await victim.connect();
    const died = new Promise<Error>((resolve) => victim.once('error', resolve));
    const mine = (await cluster.backends(DB)).filter((b) => b.application_name === 'victim');
    expect(mine).toHaveLength(1);
    expect(await cluster.terminate(mine.map((b) => b.pid))).toBe(1);
    expect((await died).message).toMatch(/terminating connection/);
    await victim.end().catch(() => {});
  });

  it('restarts fast (data kept) and immediate (crash recovery), on the same port', async () => {
    await cluster.query(DB, `INSERT INTO bus_presence (user_id, status) VALUES (1, 'online')`);
    const port = cluster.port;
    await cluster.restart('fast');
    expect(cluster.port).toBe(port);
    expect(await cluster.query(DB, 'SELECT user_id FROM bus_presence')).toEqual([{ user_id: 1 }]);
    await cluster.restart('immediate');
    expect(await cluster.query(DB, 'SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    expect(readFileSync(cluster.logFile, 'utf8')).toMatch(/automatic recovery in progress/);
    // The listener of this file died with the server: reconnect it for the tests below.
    await listener.end().catch(() => {});
    listener = await listenImbus();
  });
});

describe('PgBouncer from deploy/pgbouncer.ini', () => {
  it('runs pool_mode = transaction', async () => {
    const config = await bouncer.admin<{ key: string; value: string }>('SHOW CONFIG');
    expect(config.find((row) => row.key === 'pool_mode')?.value).toBe('transaction');
  });

  it('hands one server connection to successive clients (not possible in session mode)', async () => {
    const connect = async (): Promise<pg.Client> => {
      const client = new pg.Client({
        host: bouncer.host,
        port: bouncer.port,
        database: DB,
        user: 'odoo',
        password: 'odoo',
      });
      await client.connect();
      return client;
    };
    const [a, b] = [await connect(), await connect()];
    try {
      const pidA = (await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const pidB = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      expect(pidB).toBe(pidA);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('restarts on the same port', async () => {
    const port = bouncer.port;
    await bouncer.restart();
    expect(bouncer.port).toBe(port);
    expect((await bouncer.admin('SHOW VERSION')).length).toBe(1);
  });
});

interface TraceAction {
  name: string;
  notifies: Array<{ payload: string; payload_bytes: number; sender_backend_pid: number }>;
}
interface RowsAction {
  name: string;
  rows: Array<{ channel: string; message: string }>;
}

const trace = readFixture<{ actions: TraceAction[] }>('odoo17', 'notify-trace.json');
const busRows = readFixture<{ actions: RowsAction[] }>('odoo17', 'bus-rows.json');

function recorded(name: string): { notifies: TraceAction['notifies']; rows: RowsAction['rows'] } {
  const notifies = trace.actions.find((a) => a.name === name)?.notifies;
  const rows = busRows.actions.find((a) => a.name === name)?.rows;
  if (notifies === undefined || rows === undefined) throw new Error(`no recording ${name}`);
  return { notifies, rows };
}

async function heardDuring(action: () => Promise<unknown>, count: number): Promise<Notification[]> {
  const start = heard.length;
  await action();
  await waitFor(() => heard.length >= start + count, { message: `${count} NOTIFY(s) on imbus` });
  return heard.slice(start);
}

const channelTexts = (payloads: readonly string[]): string[] =>
  payloads.flatMap((p) => (JSON.parse(p) as unknown[]).map((c) => pythonDumps(c))).sort();

describe('Odoo writer through PgBouncer, heard by a direct LISTEN on postgres', () => {
  for (const name of ['S_sendmany_mixed_kinds', 'S_big_payload_split', 'S_non_ascii_channels']) {
    it(`reproduces ${name}: the rows and the NOTIFY payloads recorded`, async () => {
      const { notifies, rows } = recorded(name);
      let ids: number[] = [];
      const got = await heardDuring(async () => {
        ids = await writer.sendmany(
          rows.map((r) => ({ rawChannel: JSON.parse(r.channel), message: JSON.parse(r.message) })),
        );
      }, notifies.length);
      expect(got).toHaveLength(notifies.length);
      for (const n of got) expect(canonicalJson(n.payload)).toBe(n.payload);
      expect(got.map((n) => Buffer.byteLength(n.payload)).sort()).toEqual(
        notifies.map((n) => n.payload_bytes).sort(),
      );
      expect(channelTexts(got.map((n) => n.payload))).toEqual(
        channelTexts(notifies.map((n) => n.payload)),
      );
      // One notifying connection per call, as recorded (the split payloads share a backend).
      expect(new Set(got.map((n) => n.processId)).size).toBe(1);
      const stored = await cluster.query<{ channel: string; message: string; created: string }>(
        DB,
        `SELECT channel, message, create_date::text AS created FROM bus_bus
         WHERE id = ANY($1) AND create_date = write_date ORDER BY id`,
        [ids],
      );
      expect(stored.map((r) => r.channel)).toEqual(rows.map((r) => r.channel));
      rows.forEach((row, i) => {
        // Where a JavaScript round trip is lossless, the message text is Odoo's too.
        if (pythonDumps(JSON.parse(row.message)) === row.message) {
          expect(stored[i]?.message).toBe(row.message);
        }
      });
      expect(new Set(stored.map((r) => r.created)).size).toBe(1);
    });
  }

  for (const name of ['S_multi_sendone_one_commit', 'S_same_channel_twice_two_calls']) {
    it(`reproduces ${name}: one NOTIFY per call of the transaction`, async () => {
      const { notifies, rows } = recorded(name);
      const got = await heardDuring(async () => {
        const tx = await writer.openTransaction();
        for (const row of rows) {
          const [, ...target] = JSON.parse(row.channel) as unknown[];
          const { type, payload } = JSON.parse(row.message) as { type: string; payload: unknown };
          await tx.send([{ channel: target, type, payload }]);
        }
        await tx.commit();
      }, notifies.length);
      expect(got.map((n) => n.payload)).toEqual(notifies.map((n) => n.payload));
    });
  }

  it('commits out of id order: a row appears, and is notified, only at its commit', async () => {
    const early = await writer.openTransaction();
    const [lowId] = await early.send([{ channel: 'late-commit', type: 'a', payload: 1 }]);
    let highId = 0;
    await heardDuring(async () => {
      highId = await writer.sendone({ channel: 'late-commit', type: 'b', payload: 2 });
    }, 1);
    expect(lowId).toBeLessThan(highId);
    const visible = (): Promise<unknown[]> =>
      cluster.query(DB, `SELECT id FROM bus_bus WHERE channel = '["odoo17","late-commit"]'`);
    expect(await visible()).toEqual([{ id: highId }]);
    const got = await heardDuring(() => early.commit(), 1);
    expect(got.map((n) => n.payload)).toEqual(['[["odoo17","late-commit"]]']);
    expect(await visible()).toHaveLength(2);
  });

  it('rolls back without notifying, and sends raw payloads', async () => {
    const tx = await writer.openTransaction();
    await tx.send([{ channel: 'rolled-back', type: 'x', payload: null }]);
    await tx.rollback();
    const got = await heardDuring(() => writer.notifyRaw('not json ['), 1);
    expect(got.map((n) => n.payload)).toEqual(['not json [']);
  });

  it('writes like Odoo 12-14: channels and messages verbatim, one unsplit NOTIFY', async () => {
    const legacy = createOdooWriter({
      host: bouncer.host,
      port: bouncer.port,
      database: DB,
      version: 'odoo12-14',
    });
    try {
      let id = 0;
      const got = await heardDuring(async () => {
        id = await legacy.sendone({ channel: ['odoo17', 'res.partner', 3], message: ['x', 1] });
        await legacy.sendone({ channel: 'a-uuid-string', message: { k: 'é' } });
      }, 2);
      expect(got.map((n) => n.payload)).toEqual([
        '[["odoo17","res.partner",3]]',
        '["a-uuid-string"]',
      ]);
      const [row] = await cluster.query(DB, 'SELECT channel, message FROM bus_bus WHERE id = $1', [
        id,
      ]);
      expect(row).toEqual({ channel: '["odoo17","res.partner",3]', message: '["x",1]' });
      const many = Array.from({ length: 60 }, (_, i) => ({
        channel: `${i}-${'y'.repeat(200)}`,
        message: 0,
      }));
      await expect(legacy.sendmany(many)).rejects.toThrow(/payload string too long/);
    } finally {
      await legacy.close();
    }
  });
});

describe('busReadCount', () => {
  it("counts the sidecar role's reads of bus_bus, as PostgreSQL sees them", async () => {
    await cluster.resetStatementStats();
    await writer.sendone({ channel: 'count-me', type: 't', payload: {} });
    expect(await cluster.busReadCount(DB)).toBe(0);
    expect(await cluster.busReadCount(DB, 'odoo')).toBe(0);
    const sidecar = new pg.Client(cluster.connection(DB, SIDECAR_ROLE.user));
    await sidecar.connect();
    try {
      for (let last = 0; last < 3; last++) {
        await sidecar.query(
          'SELECT id, channel, message FROM bus_bus WHERE id > $1 AND channel = ANY($2::varchar[]) ORDER BY id',
          [last, ['["odoo17","count-me"]']],
        );
      }
      await sidecar.query('SELECT last_value FROM bus_bus_id_seq');
    } finally {
      await sidecar.end();
    }
    expect(await cluster.busReadCount(DB)).toBe(3);
    expect(await cluster.busReadCount('postgres')).toBe(0);
  });
});
