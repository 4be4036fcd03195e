/**
 * The heart of the product, end to end on real processes: Odoo-style writes through PgBouncer in
 * transaction mode, one direct LISTEN, the fake Odoo deciding subscriptions, real `ws` clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrier } from '../helpers/barrier.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  // The test clients play the reverse proxy too (loopback, the default trusted proxy).
  stack = await startStack({ databases: ['odoo17', 'otherdb'], sidecar: { proxyMode: true } });
});
afterAll(async () => {
  await stack?.close();
});

describe('delivery', () => {
  it('delivers a row written and notified as Odoo 17 does to the subscribed socket only', async () => {
    const admin = stack.login({ partnerId: 3, memberChannels: [1] });
    const demo = stack.login({ uid: 6, partnerId: 7, memberChannels: [] });
    const adminSocket = await stack.connect({ cookie: admin.cookie });
    const demoSocket = await stack.connect({ cookie: demo.cookie });
    adminSocket.subscribe([], 0);
    demoSocket.subscribe([], 0);
    await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length >= 2);

    const writer = stack.writer();
    const [id] = await writer.sendmany([
      {
        channel: ['discuss.channel', 1],
        type: 'discuss.channel/new_message',
        payload: { body: 'héllo' },
      },
    ]);
    const got = await adminSocket.waitForNotification((n) => n.id === id);
    expect(got.message).toEqual({
      type: 'discuss.channel/new_message',
      payload: { body: 'héllo' },
    });

    // demo2 is not a member of channel 1: a later broadcast proves it was listening all along.
    const [broadcast] = await writer.sendmany([
      { channel: 'broadcast', type: 'x/ping', payload: {} },
    ]);
    await demoSocket.waitForNotification((n) => n.id === broadcast);
    expect(demoSocket.notificationIds()).not.toContain(id);
    await Promise.all([adminSocket.close(), demoSocket.close()]);
  });

  it('passes each stored message through byte for byte', async () => {
    const { cookie } = stack.login();
    const socket = await stack.subscribed(cookie);
    const raw: string[] = [];
    socket.ws.on('message', (data) => raw.push(String(data)));
    // Text JavaScript cannot round-trip (2^53 + 1, -0.0) and Python's \u escapes, as Odoo stores them.
    const message =
      '{"type":"fixture/x","payload":{"big":9007199254740993,"neg":-0.0,"t":"H\\u00e9llo \\ud83d\\ude00"}}';
    const [row] = await stack.pg.query<{ id: number }>(
      'odoo17',
      `INSERT INTO bus_bus (channel, message, create_date, write_date)
       VALUES ('["odoo17","broadcast"]', $1, now() at time zone 'UTC', now() at time zone 'UTC') RETURNING id`,
      [message],
    );
    await stack.writer().notifyRaw('[["odoo17","broadcast"]]');
    const second = row?.id;
    await socket.waitForNotification((n) => n.id === second);
    expect(raw.some((frame) => frame.includes(`{"id":${second},"message":${message}}`))).toBe(true);
    await socket.close();
  });

  it('keeps two databases on one cluster apart', async () => {
    const a = stack.login({ db: 'odoo17' });
    const b = stack.login({ db: 'otherdb' });
    const [socketA, socketB] = await Promise.all([
      stack.subscribed(a.cookie),
      stack.subscribed(b.cookie),
    ]);
    const [inA] = await stack
      .writer('odoo17')
      .sendmany([{ channel: 'broadcast', type: 'a', payload: {} }]);
    const [inB] = await stack
      .writer('otherdb')
      .sendmany([{ channel: 'broadcast', type: 'b', payload: {} }]);
    // A row in otherdb whose channel names odoo17 must not reach odoo17's sockets either.
    const [forged] = await stack
      .writer('otherdb')
      .sendmany([{ rawChannel: ['odoo17', 'broadcast'], type: 'forged', payload: {} }]);
    const gotA = await socketA.waitForNotification((n) => n.message.type === 'a');
    const gotB = await socketB.waitForNotification((n) => n.message.type === 'b');
    expect(gotA.id).toBe(inA);
    expect(gotB.id).toBe(inB);
    // otherdb is read past the forged row once B has a later otherdb row; A's own later row then
    // comes after anything the sidecar could have sent it from otherdb.
    await barrier(stack, socketB, 'otherdb');
    await barrier(stack, socketA, 'odoo17');
    expect(socketA.notifications().map((n) => n.message.type)).not.toContain('b');
    expect(socketA.notifications().map((n) => n.message.type)).not.toContain('forged');
    expect(socketB.notifications().map((n) => n.message.type)).not.toContain('a');
    expect(socketB.notificationIds()).not.toContain(forged);
    await Promise.all([socketA.close(), socketB.close()]);
  });
});

describe('subscription belongs to Odoo', () => {
  it("calls peek_notifications with the browser's cookie and forwarded headers", async () => {
    const { cookie } = stack.login();
    const socket = await stack.connect({
      cookie: `frontend_lang=fr_BE; ${cookie}`,
      headers: {
        'X-Forwarded-For': '203.0.113.9',
        'X-Forwarded-Host': '127.0.0.1',
        'X-Forwarded-Proto': 'http',
      },
      origin: 'http://127.0.0.1',
    });
    socket.subscribe(['discuss.channel_1'], 0);
    const call = await waitFor(() =>
      stack.odoo
        .callsTo('/websocket/peek_notifications')
        .find((c) => c.headers.cookie?.includes(cookie)),
    );
    expect(call.headers.cookie).toBe(`frontend_lang=fr_BE; ${cookie}`);
    expect(call.headers['x-forwarded-for']).toBe('203.0.113.9');
    expect(call.headers['x-forwarded-host']).toBe('127.0.0.1');
    expect(call.body).toMatchObject({
      params: { channels: ['discuss.channel_1'], last: 0, is_first_poll: true },
    });
    await socket.close();
  });

  it('does not subscribe a channel string Odoo does not grant', async () => {
    const demo = stack.login({ uid: 6, partnerId: 7, memberChannels: [1] });
    // Channel 8 is a private group demo2 is not a member of: Odoo drops the request.
    const socket = await stack.subscribed(demo.cookie, { channels: ['discuss.channel_8'] });
    const writer = stack.writer();
    const [secret] = await writer.sendmany([
      { channel: ['discuss.channel', 8], type: 'private', payload: {} },
    ]);
    const [visible] = await writer.sendmany([
      { channel: ['discuss.channel', 1], type: 'public', payload: {} },
    ]);
    await socket.waitForNotification((n) => n.id === visible);
    expect(socket.notificationIds()).not.toContain(secret);
    await socket.close();
  });

  it('closes with 4001 when Odoo says the session expired', async () => {
    const user = stack.login({ uid: 7, partnerId: 8 });
    const socket = await stack.connect({ cookie: user.cookie });
    socket.subscribe([], 0);
    await waitFor(() =>
      stack.odoo
        .callsTo('/websocket/peek_notifications')
        .some((c) => c.headers.cookie === user.cookie),
    );
    stack.odoo.destroySession(user.sid);
    socket.subscribe(['discuss.channel_1'], 0);
    expect(await socket.closed).toEqual({ code: 4001, reason: '' });
  });

  it('sends the catch-up Odoo returns first, then live rows, ascending and without duplicates', async () => {
    const writer = stack.writer();
    const before = await writer.sendmany([
      { channel: 'broadcast', type: 'old', payload: 1 },
      { channel: 'broadcast', type: 'old', payload: 2 },
    ]);
    const { cookie } = stack.login();
    const socket = await stack.connect({ cookie });
    socket.subscribe([], (before[0] as number) - 1);
    await socket.waitForNotification((n) => n.id === before[1]);
    const [live] = await writer.sendmany([{ channel: 'broadcast', type: 'live', payload: 3 }]);
    await socket.waitForNotification((n) => n.id === live);
    const ids = socket.notificationIds();
    expect(ids.filter((id) => id >= (before[0] as number))).toEqual([...before, live]);
    for (const batch of socket.batches) {
      expect(batch.length).toBeGreaterThan(0);
      expect([...batch].map((n) => n.id)).toEqual(
        [...batch].map((n) => n.id).sort((x, y) => x - y),
      );
    }
    await socket.close();
  });
});
