/**
 * The admin port of a real sidecar (PostgreSQL, PgBouncer, the fake Odoo): probes, metrics and the
 * status page are there and nowhere else; the status page's data follow what flows (sockets,
 * deliveries, reads, calls to Odoo) and name no session or cookie; `statusAuth` protects the page
 * and leaves the probes and metrics open; calls to Odoo carry the socket's request id, which its
 * log lines name too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFrom } from '../../src/config/load.js';
import type { SettingKey } from '../../src/config/settings.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';
import type { StatusDocument } from '../../src/observability/status/document.js';
import { createSidecar, type Sidecar } from '../../src/sidecar.js';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import { connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { logSink } from '../helpers/logSink.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

/** A second sidecar on the stack with these settings (and this logger), stopped after `run`. */
async function withSidecar(
  overrides: Partial<Record<SettingKey, unknown>>,
  run: (sidecar: Sidecar, urls: { ws: string; admin: string }) => Promise<void>,
  logger: Logger = createLogger('silent'),
): Promise<void> {
  const config = configFrom({
    ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
    ...overrides,
  });
  const sidecar = createSidecar(config, logger);
  const { port } = await sidecar.start();
  try {
    await run(sidecar, {
      ws: `ws://127.0.0.1:${port}/websocket`,
      admin: `http://127.0.0.1:${sidecar.admin?.port}`,
    });
  } finally {
    await sidecar.destroy();
  }
}

async function status(since?: number): Promise<StatusDocument> {
  const answer = await fetch(`${stack.adminUrl}/status.json${since ? `?since=${since}` : ''}`);
  expect(answer.status).toBe(200);
  return (await answer.json()) as StatusDocument;
}

describe('the admin port', () => {
  it('serves the probes, the metrics and the status page; the public port serves none of them', async () => {
    expect((await fetch(`${stack.adminUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${stack.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { ready: boolean }).ready).toBe(true);
    const metrics = await scrapeMetrics(stack.adminUrl);
    expect(metricValue(metrics, 'odoo_bus_sidecar_ready')).toBe(1);
    expect(metrics).toMatch(/^odoo_bus_sidecar_build_info\{version="[^"]+",node="v\d+/m);
    const page = await fetch(`${stack.adminUrl}/status`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("default-src 'none'");
    expect(policy).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await page.text();
    // Self-contained: nothing is loaded from elsewhere.
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).not.toMatch(/(?:href|src)=["']?(?:https?:)?\/\//);
    for (const path of ['/metrics', '/healthz', '/readyz', '/status', '/status.json']) {
      expect({ path, status: (await fetch(`${stack.httpUrl}${path}`)).status }).toEqual({
        path,
        status: 404,
      });
    }
  });

  it('shows who is connected and what flows, counts only', async () => {
    const user = stack.login({ partnerId: 3, memberChannels: [1] });
    const sockets = await Promise.all([
      stack.subscribed(user.cookie),
      stack.subscribed(user.cookie),
    ]);
    const writer = stack.writer();
    let written = 0;
    const seen = await waitFor(
      async () => {
        await writer.sendmany([
          { channel: ['discuss.channel', 1], type: 'admin-test', payload: { n: written++ } },
        ]);
        const doc = await status();
        const deliveries = doc.series.values.deliveries ?? [];
        return deliveries.some((value) => value !== null && value > 0) && doc;
      },
      { message: 'deliveries on the status page', intervalMs: 300 },
    );
    expect(seen.ready).toBe(true);
    expect(seen.totals.sockets).toBe(2);
    expect(seen.totals.websocketSessions).toBe(1);
    // The notify database, where the read check reads, holds a read connection too.
    expect(seen.databases).toContainEqual(
      expect.objectContaining({ db: stack.db, websockets: 2, longPolls: 0 }),
    );
    expect(seen.topChannels).toContainEqual({
      channel: '["odoo17","discuss.channel",1]',
      subscribers: 2,
    });
    expect(seen.odoo.routes.map((r) => r.route)).toContain('/websocket/peek_notifications');
    expect(seen.series.values['ws:odoo17']?.at(-1)).toBe(2);
    expect(Math.max(...(seen.series.values.reads ?? []).map((v) => v ?? 0))).toBeGreaterThan(0);
    const text = JSON.stringify(seen);
    expect(text).not.toContain(user.sid);
    expect(text).not.toContain('password');
    // `since` gives only what is newer.
    const last = seen.series.t.at(-1) as number;
    expect((await status(last)).series.t.every((t) => t > last)).toBe(true);
    await Promise.all(sockets.map((socket) => socket.close()));
  });

  it("sends a socket's request id to Odoo as X-Request-Id, and its log lines name it", async () => {
    const log = logSink('debug');
    await withSidecar(
      { logLevel: 'debug' },
      async (_sidecar, urls) => {
        const { cookie } = stack.login();
        const before = stack.odoo.callsTo('/websocket/peek_notifications').length;
        const socket = await connectBrowserSocket(urls.ws, { cookie });
        // An unknown event is logged (debug) on the socket's own logger.
        socket.ws.send(JSON.stringify({ event_name: 'no_such_event', data: {} }));
        socket.subscribe([], 0);
        const call = await waitFor(
          () => stack.odoo.callsTo('/websocket/peek_notifications').slice(before)[0],
          { message: 'the subscribe reached Odoo' },
        );
        const id = call.headers['x-request-id'] ?? '';
        expect(id).toMatch(/^[0-9a-f]{8}-ws[0-9a-z]+$/);
        const logged = await waitFor(() => log.entries().find((line) => line.requestId === id), {
          message: 'a log line with the request id',
        });
        expect(logged.level).toBe('debug');
        await socket.close();
      },
      log.logger,
    );
  });
});

describe('statusAuth', () => {
  it('basic: the page needs the user and password; probes and metrics stay open', async () => {
    const basic = (credentials: string) => ({
      authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
    });
    await withSidecar(
      { statusAuth: 'basic', statusUser: 'ops', statusPassword: 's3cret' },
      async (_sidecar, { admin }) => {
        for (const path of ['/status', '/status.json']) {
          const refused = await fetch(`${admin}${path}`);
          expect(refused.status).toBe(401);
          expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
          for (const wrong of ['ops:wrong', 'other:s3cret'])
            expect((await fetch(`${admin}${path}`, { headers: basic(wrong) })).status).toBe(401);
          expect((await fetch(`${admin}${path}`, { headers: basic('ops:s3cret') })).status).toBe(
            200,
          );
        }
        const doc = (await (
          await fetch(`${admin}/status.json`, { headers: basic('ops:s3cret') })
        ).json()) as StatusDocument;
        expect(doc.config).toContainEqual({ key: 'statusPassword', value: '[set]' });
        expect(doc.config).toContainEqual({ key: 'dbPassword', value: '[set]' });
        expect(JSON.stringify(doc)).not.toContain('s3cret');
        for (const path of ['/metrics', '/healthz', '/readyz'])
          expect((await fetch(`${admin}${path}`)).status).toBe(200);
      },
    );
  });

  it('secret: the shared secret as a header or as the basic password', async () => {
    await withSidecar(
      { secret: 'the-shared-secret', statusAuth: 'secret' },
      async (_sidecar, { admin }) => {
        expect((await fetch(`${admin}/status.json`)).status).toBe(401);
        const header = { 'x-bus-sidecar-secret': 'the-shared-secret' };
        expect((await fetch(`${admin}/status.json`, { headers: header })).status).toBe(200);
        const basic = `Basic ${Buffer.from('anyone:the-shared-secret').toString('base64')}`;
        expect((await fetch(`${admin}/status`, { headers: { authorization: basic } })).status).toBe(
          200,
        );
        const wrong = { 'x-bus-sidecar-secret': 'not-it' };
        expect((await fetch(`${admin}/status.json`, { headers: wrong })).status).toBe(401);
      },
    );
  });

  it('refuses to start when the chosen protection has nothing to check against', () => {
    expect(() => configFrom({ statusAuth: 'basic' })).toThrow(/statusPassword/);
    expect(() => configFrom({ statusAuth: 'secret' })).toThrow(/secret/);
  });
});
