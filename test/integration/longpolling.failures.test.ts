/**
 * Long polling when things go wrong or aside the happy path: Odoo down, failing or slow, a browser
 * that goes away while its poll waits, requests Odoo refuses, sessions revoked, the routes around
 * `/longpolling/poll`, the presence rule at work, and a shutdown with polls waiting.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionHash } from '../../src/odoo/sessionHash.js';
import { odooIdle, readPast } from '../helpers/barrier.js';
import { items, LongPollClient } from '../helpers/clients/longPollClient.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const DB = 'odoo15';
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    databases: [DB],
    odoo: { version: '15.0' },
    sidecar: {
      // A time limit far above what a healthy call takes on a loaded machine.
      odooTimeoutMs: 5000,
      // No periodic version check: while Odoo holds its answers, only the test's calls are out.
      infoRefreshSeconds: 3600,
    },
  });
});
afterAll(async () => {
  await stack?.close();
});

function client(cookie?: string): LongPollClient {
  return new LongPollClient({ baseUrl: stack.httpUrl, cookie });
}

async function maxId(): Promise<number> {
  const [row] = await stack.pg.query<{ id: number | null }>(
    DB,
    'SELECT max(id) AS id FROM bus_bus',
  );
  return row?.id ?? 0;
}

async function held(count: number): Promise<void> {
  await waitFor(() => stack.sidecar.longPolling.heldCount === count, {
    message: () => `${count} held polls (now ${stack.sidecar.longPolling.heldCount})`,
  });
}

describe('Odoo unavailable', () => {
  // `held`: Odoo never answers; only the sidecar's own time limit ends the call.
  for (const mode of ['down', 'error500', 'held'] as const) {
    it(`answers a JSON-RPC error, which Odoo's client retries, when Odoo is ${mode}`, async () => {
      const { cookie } = stack.login();
      const browser = client(cookie);
      await stack.odoo.setMode(mode);
      try {
        const response = await browser.call({ channels: [], last: 0, options: {} });
        // longpolling_bus.js: any failed poll (`guardedCatch`) is polled again 11 to 30 s later.
        expect(response.status).toBe(200);
        expect(response.headers['content-type']).toBe('application/json');
        expect(response.body).toMatchObject({
          jsonrpc: '2.0',
          error: {
            code: 200,
            message: 'Odoo Server Error',
            data: { name: 'odoo_bus_sidecar.OdooUnavailable' },
          },
        });
        expect(response.body?.id).toBeTypeOf('number');
      } finally {
        await stack.odoo.setMode('ok');
      }
      // Back to normal at the next poll.
      const again = await browser.call({ channels: [], last: 0, options: { peek: true } });
      expect(again.body?.result).toMatchObject({ notifications: expect.any(Array) });
      await browser.close();
    });
  }
});

describe('the browser goes away', () => {
  it('while its poll waits: nothing is kept, and later rows go nowhere', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const browser = client(cookie);
    browser.last = await maxId();
    const aborted = async () =>
      (await stack.sidecar.metrics.polls.get()).values.find((v) => v.labels.outcome === 'aborted')
        ?.value ?? 0;
    const before = await aborted();
    const controller = new AbortController();
    const pending = browser.poll([], {}, { signal: controller.signal }).catch((e: Error) => e);
    await held(1);
    expect(stack.sidecar.hub.registry.subscriberCount).toBe(1);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await held(0);
    expect(stack.sidecar.hub.registry.subscriberCount).toBe(0);
    expect(await aborted()).toBe(before + 1);
    const [id] = await stack
      .writer(DB)
      .sendmany([{ channel: ['res.partner', 3], type: 't', payload: 1 }]);
    await readPast(stack, DB, id as number);
    expect(stack.sidecar.longPolling.heldCount).toBe(0);
    expect(stack.sidecar.hub.registry.subscriberCount).toBe(0);
    await browser.close();
  });
});

describe('the browser goes away before Odoo is asked', () => {
  it('its call leaves the queue of calls to Odoo and never reaches Odoo', async () => {
    const gauge = async (name: 'odooInFlight' | 'odooQueued') =>
      (await stack.sidecar.metrics[name].get()).values[0]?.value ?? 0;
    const calls = () => stack.odoo.callsTo('/bus_sidecar/poll').length;
    const before = calls();
    await odooIdle(stack);
    await stack.odoo.setMode('held');
    try {
      // The four slots of calls to Odoo (odooConcurrency) are taken by polls Odoo holds.
      const busy = Array.from({ length: 4 }, () =>
        client().call({ channels: [], last: 0, options: { peek: true } }),
      );
      await waitFor(() => calls() === before + 4);
      const controller = new AbortController();
      const queued = client()
        .call({ channels: [], last: 0, options: { peek: true } }, { signal: controller.signal })
        .catch((error: Error) => error);
      await waitFor(async () => (await gauge('odooQueued')) === 1);
      controller.abort();
      expect(await queued).toBeInstanceOf(Error);
      await waitFor(async () => (await gauge('odooQueued')) === 0);
      await stack.odoo.setMode('ok');
      await Promise.all(busy);
      await odooIdle(stack);
      expect(calls()).toBe(before + 4);
    } finally {
      await stack.odoo.setMode('ok');
    }
  });
});

describe('what Odoo refuses, it refuses itself', () => {
  it('rejects non-string channels with Odoo error', async () => {
    const browser = client(stack.login().cookie);
    const response = await browser.call({ channels: ['ok', 7], last: 0, options: {} });
    expect(response.body).toMatchObject({
      error: {
        code: 200,
        message: 'Odoo Server Error',
        data: {
          name: 'builtins.Exception',
          message: 'bus.Bus only string channels are allowed.',
          arguments: ['bus.Bus only string channels are allowed.'],
        },
      },
    });
    expect(stack.sidecar.longPolling.heldCount).toBe(0);
    await browser.close();
  });

  it('hands calls that are not JSON-RPC to Odoo, which answers them at once', async () => {
    const browser = client();
    const plain = await browser.call(undefined, { body: '{}', contentType: 'text/plain' });
    expect(plain.status).toBe(400);
    expect(plain.text).toContain('Session expired (invalid CSRF token)');
    const garbage = await browser.call(undefined, { body: 'not json' });
    expect(garbage.status).toBe(400);
    expect(garbage.text).toContain('Invalid JSON data');
    const calls = stack.odoo.callsTo('/longpolling/poll');
    expect(calls.slice(-2).map((c) => c.headers['content-type'])).toEqual([
      'text/plain',
      'application/json',
    ]);
  });
});

describe('the routes around the poll', () => {
  it('answers with CORS headers and the cookie Odoo set, as Odoo 13-15 do', async () => {
    const browser = client();
    const response = await browser.call({ channels: [], last: 0, options: { peek: true } });
    expect(response.headers['access-control-allow-origin']).toBe('*');
    expect(response.headers['access-control-allow-methods']).toBe('POST');
    expect(String(response.headers['set-cookie'])).toMatch(/^session_id=[0-9a-f]{40}; Expires=/);
    const preflight = await request(`${stack.httpUrl}/longpolling/poll`, { method: 'OPTIONS' });
    await preflight.body.dump();
    expect(preflight.statusCode).toBe(200);
    expect(preflight.headers['access-control-allow-headers']).toContain('Content-Type');
  });

  it('serves /longpolling/health as Odoo 15.0 and forwards the other /longpolling/* routes', async () => {
    const health = await request(`${stack.httpUrl}/longpolling/health`);
    expect(health.statusCode).toBe(200);
    expect(health.headers['content-type']).toBe('application/json');
    expect(health.headers['cache-control']).toBe('no-store');
    expect(await health.body.text()).toBe('{"status": "pass"}');
    stack.odoo.setImStatus(3, 'away');
    const { cookie } = stack.login();
    const status = await request(`${stack.httpUrl}/longpolling/im_status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', params: { partner_ids: [3] }, id: 1 }),
    });
    expect(await status.body.json()).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: [{ id: 3, im_status: 'away' }],
    });
    expect(stack.odoo.callsTo('/longpolling/im_status').at(-1)?.headers.cookie).toBe(cookie);
  });
});

describe('revoked sessions', () => {
  it('answer the held polls of a revoked session, or of a named partner, at once', async () => {
    const user = stack.login({ uid: 2, partnerId: 3 });
    const other = stack.login({ uid: 6, partnerId: 7 });
    const a = client(user.cookie);
    const b = client(other.cookie);
    a.last = b.last = await maxId();
    const pendingA = a.poll([]);
    const pendingB = b.poll([]);
    await held(2);
    await stack.revoke({ db: DB, sessions: [sessionHash(user.sid)] });
    expect(items(await pendingA)).toEqual([]);
    expect(stack.sidecar.longPolling.heldCount).toBe(1);
    await stack.revoke({ db: DB, partners: [7] });
    expect(items(await pendingB)).toEqual([]);
    await Promise.all([a.close(), b.close()]);
  });
});

describe('presence', () => {
  const writesOf = (sid: string) => stack.odoo.presenceWrites.filter((w) => w.sid === sid);
  const peek = (browser: LongPollClient, inactivity: number) =>
    browser.call({ channels: [], last: 0, options: { bus_inactivity: inactivity, peek: true } });

  it("passes a poll's presence update on only when the last one passed is older than the refresh", async () => {
    // The longest refresh allowed: however slow the machine, the second poll comes within it.
    await stack.startSidecar({ presenceRefreshSeconds: 30 });
    try {
      const { cookie, sid } = stack.login({ uid: 2, partnerId: 3 });
      const browser = client(cookie);
      await peek(browser, 100);
      await peek(browser, 200);
      expect(writesOf(sid).map((w) => w.inactivity)).toEqual([100]);
      const calls = stack.odoo.callsTo('/bus_sidecar/poll').slice(-2);
      expect(calls.map((c) => (c.body as { params: { options: object } }).params.options)).toEqual([
        { bus_inactivity: 100, peek: true },
        { peek: true },
      ]);
      await browser.close();
    } finally {
      await stack.startSidecar();
    }
  });

  it('passes the next presence update on once the refresh has gone by', async () => {
    await stack.startSidecar({ presenceRefreshSeconds: 0.2 });
    try {
      const { cookie, sid } = stack.login({ uid: 2, partnerId: 3 });
      const browser = client(cookie);
      await peek(browser, 100);
      // Polls until one passes: each either passes its update on or leaves it out.
      await waitFor(async () => {
        await peek(browser, 300);
        return writesOf(sid).length === 2;
      });
      expect(writesOf(sid).map((w) => w.inactivity)).toEqual([100, 300]);
      await browser.close();
    } finally {
      await stack.startSidecar();
    }
  });
});

describe('other sidecars', () => {
  it("answers /longpolling/poll as Odoo 16+ does (werkzeug's 404: it has no long polling), asking nobody", async () => {
    await stack.startSidecar({ odooVersion: 16 });
    const callsBefore = stack.odoo.calls.length;
    const response = await client().call({ channels: [], last: 0, options: { peek: true } });
    expect(response.status).toBe(404);
    expect(response.text).toContain('<title>404 Not Found</title>');
    expect(stack.odoo.calls.slice(callsBefore)).toEqual([]);
  });

  it('answers `[]` when nothing comes within the hold time', async () => {
    const sidecar = await stack.startSidecar({ longpollingTimeoutSeconds: 1 });
    const timeouts = async () =>
      (await sidecar.metrics.polls.get()).values.find((v) => v.labels.outcome === 'timeout')
        ?.value ?? 0;
    const browser = client(stack.login({ uid: 2, partnerId: 3 }).cookie);
    browser.last = await maxId();
    const response = await browser.poll([]);
    expect(items(response)).toEqual([]);
    // Ended by the hold's own timer.
    expect(await timeouts()).toBe(1);
    await browser.close();
  });

  it('answers waiting polls `[]` at once when the sidecar shuts down', async () => {
    const sidecar = await stack.startSidecar({ shutdownWindowSeconds: 0 });
    const browser = client(stack.login({ uid: 2, partnerId: 3 }).cookie);
    browser.last = await maxId();
    const pending = browser.poll([]);
    await waitFor(() => sidecar.longPolling.heldCount === 1);
    const shutdown = sidecar.shutdown();
    // Answered as the shutdown begins, not at the end of its 50 s hold.
    expect(sidecar.longPolling.heldCount).toBe(0);
    expect(items(await pending)).toEqual([]);
    await shutdown;
    await browser.close();
  });
});
