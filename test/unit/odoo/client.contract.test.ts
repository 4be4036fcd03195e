/**
 * The sidecar's reading of Odoo's JSON-RPC answers, checked on every recorded answer of the routes
 * it calls: each recorded response (status, headers in order, body) is replayed to `OdooClient` by
 * a local server, and the outcome must be what the recording means.
 * - 17.0-20240709: server errors are `code 200`, `/websocket/on_closed` does not exist (404);
 * - 19.0: server errors are `code 0`, `/websocket/on_closed` answers without a `result` key, and
 *   `Set-Cookie` may carry a rotated session id.
 * Both: `code 100` (`odoo.http.SessionExpiredException`) is an expired session.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonDumps } from '../../../src/json/pythonJson.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { type BrowserContext, OdooClient, type RpcOutcome } from '../../../src/odoo/client.js';
import { sessionIdFromSetCookie } from '../../../src/odoo/cookies.js';
import { readFixture } from '../../helpers/fixtures.js';

interface RouteCase {
  name: string;
  request: { path: string; body: { params?: Record<string, unknown> } | null };
  response: {
    status: number;
    reason: string;
    headers: Array<[string, string]>;
    body_json: {
      result?: unknown;
      error?: { code: number; data: { name: string } };
    } | null;
    body_raw_if_small: string | null;
  };
}

const ROUTES = [
  '/websocket/peek_notifications',
  '/websocket/update_bus_presence',
  '/websocket/on_closed',
];

let server: Server;
let replay: RouteCase | undefined;
let client: OdooClient;

beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const recorded = replay;
      if (!recorded) {
        response.writeHead(500).end();
        return;
      }
      const { status, reason, headers, body_json, body_raw_if_small } = recorded.response;
      const body =
        body_raw_if_small ??
        (body_json === null ? '' : pythonDumps(body_json, { compact: false, ensureAscii: false }));
      response.sendDate = false;
      // The recorded headers in order, with the length of the body actually sent.
      const sent = headers
        .filter(([name]) => !['content-length', 'connection', 'date'].includes(name.toLowerCase()))
        .concat([['Content-Length', String(Buffer.byteLength(body))]]);
      response.writeHead(status, reason, sent.flat());
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  client = new OdooClient({
    baseUrl: `http://127.0.0.1:${port}`,
    calls: { slots: 2, places: 10, slotsPerAddress: 2, placesPerAddress: 10, waitMs: 5000 },
    forwarding: { slots: 1, places: 10, slotsPerAddress: 1, placesPerAddress: 10, waitMs: 5000 },
    timeoutMs: 5000,
    maxAnswerBytes: 1024 * 1024,
    logger: createLogger('silent'),
    metrics: createMetrics({ defaultMetrics: false }),
  });
});
afterAll(async () => {
  await client?.close();
  await new Promise((resolve) => server?.close(resolve));
});

const browser: BrowserContext = {
  address: '127.0.0.1',
  cookie: 'session_id=x',
  host: 'odoo.test',
  forwardedFor: undefined,
  forwardedHost: undefined,
  forwardedProto: undefined,
  userAgent: undefined,
};

async function replayed(recorded: RouteCase): Promise<RpcOutcome> {
  replay = recorded;
  return client.rpc(recorded.request.path, recorded.request.body?.params ?? {}, browser);
}

/** What the recorded answer means, independently of the client's code. */
function expected(recorded: RouteCase, serverErrorCode: number) {
  const { status, headers, body_json } = recorded.response;
  const newSessionId = sessionIdFromSetCookie(
    headers.filter(([name]) => name === 'Set-Cookie').map(([, value]) => value),
  );
  if (status === 404) return { kind: 'notFound' };
  if (status !== 200) return { kind: 'unavailable', reason: 'http' };
  const error = body_json?.error;
  if (error?.code === 100) {
    expect(error.data.name).toBe('odoo.http.SessionExpiredException');
    return { kind: 'sessionExpired', newSessionId };
  }
  if (error !== undefined) {
    expect(error.code).toBe(serverErrorCode);
    return { kind: 'rpcError', code: serverErrorCode, name: error.data.name };
  }
  return { kind: 'result', newSessionId };
}

describe.each([
  ['odoo17', 200],
  ['odoo19', 0],
])('OdooClient on every recorded answer of the bus routes (%s)', (version, serverErrorCode) => {
  const cases = readFixture<{ cases: RouteCase[] }>(version, 'http-routes.json').cases.filter(
    (c) => ROUTES.includes(c.request.path) && c.request.body !== null,
  );

  it('covers the recorded answers, with sessions expired and server errors', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    expect(cases.some((c) => c.response.body_json?.error?.code === 100)).toBe(true);
    expect(cases.some((c) => c.response.body_json?.error?.code === serverErrorCode)).toBe(true);
  });

  for (const recorded of cases) {
    it(recorded.name, async () => {
      const outcome = await replayed(recorded);
      expect(outcome).toMatchObject(expected(recorded, serverErrorCode));
      if (outcome.kind === 'result' && 'result' in (recorded.response.body_json ?? {})) {
        expect(JSON.parse(outcome.text).result).toEqual(recorded.response.body_json?.result);
      }
    });
  }
});

describe('Odoo 19 answers the sidecar relies on', () => {
  const cases = readFixture<{ cases: RouteCase[] }>('odoo19', 'http-routes.json').cases;
  const named = (name: string) => {
    const found = cases.find((c) => c.name === name);
    if (!found) throw new Error(`no recorded case ${name}`);
    return found;
  };

  it('/websocket/on_closed: a result without a `result` key is a success (None)', async () => {
    const recorded = named('on_closed_demo2');
    expect(recorded.response.body_raw_if_small).toBe('{"jsonrpc": "2.0", "id": 9}');
    const outcome = await replayed(recorded);
    expect(outcome.kind).toBe('result');
    if (outcome.kind === 'result') expect(outcome.result).toMatchObject({ value: null });
  });

  it('update_bus_presence: {} after a first poll, code 100 before it, code 0 for bad data', async () => {
    expect(await replayed(named('update_presence_after_peek'))).toMatchObject({ kind: 'result' });
    expect(await replayed(named('update_presence_without_prior_peek'))).toMatchObject({
      kind: 'sessionExpired',
    });
    expect(await replayed(named('update_presence_bad_inactivity'))).toMatchObject({
      kind: 'rpcError',
      code: 0,
      name: 'builtins.ValueError',
    });
  });

  it('a peek with the old sid of a rotated session succeeds and names the new sid', async () => {
    const rotation = readFixture<{
      session_rotation: { S1_file_after_rotation: { next_sid: string } };
    }>('odoo19', 'http-routes.json').session_rotation;
    const outcome = await replayed(named('rotation_old_sid_peek_not_first'));
    expect(outcome).toMatchObject({
      kind: 'result',
      newSessionId: rotation.S1_file_after_rotation.next_sid,
    });
  });

  it('the old sid after its deletion time is an expired session', async () => {
    expect(await replayed(named('rotation_old_sid_after_deletion_time_peek'))).toMatchObject({
      kind: 'sessionExpired',
      newSessionId: undefined,
    });
  });
});
