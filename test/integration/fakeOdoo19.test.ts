/**
 * The fake Odoo's `19.0` profile against the recordings of a real Odoo 19.0
 * (`test/fixtures/odoo19/http-routes.json`): every recorded case of the routes the sidecar calls,
 * replayed in the recorded order with the recorded sessions, gets the recorded status line, header
 * names in order, `Set-Cookie` (or none), and envelope — channel lists in their exact order. The
 * session-changing cases the fake does not serve (login, logout, the request that rotated S1) are
 * applied as what they did.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonDumps } from '../../src/json/pythonJson.js';
import { httpCall } from '../helpers/clients/httpCall.js';
import { type FakeOdoo, startFakeOdoo } from '../helpers/fakeOdoo/fakeOdoo.js';
import { readFixture } from '../helpers/fixtures.js';
import { type PgCluster, startPostgres } from '../helpers/servers/postgres.js';

const DB = 'odoo19';

interface RouteCase {
  name: string;
  client: string | null;
  request: {
    method: string;
    path: string;
    port: number;
    headers: Record<string, string>;
    body: unknown;
  };
  response: {
    status: number;
    reason: string;
    headers: Array<[string, string]>;
    body_json: Record<string, unknown> | null;
    body_text: string | null;
    body_raw_if_small: string | null;
  };
  cookie_sent: string | null;
  set_cookie: string[];
  server_log: string[];
}

const routes = readFixture<{ meta: { http_port: number }; cases: RouteCase[] }>(
  'odoo19',
  'http-routes.json',
);

/** The recorded users (`meta.ids`; groups and channels as the recorded channel lists show). */
const USERS: Record<string, Parameters<FakeOdoo['addSession']>[0]> = {
  admin: { uid: 2, partnerId: 3, memberChannels: [1, 2, 3, 4, 5, 6] },
  demo2: { uid: 5, partnerId: 6, memberChannels: [1, 3, 4, 5] },
  demo3: { uid: 6, partnerId: 7, memberChannels: [1], publicChannels: [5, 6] },
};
const ADMIN_GROUPS = [4, 1, 2, 3, 7, 8, 9, 13, 14, 15];
const USER_OF_CLIENT: Record<string, string> = {
  admin: 'admin',
  'admin-logout': 'admin',
  demo2: 'demo2',
  demo3: 'demo3',
  'demo3-rotation': 'demo3',
};
/** Routes of the fake; the others of the recording are not the bus's (`/web/session/*`, ...). */
const SERVED = [
  '/websocket/peek_notifications',
  '/websocket/update_bus_presence',
  '/websocket/on_closed',
  '/websocket/health',
  '/bus/get_autovacuum_info',
];

const sidOf = (setCookie: string | undefined): string | undefined =>
  /^session_id=([A-Za-z0-9_-]{84}); Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT; Max-Age=604800; HttpOnly; Path=\/$/.exec(
    setCookie ?? '',
  )?.[1];

function expectSameEnvelope(
  ours: Record<string, unknown>,
  theirs: Record<string, unknown>,
  context: string,
): void {
  expect(Object.keys(ours), context).toEqual(Object.keys(theirs));
  if ('error' in theirs) {
    const [a, b] = [ours.error, theirs.error] as Array<Record<string, unknown>>;
    const [da, db] = [a?.data, b?.data] as Array<Record<string, unknown>>;
    expect(Object.keys(da ?? {}), context).toEqual(Object.keys(db ?? {}));
    expect({ ...a, data: { ...da, debug: '' } }, context).toEqual({
      ...b,
      data: { ...db, debug: '' },
    });
    return;
  }
  const [ra, rb] = [ours.result, theirs.result] as Array<Record<string, unknown> | undefined>;
  if (rb !== undefined && 'channels' in rb) {
    expect(Object.keys(ra ?? {}), context).toEqual(['channels', 'notifications']);
    // Odoo 19 builds an ordered set: same texts, same order.
    expect(
      ((ra?.channels ?? []) as unknown[]).map((c) => pythonDumps(c)),
      context,
    ).toEqual((rb.channels as unknown[]).map((c) => pythonDumps(c)));
    expect(Array.isArray(ra?.notifications), context).toBe(true);
  } else expect(ra, context).toEqual(rb);
}

let cluster: PgCluster;
let fake: FakeOdoo;

beforeAll(async () => {
  cluster = await startPostgres();
  await cluster.createOdooDatabase(DB);
  fake = await startFakeOdoo({
    pg: cluster,
    database: DB,
    version: '19.0',
    publicChannels: [5, 6],
  });
});
afterAll(async () => {
  await fake?.close();
  await cluster?.stop();
});

describe("fake Odoo's 19.0 profile", () => {
  it('answers every recorded HTTP-port case of the bus routes like Odoo 19 did', async () => {
    const cases = routes.cases.filter((c) => c.request.port === routes.meta.http_port);
    // The sessions the recording logged in, under their recorded sids.
    for (const c of cases) {
      const user = USER_OF_CLIENT[c.client ?? ''];
      if (user === undefined || c.cookie_sent === null || fake.session(c.cookie_sent)) continue;
      if (c.request.path === '/web/session/authenticate') continue;
      const groupIds = user === 'admin' ? ADMIN_GROUPS : [1, 7];
      fake.addSession({
        sid: c.cookie_sent,
        ...USERS[user],
        uid: USERS[user]?.uid ?? null,
        groupIds,
      });
    }
    // Recorded sid -> the sid the fake issued instead, for the clients' next requests.
    const issued = new Map<string, string>();
    const ours = (sid: string | null) => (sid === null ? null : (issued.get(sid) ?? sid));
    let replayed = 0;
    for (const c of cases) {
      const context = `case ${c.name}`;
      if (c.name === 'rotation_soft_request_with_S1') {
        // get_session_info with S1, 3 h old: a soft rotation.
        const S2 = fake.rotateSession(ours(c.cookie_sent) ?? '');
        const recordedS2 = /session_id=([^;]+)/.exec(c.set_cookie[0] ?? '')?.[1] ?? '';
        expect(S2.slice(0, 42), context).toBe(recordedS2.slice(0, 42));
        issued.set(recordedS2, S2);
        continue;
      }
      if (c.name === 'rotation_old_sid_after_deletion_time') {
        fake.expireRotation(ours(c.cookie_sent) ?? '');
        continue;
      }
      if (c.request.path === '/web/session/destroy') {
        fake.destroySession(ours(c.cookie_sent) ?? '');
        continue;
      }
      if (!SERVED.includes(c.request.path.split('?')[0] ?? '')) continue;
      if (c.name === 'public_update_presence_after_peek' && c.cookie_sent !== null) {
        // "public session after a first poll": that first poll is not among the cases.
        fake.addSession({ sid: c.cookie_sent, uid: null });
        const visitor = fake.session(c.cookie_sent);
        if (visitor) visitor.isWebsocketSession = true;
      }
      const headers = { ...c.request.headers };
      if (c.cookie_sent !== null) headers.Cookie = `session_id=${ours(c.cookie_sent)}`;
      // The recorded valid token was Odoo's; the fake accepts its own for the same record.
      const body = /_valid_token$/.test(c.name)
        ? JSON.parse(
            JSON.stringify(c.request.body).replace(
              /odoo-presence-res\.partner_6-[0-9a-f]{64}o0x[0-9a-f]+/,
              `odoo-presence-res.partner_6-${fake.presenceToken('res.partner', 6)}`,
            ),
          )
        : c.request.body;
      const warningsBefore = fake.warnings.length;
      const answer = await httpCall(`${fake.url}${c.request.path}`, {
        method: c.request.method,
        headers,
        ...(body === null ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      replayed++;
      expect(`${answer.status} ${answer.reason}`, context).toBe(
        `${c.response.status} ${c.response.reason}`,
      );
      expect(
        answer.headers.map(([n]) => n),
        context,
      ).toEqual(c.response.headers.map(([n]) => n));
      for (const name of ['Content-Type', 'Accept', 'Cache-Control']) {
        expect(answer.headers.find(([n]) => n === name)?.[1], `${context}: ${name}`).toBe(
          c.response.headers.find(([n]) => n === name)?.[1],
        );
      }
      const ourCookie = answer.headers.find(([n]) => n === 'Set-Cookie')?.[1];
      expect(ourCookie !== undefined, context).toBe(c.set_cookie.length > 0);
      if (ourCookie !== undefined) {
        const ourSid = sidOf(ourCookie);
        expect(ourSid, context).toBeDefined();
        const theirSid = /session_id=([^;]+)/.exec(c.set_cookie[0] ?? '')?.[1];
        if (theirSid !== undefined && ourSid !== undefined) {
          if (issued.has(theirSid)) expect(ourSid, context).toBe(issued.get(theirSid));
          issued.set(theirSid, ourSid);
        }
      }
      if (c.response.body_json !== null) {
        expectSameEnvelope(
          JSON.parse(answer.body) as Record<string, unknown>,
          c.response.body_json,
          context,
        );
      } else
        expect(answer.body, context).toBe(
          c.response.body_text ?? c.response.body_raw_if_small ?? '',
        );
      const loggedIgnoredArgs = c.server_log.some((line) => line.includes('called ignoring args'));
      expect(fake.warnings.length > warningsBefore, context).toBe(loggedIgnoredArgs);
    }
    expect(replayed).toBeGreaterThanOrEqual(40);
    expect(fake.errors).toEqual([]);
  });

  it('follows a rotation for the deletion timer only, then logs the old sid out', async () => {
    const short = await startFakeOdoo({
      pg: cluster,
      database: DB,
      version: '19.0',
    });
    try {
      const S1 = short.addSession({ uid: 2, partnerId: 3 });
      const peek = (sid: string, first = false) =>
        httpCall(`${short.url}/websocket/peek_notifications`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Cookie: `session_id=${sid}` },
          body: JSON.stringify({
            jsonrpc: '2.0',
            method: 'call',
            id: 1,
            params: { channels: [], last: 0, ...(first ? { is_first_poll: true } : {}) },
          }),
        });
      expect((await peek(S1, true)).status).toBe(200);
      // A request after 3 h rotates the session and answers with the new sid.
      short.ageSession(S1);
      const rotating = await peek(S1);
      const S2 = sidOf(rotating.headers.find(([n]) => n === 'Set-Cookie')?.[1]) ?? '';
      expect(S2).not.toBe(S1);
      expect(S2.slice(0, 42)).toBe(S1.slice(0, 42));
      // Within the timer the old sid is served as the new one, with its cookie.
      const again = await peek(S1);
      expect(JSON.parse(again.body).result).toBeDefined();
      expect(sidOf(again.headers.find(([n]) => n === 'Set-Cookie')?.[1])).toBe(S2);
      // Past the deletion time, the old sid is logged out.
      short.expireRotation(S1);
      expect(JSON.parse((await peek(S1)).body).error.code).toBe(100);
      const current = await peek(S2);
      expect(JSON.parse(current.body).result).toBeDefined();
      expect(current.headers.some(([n]) => n === 'Set-Cookie')).toBe(false);
    } finally {
      await short.close();
    }
  });

  it('answers /web/webclient/version_info without a session', async () => {
    const answer = await httpCall(`${fake.url}/web/webclient/version_info`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 4, params: {} }),
    });
    expect(JSON.parse(answer.body)).toEqual({
      jsonrpc: '2.0',
      id: 4,
      result: {
        server_version: '19.0',
        server_version_info: [19, 0, 0, 'final', 0, ''],
        server_serie: '19.0',
        protocol_version: 1,
      },
    });
  });
});
