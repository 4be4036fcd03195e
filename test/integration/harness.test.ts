/**
 * Proof that the test harness itself is right before the sidecar's tests rely on it: a real cluster
 * run as a non-root user, the production PgBouncer file in transaction mode, Odoo's writes and
 * NOTIFYs as recorded, statement counting by PostgreSQL, the fake Odoo against the recorded answers,
 * and both websocket clients.
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { canonicalJson, pythonDumps } from '../../src/json/pythonJson.js';
import { type HttpAnswer, httpCall } from '../helpers/clients/httpCall.js';
import { handshakeRequest, RawWebSocket } from '../helpers/clients/rawWebSocket.js';
import { Opcode } from '../helpers/clients/websocketFrames.js';
import { connectBrowserSocket, HandshakeError } from '../helpers/clients/wsClient.js';
import { type FakeOdoo, startFakeOdoo } from '../helpers/fakeOdoo/fakeOdoo.js';
import { createOdooWriter, type OdooWriter } from '../helpers/fakeOdoo/odooWriter.js';
import { serviceAccount } from '../helpers/fakeOdoo/serviceAccount.js';
import { readFixture } from '../helpers/fixtures.js';
import { type PgBouncer, startPgBouncer } from '../helpers/servers/pgbouncer.js';
import { type PgCluster, SIDECAR_ROLE, startPostgres } from '../helpers/servers/postgres.js';
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
    // `on`, not `once`: pg may report the termination and then the lost connection.
    const died = new Promise<Error>((resolve) => victim.on('error', resolve));
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

const header = (answer: HttpAnswer, name: string): string | undefined =>
  answer.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];

const SET_COOKIE_FORMAT =
  /^session_id=([0-9a-f]{40}); Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; Max-Age=604800; HttpOnly; Path=\/$/;

interface RouteCase {
  name: string;
  client: string;
  port: number;
  request: { method: string; path: string; headers: Record<string, string>; body: unknown };
  response: {
    status: number;
    reason: string;
    headers: Array<[string, string]>;
    body_json: Record<string, unknown> | null;
    body_text: string | null;
  };
  set_cookie: string[];
}

const routes = readFixture<{ meta: { http_port: number }; cases: RouteCase[] }>(
  'odoo17',
  'http-routes.json',
);

/** Channels as their stored texts, order aside (Odoo returns a Python set). */
const channelSet = (channels: unknown): string[] =>
  (channels as unknown[]).map((c) => pythonDumps(c)).sort();

function expectSameEnvelope(ours: Record<string, unknown>, theirs: Record<string, unknown>): void {
  expect(Object.keys(ours)).toEqual(Object.keys(theirs));
  if ('error' in theirs) {
    const [a, b] = [ours.error, theirs.error] as Array<Record<string, unknown>>;
    const [da, db] = [a?.data, b?.data] as Array<Record<string, unknown>>;
    expect({ ...a, data: { ...da, debug: '' } }).toEqual({ ...b, data: { ...db, debug: '' } });
    return;
  }
  const [ra, rb] = [ours.result, theirs.result] as Array<Record<string, unknown> | undefined>;
  if (rb !== undefined && 'channels' in rb) {
    expect(Object.keys(ra ?? {})).toEqual(['channels', 'notifications']);
    expect(channelSet(ra?.channels)).toEqual(channelSet(rb.channels));
    expect(Array.isArray(ra?.notifications)).toBe(true);
  } else expect(ra).toEqual(rb);
}

describe('fake Odoo', () => {
  let fake: FakeOdoo;

  beforeAll(async () => {
    fake = await startFakeOdoo({ pg: cluster, database: DB });
    // The recorded users, with the sids the recording used.
    const admin = { uid: 2, partnerId: 3, memberChannels: [1, 2, 3, 4, 5, 6, 7, 8, 9] };
    fake.addSession({ sid: 'c7ce1b159a247489ba53d751cd98831d8a08d21a', ...admin });
    fake.addSession({ sid: '6ba3e14f5325d4da6ceecf5288ca422595408291', ...admin });
    fake.addSession({ sid: 'c93dfdffdf47e58de0595ad6a27652c6673306ad', ...admin });
    fake.addSession({
      sid: '58f0b82d44da0fb339c399459ec75ef1fd638ebb',
      uid: 6,
      partnerId: 7,
      memberChannels: [1, 3, 4, 5, 6, 7, 10],
      publicChannels: [9],
    });
  });

  afterAll(async () => {
    await fake?.close();
  });

  it('answers every recorded HTTP-port case of http-routes.json like Odoo did', async () => {
    const cases = routes.cases.filter((c) => c.port === routes.meta.http_port);
    expect(cases.length).toBeGreaterThan(30);
    // Recorded sid -> the sid the fake issued instead, for the clients' next requests.
    const issued = new Map<string, string>();
    for (const c of cases) {
      const sent = c.request.headers.Cookie;
      const recordedSid = sent?.replace('session_id=', '');
      if (c.request.path === '/web/session/destroy') {
        fake.destroySession(issued.get(recordedSid ?? '') ?? recordedSid ?? '');
        continue;
      }
      const headers = { ...c.request.headers };
      if (recordedSid !== undefined && issued.has(recordedSid)) {
        headers.Cookie = `session_id=${issued.get(recordedSid)}`;
      }
      const body = c.request.body;
      const answer = await httpCall(`${fake.url}${c.request.path}`, {
        method: c.request.method,
        headers,
        ...(body === null ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      const context = `case ${c.name}`;
      expect(`${answer.status} ${answer.reason}`, context).toBe(
        `${c.response.status} ${c.response.reason}`,
      );
      expect(
        answer.headers.map(([n]) => n),
        context,
      ).toEqual(c.response.headers.map(([n]) => n));
      expect(header(answer, 'Content-Type'), context).toBe(
        c.response.headers.find(([n]) => n === 'Content-Type')?.[1],
      );
      const length = header(answer, 'Content-Length');
      if (length !== undefined)
        expect(Number(length), context).toBe(Buffer.byteLength(answer.body));
      const ourCookie = header(answer, 'Set-Cookie');
      expect(ourCookie !== undefined, context).toBe(c.set_cookie.length > 0);
      if (ourCookie !== undefined) {
        const ourSid = SET_COOKIE_FORMAT.exec(ourCookie)?.[1];
        expect(ourSid, context).toBeDefined();
        const theirSid = /session_id=([0-9a-f]{40})/.exec(c.set_cookie[0] ?? '')?.[1];
        if (theirSid !== undefined && ourSid !== undefined) issued.set(theirSid, ourSid);
      }
      if (c.response.body_json !== null) {
        expectSameEnvelope(
          JSON.parse(answer.body) as Record<string, unknown>,
          c.response.body_json,
        );
      } else expect(answer.body, context).toBe(c.response.body_text ?? '');
    }
    expect(fake.sessionsCreated).toBe(3);
    expect(fake.errors).toEqual([]);
  });

  it('polls bus_bus like _poll: id > last, last 0 = the last 50 s, text equality, raw numbers', async () => {
    // A database of its own, so that only these rows are on the visitor's channels.
    await cluster.createOdooDatabase('polldb');
    const own = await startFakeOdoo({ pg: cluster, database: 'polldb' });
    const insert = async (channel: string, message: string, age = '0 s'): Promise<number> => {
      const [row] = await cluster.query<{ id: number }>(
        'polldb',
        `INSERT INTO bus_bus (channel, message, create_date, write_date)
         VALUES ($1, $2, (now() at time zone 'UTC') - $3::interval, (now() at time zone 'UTC') - $3::interval)
         RETURNING id`,
        [channel, message, age],
      );
      return row?.id ?? 0;
    };
    try {
      // (id 1 on another channel: `last = old - 1` must not be 0, which means "the last 50 s")
      await insert('["polldb","elsewhere"]', '{"type":"x","payload":0}');
      const old = await insert('["polldb","fx-poll"]', '{"type":"old","payload":1}', '60 s');
      const big = await insert(
        '["polldb","fx-poll"]',
        '{"type":"t","payload":{"big":9007199254740993,"s":"\\u00e9"}}',
      );
      await insert('["polldb", "fx-poll"]', '{"type":"spaced","payload":0}');
      let cookie = '';
      const peek = async (last: number, first = false): Promise<string> => {
        const answer = await httpCall(`${own.url}/websocket/peek_notifications`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Cookie: cookie },
          body: JSON.stringify({
            id: 1,
            params: { channels: ['fx-poll'], last, is_first_poll: first },
          }),
        });
        cookie = (header(answer, 'Set-Cookie') ?? cookie).split(';')[0] ?? '';
        return answer.body.slice(answer.body.indexOf('"notifications": '));
      };
      const bigText = `{"id": ${big}, "message": {"type": "t", "payload": {"big": 9007199254740993, "s": "é"}}}`;
      expect(await peek(0, true)).toBe(`"notifications": [${bigText}]}}`);
      expect(await peek(old - 1)).toBe(
        `"notifications": [{"id": ${old}, "message": {"type": "old", "payload": 1}}, ${bigText}]}}`,
      );
      expect(await peek(big)).toBe('"notifications": []}}');
      expect(await peek(big + 1000)).toBe(`"notifications": [${bigText}]}}`);
    } finally {
      await own.close();
    }
  });

  it('serves health, the addon info route and version differences', async () => {
    const healthAnswer = await httpCall(`${fake.url}/websocket/health`);
    expect([healthAnswer.status, healthAnswer.body]).toEqual([200, '{"status": "pass"}']);
    expect((await httpCall(`${fake.url}/bus_sidecar/info`)).status).toBe(403);
    const info = await httpCall(`${fake.url}/bus_sidecar/info`, {
      headers: { 'X-Bus-Sidecar-Secret': fake.secret },
    });
    expect(JSON.parse(info.body)).toMatchObject({
      server_version: '17.0-20240709',
      server_version_info: [17, 0, 0, 'final', 0, ''],
      websocket_worker_version: null,
    });
    const late = await startFakeOdoo({ pg: cluster, database: DB, version: '19.0', secret: 's' });
    try {
      const sid = late.addSession({ uid: 2, partnerId: 3 });
      const rpc = (path: string, params: unknown): Promise<HttpAnswer> =>
        httpCall(`${late.url}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Cookie: `session_id=${sid}` },
          body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 7, params }),
        });
      await rpc('/websocket/peek_notifications', { channels: [], last: 0, is_first_poll: true });
      expect((await rpc('/websocket/update_bus_presence', { inactivity_period: 5 })).body).toBe(
        '{"jsonrpc": "2.0", "id": 7, "result": {}}',
      );
      const closed = await rpc('/websocket/on_closed', {});
      expect([closed.status, closed.body]).toEqual([200, '{"jsonrpc": "2.0", "id": 7}']);
      const lateInfo = await httpCall(`${late.url}/bus_sidecar/info`, {
        headers: { 'X-Bus-Sidecar-Secret': 's' },
      });
      expect(JSON.parse(lateInfo.body).websocket_worker_version).toBe('19.0-2');
    } finally {
      await late.close();
    }
  });

  it('records calls, and goes down, slow, holding and erroneous on demand', async () => {
    const before = fake.calls.length;
    await httpCall(`${fake.url}/websocket/health`, { headers: { 'X-Forwarded-For': '10.0.0.1' } });
    expect(fake.calls.slice(before)).toMatchObject([
      { method: 'GET', path: '/websocket/health', headers: { 'x-forwarded-for': '10.0.0.1' } },
    ]);
    expect(fake.callsTo('/websocket/health').length).toBeGreaterThan(0);

    const port = fake.port;
    await fake.setMode('down');
    await expect(httpCall(`${fake.url}/websocket/health`)).rejects.toThrow(/ECONNREFUSED/);
    await fake.setMode('ok');
    expect(fake.port).toBe(port);
    expect((await httpCall(`${fake.url}/websocket/health`)).status).toBe(200);

    await fake.setMode('slow', { delayMs: 200 });
    expect((await httpCall(`${fake.url}/websocket/health`)).status).toBe(200);

    await fake.setMode('held');
    let answered = 0;
    const held = Promise.all(
      [1, 2].map(() => httpCall(`${fake.url}/websocket/health`).then(() => answered++)),
    );
    await waitFor(() => fake.heldAnswers === 2, { message: '2 answers held' });
    expect(answered).toBe(0);
    fake.releaseHeld();
    await held;
    expect([answered, fake.heldAnswers, fake.inFlight]).toEqual([2, 0, 0]);
    expect(fake.maxInFlight).toBeGreaterThanOrEqual(2);
    // The caller that gives up is not kept waiting for, and a change of mode releases the rest.
    const controller = new AbortController();
    const abandoned = fetch(`${fake.url}/websocket/health`, { signal: controller.signal }).catch(
      (error: unknown) => error,
    );
    const kept = httpCall(`${fake.url}/websocket/health`);
    await waitFor(() => fake.heldAnswers === 2, { message: '2 more answers held' });
    controller.abort();
    await abandoned;
    await waitFor(() => fake.heldAnswers === 1, { message: 'the abandoned call let go' });
    await fake.setMode('ok');
    expect((await kept).status).toBe(200);

    await fake.setMode('error500');
    const failed = await httpCall(`${fake.url}/websocket/peek_notifications`);
    expect([failed.status, failed.reason]).toEqual([500, 'INTERNAL SERVER ERROR']);
    expect(failed.body).toMatch(
      /^<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error/,
    );
    await fake.setMode('ok');

    fake.route('POST', '/websocket/peek_notifications', () => ({
      status: 503,
      reason: 'SERVICE UNAVAILABLE',
      headers: [['Content-Length', '0']],
      body: '',
    }));
    expect(
      (await httpCall(`${fake.url}/websocket/peek_notifications`, { method: 'POST' })).status,
    ).toBe(503);
  });
});

interface SessionScenario {
  name: string;
  request: string;
  response_head_raw: string;
  response_headers: Array<[string, string]>;
  response_body?: string;
}

const wsSession = readFixture<{ scenarios: SessionScenario[] }>('odoo17', 'websocket-session.json');

function scenario(name: string): SessionScenario {
  const found = wsSession.scenarios.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no recorded scenario ${name}`);
  return found;
}

async function listening(server: WebSocketServer | Server): Promise<number> {
  if (server instanceof WebSocketServer) {
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    return (server.address() as AddressInfo).port;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

describe('raw websocket client', () => {
  it('writes the recorder’s handshake request byte for byte', () => {
    const recordedRequest = scenario('handshake_missing_origin').request;
    const cookie = /Cookie: (.*)\r\n/.exec(recordedRequest)?.[1];
    expect(handshakeRequest({ host: '127.0.0.1:58072', cookie, omit: ['Origin'] })).toBe(
      recordedRequest,
    );
    expect(
      handshakeRequest({ host: '127.0.0.1:58072', origin: 'http://127.0.0.1:58069', cookie }),
    ).toBe(scenario('handshake_subscribe_and_message_post').request);
  });

  it('reproduces the recorded 400 handshake of a plain server', async () => {
    const recordedCase = scenario('handshake_missing_origin');
    const server = createHttpServer();
    let seen: string[] = [];
    server.on('upgrade', (req, socket) => {
      seen = req.rawHeaders;
      socket.end(`${recordedCase.response_head_raw}\r\n\r\n${recordedCase.response_body ?? ''}`);
    });
    const port = await listening(server);
    try {
      const raw = await RawWebSocket.open(
        '127.0.0.1',
        port,
        handshakeRequest({ host: `127.0.0.1:${port}`, cookie: 'session_id=x', omit: ['Origin'] }),
      );
      expect(raw.upgraded).toBe(false);
      expect(raw.response?.statusLine).toBe('HTTP/1.1 400 BAD REQUEST');
      expect(raw.response?.headers).toEqual(recordedCase.response_headers);
      expect(raw.response?.body.toString('utf8')).toBe(recordedCase.response_body);
      expect(seen.filter((_, i) => i % 2 === 0)).not.toContain('Origin');
      await raw.closed;
      raw.destroy();
    } finally {
      server.close();
    }
  });

  it('sends what ws refuses to send, and reads the server’s frames and FIN', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    server.on('connection', (socket) => socket.on('error', () => {}));
    const port = await listening(server);
    try {
      const raw = await RawWebSocket.open(
        '127.0.0.1',
        port,
        handshakeRequest({ host: `127.0.0.1:${port}`, origin: 'http://x' }),
      );
      expect(raw.response?.status).toBe(101);
      expect(raw.response?.headers).toContainEqual([
        'Sec-WebSocket-Accept',
        's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      ]);
      raw.ping('p'.repeat(125));
      const pong = await raw.nextFrame();
      expect([pong.opcode, pong.payload.toString()]).toEqual([Opcode.PONG, 'p'.repeat(125)]);
      raw.sendFrame({ opcode: Opcode.TEXT, payload: '{"event_name":"foo"}', mask: false });
      const close = await raw.closeFrame();
      expect(close.closeCode).toBe(1002);
      await raw.serverEnded;
      expect(raw.tcpEvents.map((e) => e.ev)).toContain('server-fin');
      raw.destroy();
    } finally {
      server.close();
    }
  });
});

describe('Odoo-like websocket client', () => {
  it('subscribes like the worker, without permessage-deflate, and collects batches', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
    const port = await listening(server);
    const received: string[] = [];
    let upgradeHeaders: Record<string, unknown> = {};
    server.on('connection', (socket, req) => {
      upgradeHeaders = req.headers;
      socket.on('message', (data) => {
        received.push(data.toString());
        // One batch, after the subscribe.
        if (received.length === 1)
          socket.send('[{"id": 7, "message": {"type": "t", "payload": {}}}]');
      });
    });
    try {
      const client = await connectBrowserSocket(`ws://127.0.0.1:${port}/websocket`, {
        cookie: 'session_id=abc',
      });
      expect(upgradeHeaders['sec-websocket-extensions']).toBeUndefined();
      expect(upgradeHeaders).toMatchObject({
        origin: `http://127.0.0.1:${port}`,
        cookie: 'session_id=abc',
      });
      expect(upgradeHeaders['user-agent']).toMatch(/Mozilla/);
      client.subscribe(['discuss.channel_1'], 0);
      const notification = await client.waitForNotification((n) => n.message.type === 't');
      expect(notification.id).toBe(7);
      client.updatePresence(1655, { 'res.partner': [3] });
      await waitFor(() => received.length === 2);
      expect(received).toEqual([
        '{"event_name":"subscribe","data":{"channels":["discuss.channel_1"],"last":0}}',
        '{"event_name":"update_presence","data":{"inactivity_period":1655,"im_status_ids_by_model":{"res.partner":[3]}}}',
      ]);
      expect(client.notificationIds()).toEqual([7]);
      expect(client.lastNotificationId()).toBe(7);
      expect(await client.close(1001)).toEqual({ code: 1001, reason: '' });
    } finally {
      server.close();
    }
  });

  it('rejects a refused handshake with its status, headers and body', async () => {
    const server = createHttpServer();
    server.on('upgrade', (_req, socket) => {
      const body = 'Empty or missing header(s): origin';
      socket.end(`HTTP/1.1 400 BAD REQUEST\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    const port = await listening(server);
    try {
      const error = await connectBrowserSocket(`ws://127.0.0.1:${port}/websocket`, {
        origin: null,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HandshakeError);
      expect((error as HandshakeError).status).toBe(400);
      expect((error as HandshakeError).body).toBe('Empty or missing header(s): origin');
    } finally {
      server.close();
    }
  });
});
