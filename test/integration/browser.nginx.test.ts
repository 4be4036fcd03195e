/**
 * The browser path end to end: a headless Chromium page on the proxy's origin, nginx running the
 * repo's own `deploy/nginx.conf`, the sidecar behind it with its LISTEN on PostgreSQL and its reads
 * through PgBouncer, and the fake Odoo serving the page and answering the sidecar. The page opens
 * its socket the way Odoo's worker does (same origin, the browser's own cookies and Origin header).
 * A relay between nginx and the sidecar records what nginx really sent.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonDumps } from '../../src/json/pythonJson.js';
import { type HttpTap, startHttpTap, type TappedRequest } from '../helpers/clients/httpTap.js';
import type { FakeResponse, RecordedCall } from '../helpers/fakeOdoo/fakeOdoo.js';
import { sessionCookie } from '../helpers/fakeOdoo/fakeOdooResponses.js';
import { type Chromium, launchChromium } from '../helpers/servers/chromium.js';
import { type Nginx, startNginx } from '../helpers/servers/nginx.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

/** Served by the fake Odoo through nginx: logs the browser in (sets the session cookie). */
const LOGIN_PAGE = '/bus-test/page';
/** The same page on a foreign origin, setting nothing: the browser brings the cookie it has. */
const FOREIGN_PAGE = '/bus-test/foreign';
const CROSS_ORIGIN_MARKER = 'bus-test-cross-origin';
const PAGE_RPC_ID = 'bus-test-page-post';
/** The Discuss channel the logged-in user is a member of, as the sidecar keys it. */
const MEMBER_CHANNEL = pythonDumps(['odoo17', 'discuss.channel', 1]);

/** What Odoo's websocket worker does, reduced to one socket in the page; frames kept for CDP. */
const PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>bus test</title></head><body><script>
window.busFrames = [];
window.busEvents = [];
window.startBus = function (url, channels) {
  var socket = new WebSocket(url || location.origin.replace('http', 'ws') + '/websocket');
  socket.onopen = function () {
    busEvents.push('open');
    socket.send(JSON.stringify({ event_name: 'subscribe', data: { channels: channels || [], last: 0 } }));
  };
  socket.onmessage = function (event) { busFrames.push(event.data); };
  socket.onclose = function (event) { busEvents.push('close ' + event.code); };
  return true;
};
</script></body></html>
`;

function page(setCookie?: string): FakeResponse {
  const headers: Array<[string, string]> = [
    ['Content-Type', 'text/html; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(PAGE_HTML))],
  ];
  if (setCookie) headers.push(['Set-Cookie', setCookie]);
  return { status: 200, reason: 'OK', headers, body: PAGE_HTML };
}

function hostPort(url: string): string {
  return new URL(url).host;
}

function lowerCaseKeys(headers: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries((headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
  );
}

/** A GET whose path is sent exactly as written (`fetch` would resolve `..` itself). */
function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Notification {
  id: number;
  message: { type: string; payload: unknown };
}

let stack: Stack;
let tap: HttpTap;
let nginx: Nginx;
let chromium: Chromium;
let user: { sid: string; cookie: string };
let sameOrigin: string;
let foreignOrigin: string;
let wsUrl: string;

/** The sidecar's own peek calls (the page's POST carries its own JSON-RPC id). */
function sidecarPeeks(): RecordedCall[] {
  return stack.odoo
    .callsTo('/websocket/peek_notifications')
    .filter((call) => (call.body as { id?: unknown } | undefined)?.id !== PAGE_RPC_ID);
}

/** The upgrade request nginx passed to the sidecar for a page on `origin`. */
function upgradeFrom(origin: string): Promise<TappedRequest> {
  return waitFor(
    () =>
      tap.requests.find(
        (r) => r.path === '/websocket' && r.headers.upgrade && r.headers.origin === origin,
      ),
    { message: `nginx passing on the upgrade of a page on ${origin}` },
  );
}

interface Handshake {
  status: number;
  /** Lower-case names. */
  response: Record<string, string>;
}

/** The answer to the page's socket handshake to `url`, as the browser received it. */
async function handshake(sessionId: string, url: string): Promise<Handshake> {
  const created = await chromium.cdp.waitForEvent(
    'Network.webSocketCreated',
    (e) => e.sessionId === sessionId && e.params.url === url,
  );
  const answered = await chromium.cdp.waitForEvent(
    'Network.webSocketHandshakeResponseReceived',
    (e) => e.sessionId === sessionId && e.params.requestId === created.params.requestId,
  );
  const response = answered.params.response as { status: number; headers: unknown };
  return { status: response.status, response: lowerCaseKeys(response.headers) };
}

beforeAll(async () => {
  stack = await startStack();
  tap = await startHttpTap(hostPort(stack.httpUrl));
  // Two listeners: the proxy's origin, and a foreign site on the same host (so the browser still
  // sends the host's cookie, and only the sidecar's origin check can keep it from Odoo).
  nginx = await startNginx({
    sidecar: tap.address,
    odoo: hostPort(stack.router.url),
    listeners: 2,
  });
  [sameOrigin = '', foreignOrigin = ''] = nginx.origins;
  wsUrl = `${sameOrigin.replace('http', 'ws')}/websocket`;
  user = stack.login({ partnerId: 3, memberChannels: [1] });
  const cookie = sessionCookie(user.sid);
  stack.odoo.route('GET', LOGIN_PAGE, () => page(cookie));
  stack.odoo.route('GET', FOREIGN_PAGE, () => page());
  chromium = await launchChromium();
});

afterAll(async () => {
  // Each one stops even when another fails, and whatever beforeAll managed to start.
  const stops = [
    () => chromium?.close(),
    () => nginx?.stop(),
    () => tap?.close(),
    () => stack?.close(),
  ];
  for (const stop of stops) {
    await Promise.resolve()
      .then(stop)
      .catch(() => undefined);
  }
});

describe('a browser behind nginx', () => {
  it('hears a notification written as Odoo writes it, on a socket opened like Odoo opens it', async () => {
    const tab = await chromium.newPage();
    await tab.navigate(`${sameOrigin}${LOGIN_PAGE}`);
    await tab.evaluate('startBus()');
    const peek = await waitFor(
      () => sidecarPeeks().find((call) => call.headers.cookie?.includes(user.sid)),
      { message: "the sidecar's peek with the browser's cookie" },
    );
    // Written once Odoo's answer is applied: what this test is about is the path through nginx,
    // not the instant of a first subscribe (covered by the delivery tests).
    await waitFor(() => stack.sidecar.hub.registry.subscribersOf(MEMBER_CHANNEL)?.size, {
      message: 'the socket subscribed to its Discuss channel',
    });

    const [id] = await stack.writer().sendmany([
      {
        channel: ['discuss.channel', 1],
        type: 'discuss.channel/new_message',
        payload: { body: 'through nginx' },
      },
    ]);
    const frames = await waitFor(
      async () => {
        const got = await tab.evaluate<string[]>('busFrames');
        return got.some((frame) => frame.includes(`"id":${id},`)) && got;
      },
      { message: `notification ${id} in the page` },
    );
    const batches = frames.map((frame) => JSON.parse(frame) as Notification[]);
    expect(batches.flat().find((n) => n.id === id)).toEqual({
      id,
      message: { type: 'discuss.channel/new_message', payload: { body: 'through nginx' } },
    });
    for (const batch of batches) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.map((n) => n.id)).toEqual(batch.map((n) => n.id).sort((a, b) => a - b));
    }

    // Odoo decided the subscription, seeing the browser as nginx described it.
    expect(peek.headers.cookie).toBe(`session_id=${user.sid}`);
    expect(peek.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(peek.headers['x-forwarded-host']).toBe(hostPort(sameOrigin));
    expect(peek.headers['x-forwarded-proto']).toBe('http');
    expect(peek.body).toMatchObject({ params: { channels: [], last: 0, is_first_poll: true } });

    // nginx passed the upgrade on with the browser's host, port included, and its identity.
    const upgrade = await upgradeFrom(sameOrigin);
    expect(upgrade.headers).toMatchObject({
      upgrade: 'websocket',
      connection: 'upgrade',
      host: hostPort(sameOrigin),
      cookie: `session_id=${user.sid}`,
      'x-forwarded-host': hostPort(sameOrigin),
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-real-ip': '127.0.0.1',
    });
    // Chromium offered permessage-deflate; like Odoo, the sidecar took no extension.
    expect(upgrade.headers['sec-websocket-extensions']).toContain('permessage-deflate');
    const shake = await handshake(tab.sessionId, wsUrl);
    expect(shake.status).toBe(101);
    expect(shake.response).not.toHaveProperty('sec-websocket-extensions');
  });

  it("serves a foreign page's socket as a public visitor: the browser's cookie never reaches Odoo", async () => {
    const tab = await chromium.newPage();
    // Logged in on the proxy's origin first: the browser holds the session cookie for the host.
    await tab.navigate(`${sameOrigin}${LOGIN_PAGE}`);
    await tab.navigate(`${foreignOrigin}${FOREIGN_PAGE}`);
    await tab.evaluate(
      `startBus(${JSON.stringify(wsUrl)}, [${JSON.stringify(CROSS_ORIGIN_MARKER)}])`,
    );
    const peek = await waitFor(
      () =>
        sidecarPeeks().find((call) =>
          (call.body as { params?: { channels?: unknown[] } }).params?.channels?.includes(
            CROSS_ORIGIN_MARKER,
          ),
        ),
      { message: "the peek of the foreign page's socket" },
    );
    expect(peek.headers.cookie).toBeUndefined();
    expect(peek.headers['x-forwarded-host']).toBe(hostPort(sameOrigin));

    // The browser did send the cookie (same host, same site) and nginx passed it on: the sidecar
    // dropped it, and still accepted the socket.
    const upgrade = await upgradeFrom(foreignOrigin);
    expect(upgrade.headers.cookie).toBe(`session_id=${user.sid}`);
    expect((await handshake(tab.sessionId, wsUrl)).status).toBe(101);
    await waitFor(() => tab.evaluate<boolean>('busEvents.includes("open")'));
  });

  it('answers /websocket/health like Odoo and forwards the other /websocket routes to Odoo', async () => {
    const health = await fetch(`${sameOrigin}/websocket/health`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('{"status": "pass"}');
    expect(tap.requests.some((r) => r.path === '/websocket/health')).toBe(true);
    expect(stack.odoo.callsTo('/websocket/health')).toEqual([]);
    // A plain GET never upgrades: werkzeug's 400, as Odoo answers it.
    const plain = await fetch(`${sameOrigin}/websocket`);
    expect(plain.status).toBe(400);
    expect(await plain.text()).toContain('<title>400 Bad Request</title>');

    const tab = await chromium.newPage();
    await tab.navigate(`${sameOrigin}${LOGIN_PAGE}`);
    const answer = await tab.evaluate<{
      status: number;
      body: { result?: { channels?: unknown } };
    }>(
      `fetch('/websocket/peek_notifications', {
         method: 'POST',
         headers: { 'Content-Type': 'application/json' },
         body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: ${JSON.stringify(PAGE_RPC_ID)},
                                params: { channels: [], last: 0, is_first_poll: true } }),
       }).then(async (r) => ({ status: r.status, body: await r.json() }))`,
    );
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.body.result?.channels)).toBe(true);
    const call = stack.odoo
      .callsTo('/websocket/peek_notifications')
      .find((c) => (c.body as { id?: unknown }).id === PAGE_RPC_ID);
    expect(call?.headers.cookie).toBe(`session_id=${user.sid}`);
    expect(call?.headers['x-forwarded-host']).toBe(hostPort(sameOrigin));
    expect(call?.headers['x-forwarded-for']).toBe('127.0.0.1');
    // Through the sidecar, as everything under /websocket.
    expect(tap.requests.some((r) => r.path === '/websocket/peek_notifications')).toBe(true);
  });

  it("keeps the sidecar's /metrics, /healthz and /readyz off the proxy and off the public port", async () => {
    const direct = await fetch(`${stack.adminUrl}/metrics`);
    expect(await direct.text()).toContain('odoo_bus_sidecar_');
    // The port nginx routes the bus to serves only what browsers need.
    for (const path of ['/metrics', '/healthz', '/readyz', '/status', '/status.json']) {
      const answer = await rawGet(stack.httpUrl, path);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.body).not.toContain('odoo_bus_sidecar_');
    }
    const paths = [
      '/metrics',
      '/healthz',
      '/readyz',
      // nginx matches locations on the normalized path: these are Odoo's, whatever they spell.
      '/websocket/../metrics',
      '/websocket/%2e%2e/metrics',
      '/websocket/..%2fmetrics',
    ];
    const sidecarRequests = tap.requests.length;
    const odooCalls = stack.odoo.calls.length;
    for (const path of paths) {
      const answer = await rawGet(sameOrigin, path);
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(answer.body).not.toContain('odoo_bus_sidecar_');
    }
    expect(tap.requests.slice(sidecarRequests)).toEqual([]);
    expect(stack.odoo.calls.length - odooCalls).toBe(paths.length);
    expect(await nginx.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
  });
});
