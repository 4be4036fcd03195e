/**
 * The sidecar serving Odoo 19 (the fake's `19.0` profile, which answers like the 19 recordings):
 * generation and worker version detected (from the addon, or from Odoo alone), the version check,
 * presence forwarded the 19 way, `/websocket/on_closed` at the end, the `0x00` probe, close 4003,
 * revoked sessions, and sessions that Odoo rotates softly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionHash } from '../../src/odoo/sessionHash.js';
import { barrier } from '../helpers/barrier.js';
import { handshakeRequest, RawWebSocket } from '../helpers/clients/rawWebSocket.js';
import { Opcode } from '../helpers/clients/websocketFrames.js';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { readFixture } from '../helpers/fixtures.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const SECRET = 'odoo19-shared-secret';

/** What the 19 web client sends (`browser-frames.json`, the kept connection). */
const browserFrames = readFixture<{
  proxy_websocket_connections: Array<{
    frames: Array<{ dir: string; op: string; text?: string; payload_hex?: string }>;
  }>;
}>('odoo19', 'browser-frames.json')
  .proxy_websocket_connections.at(-1)
  ?.frames.filter((f) => f.dir === 'client->server');

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    databases: ['odoo19'],
    // Rotated sids stay usable for Odoo's 120 s; tests move the deletion time themselves.
    odoo: { version: '19.0', secret: SECRET },
    // No worker version, no Odoo version: both come from the addon's info route.
    sidecar: { secret: SECRET, sessionRecheckSeconds: 3600 },
  });
});
afterAll(async () => {
  await stack?.close();
});

function calls(path: string, cookie?: string) {
  return stack.odoo
    .callsTo(path)
    .filter((c) => cookie === undefined || c.headers.cookie === cookie)
    .map((c) => (c.body as { params: Record<string, unknown> }).params);
}

function subscribed(cookie: string, channels: string[] = []): Promise<BrowserSocket> {
  return stack.subscribed(cookie, { channels, path: '/websocket?version=19.0-2' });
}

const generalMessage = (text: string) => ({
  channel: ['discuss.channel', 1],
  type: 'discuss.channel/new_message',
  payload: { text },
});

describe('generation and worker version learned from the addon', () => {
  it('knows Odoo 19 and its worker version 19.0-2 without any setting', () => {
    expect(stack.sidecar.odooInfo.major()).toBe(19);
    expect(stack.sidecar.odooInfo.workerVersion()).toBe('19.0-2');
    expect(stack.sidecar.odooInfo.learnedFrom).toBe('addon');
  });

  it("closes outdated browsers with 1000 OUTDATED_VERSION, as Odoo 19's recordings show", async () => {
    const { cookie } = stack.login();
    for (const [path, userAgent, outdated] of [
      ['/websocket?version=19.0-2', 'Mozilla/5.0', false],
      ['/websocket?version=19.0-2', null, false],
      ['/websocket?version=18.0-7', 'Mozilla/5.0', true],
      ['/websocket?version=19.0-1', null, false],
      ['/websocket', 'Mozilla/5.0', true],
      ['/websocket?version=', 'Mozilla/5.0', true],
    ] as const) {
      const socket = await stack.connect({ cookie, path, userAgent });
      if (outdated) {
        expect(await socket.closed, path).toEqual({ code: 1000, reason: 'OUTDATED_VERSION' });
      } else {
        // Subscribed and served (a row written now comes by catch-up or live): not closed.
        socket.subscribe([], 0);
        await barrier(stack, socket);
        expect(socket.ws.readyState, `${path} ${userAgent}`).toBe(socket.ws.OPEN);
        await socket.close();
      }
    }
  });
});

describe('the 19 web client', () => {
  it('is served from its recorded frames: subscribe, update_presence, the 0x00 probe', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3, memberChannels: [1] });
    const socket = await stack.connect({ cookie, path: '/websocket?version=19.0-2' });
    const invalidBefore = (await stack.sidecar.metrics.invalidMessages.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );
    expect(browserFrames?.length).toBeGreaterThan(5);
    for (const frame of browserFrames ?? []) {
      if (frame.op === 'TEXT') socket.send(frame.text ?? '');
      else if (frame.op === 'BINARY') socket.send(Buffer.from(frame.payload_hex ?? '', 'hex'));
    }
    await waitFor(() => calls('/websocket/peek_notifications', cookie).length === 2);
    await waitFor(() => calls('/websocket/update_bus_presence', cookie).length >= 1);
    const peeks = calls('/websocket/peek_notifications', cookie);
    expect(peeks[0]).toMatchObject({ last: 213, is_first_poll: true });
    expect(peeks[1]).toMatchObject({ is_first_poll: false });
    expect(peeks[1]?.channels).toContain('discuss.channel_9');
    // Only the 19 parameter, so Odoo 19 logs no "called ignoring args" warning.
    for (const params of calls('/websocket/update_bus_presence', cookie)) {
      expect(Object.keys(params)).toEqual(['inactivity_period']);
    }
    expect(stack.odoo.warnings).toEqual([]);
    // The probes were neither answered nor counted as bad input; the socket delivers.
    const invalidAfter = (await stack.sidecar.metrics.invalidMessages.get()).values.reduce(
      (sum, v) => sum + v.value,
      0,
    );
    expect(invalidAfter).toBe(invalidBefore);
    expect(socket.otherMessages).toEqual([]);
    const [id] = await stack.writer('odoo19').sendmany([generalMessage('after the probes')]);
    await socket.waitForNotification((n) => n.id === id);
    await socket.close(1001);
  });

  it('forwards update_presence with inactivity_period only, whatever the client adds', async () => {
    const { cookie } = stack.login();
    const socket = await subscribed(cookie);
    socket.updatePresence(0, { 'res.partner': [3] });
    await waitFor(() => calls('/websocket/update_bus_presence', cookie).length === 1);
    socket.updatePresence(3_600_000);
    await waitFor(() => calls('/websocket/update_bus_presence', cookie).length === 2);
    expect(calls('/websocket/update_bus_presence', cookie)).toEqual([
      { inactivity_period: 0 },
      { inactivity_period: 3_600_000 },
    ]);
    expect(stack.odoo.warnings).toEqual([]);
    await socket.close();
  });

  it('calls /websocket/on_closed with the browser cookie when the socket ends', async () => {
    const { cookie } = stack.login();
    const socket = await subscribed(cookie);
    expect(calls('/websocket/on_closed', cookie)).toHaveLength(0);
    await socket.close(1001);
    await waitFor(() => calls('/websocket/on_closed', cookie).length === 1);
    expect(calls('/websocket/on_closed', cookie)).toEqual([{}]);
  });

  it('ignores the 0x00 probe byte for byte: no answer, still open, still delivering', async () => {
    const { cookie } = stack.login();
    await subscribed(cookie);
    const port = Number(new URL(stack.httpUrl).port);
    const raw = await RawWebSocket.open(
      '127.0.0.1',
      port,
      handshakeRequest({
        host: `127.0.0.1:${port}`,
        origin: `http://127.0.0.1:${port}`,
        cookie,
        path: '/websocket?version=19.0-2',
      }),
    );
    raw.sendText('{"event_name":"subscribe","data":{"channels":[],"last":0}}');
    await waitFor(() => calls('/websocket/peek_notifications', cookie).length === 2);
    for (let i = 0; i < 3; i++) raw.sendBinary(Buffer.from([0]));
    raw.ping('alive?');
    const next = await raw.nextFrame({ match: (f) => f.opcode !== Opcode.TEXT });
    expect([next.opcode, next.payload.toString()]).toEqual([Opcode.PONG, 'alive?']);
    const [id] = await stack.writer('odoo19').sendmany([generalMessage('probe')]);
    // The subscribe's own catch-up (the last 50 s) may come first: wait for the new row's frame.
    const text = await raw.nextFrame({
      match: (f) => f.opcode === Opcode.TEXT && f.payload.toString().includes(`{"id":${id},`),
    });
    expect(text.payload.toString()).toContain(`{"id":${id},"message":`);
    raw.destroy();
  });

  it("echoes a client's close 4003 (the 19 recording) and never sends it itself", async () => {
    const port = Number(new URL(stack.httpUrl).port);
    const raw = await RawWebSocket.open(
      '127.0.0.1',
      port,
      handshakeRequest({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` }),
    );
    raw.sendClose(4003, '');
    const close = await raw.closeFrame();
    expect([close.closeCode, close.closeReason]).toEqual([4003, '']);
    await raw.serverEnded;
  });
});

describe('revoked sessions (84-character sids)', () => {
  it('closes 4001 when Odoo says the session is gone, at the next check', async () => {
    const user = stack.login();
    expect(user.sid).toMatch(/^[A-Za-z0-9_-]{84}$/);
    const socket = await subscribed(user.cookie);
    stack.odoo.destroySession(user.sid);
    socket.subscribe(['discuss.channel_1'], 0);
    expect(await socket.closed).toEqual({ code: 4001, reason: '' });
  });

  it("closes 4001 at once on the addon's revocation NOTIFY", async () => {
    const user = stack.login();
    const socket = await subscribed(user.cookie);
    await stack.revoke({ db: 'odoo19', sessions: [sessionHash(user.sid)] });
    expect(await socket.closed).toEqual({ code: 4001, reason: '' });
  });
});

describe('generation detected without the addon, and the other generations', () => {
  it("learns 19 from Odoo's /web/webclient/version_info when no secret is set", async () => {
    const bare = await startStack({ databases: ['odoo19'], odoo: { version: '19.0' } });
    try {
      expect(bare.sidecar.odooInfo.major()).toBe(19);
      expect(bare.sidecar.odooInfo.learnedFrom).toBe('version_info');
      // No worker version without the addon: nobody is told to reload.
      expect(bare.sidecar.odooInfo.workerVersion()).toBeNull();
      const { cookie } = bare.login();
      const socket = await bare.connect({ cookie, path: '/websocket?version=18.0-7' });
      socket.subscribe([], 0);
      await waitFor(() => bare.odoo.callsTo('/websocket/peek_notifications').length === 1);
      socket.updatePresence(0, { 'res.partner': [3] });
      await waitFor(() => bare.odoo.callsTo('/websocket/update_bus_presence').length === 1);
      expect(bare.odoo.callsTo('/websocket/update_bus_presence')[0]?.body).toMatchObject({
        params: { inactivity_period: 0 },
      });
      expect(bare.odoo.warnings).toEqual([]);
      expect(socket.ws.readyState).toBe(socket.ws.OPEN);
      await socket.close();
    } finally {
      await bare.close();
    }
  });

  it('forwards im_status_ids_by_model to 18 (learned from the addon), {} when the client has none', async () => {
    const eighteen = await startStack({
      databases: ['odoo18'],
      odoo: { version: '18.0', secret: SECRET },
      sidecar: { secret: SECRET },
    });
    try {
      expect(eighteen.sidecar.odooInfo.major()).toBe(18);
      const { cookie } = eighteen.login();
      const socket = await eighteen.connect({ cookie, path: '/websocket?version=18.0-7' });
      socket.subscribe([], 0);
      socket.updatePresence(5, {});
      const presence = () =>
        eighteen.odoo
          .callsTo('/websocket/update_bus_presence')
          .map((c) => (c.body as { params: unknown }).params);
      await waitFor(() => presence().length === 1);
      socket.updatePresence(7);
      await waitFor(() => presence().length === 2);
      expect(presence()).toEqual([
        { inactivity_period: 5, im_status_ids_by_model: {} },
        { inactivity_period: 7, im_status_ids_by_model: {} },
      ]);
      await socket.close();
    } finally {
      await eighteen.close();
    }
  });
});

describe('sessions that Odoo 19 rotates softly (new id, same first 42 characters)', () => {
  const sidecarSocket = (sid: string) =>
    [...stack.sidecar.websockets.sockets].find((s) => s.sessionId === sid);

  it('follows a rotation made by the browser: new id adopted, still delivering, revoked by the same hash', async () => {
    const user = stack.login();
    const socket = await subscribed(user.cookie);
    // The browser's own HTTP request, 3 h after the login, rotated the session.
    const S2 = stack.odoo.rotateSession(user.sid);
    expect(S2.slice(0, 42)).toBe(user.sid.slice(0, 42));
    // The sidecar's next call still carries S1: Odoo serves it as S2 and names S2 in Set-Cookie.
    socket.subscribe(['discuss.channel_1'], socket.lastNotificationId());
    await waitFor(() => sidecarSocket(S2));
    expect(sidecarSocket(S2)?.browser.cookie).toBe(`session_id=${S2}`);
    // Past S1's deletion time, the socket works on as S2 (S1 alone would now be refused).
    stack.odoo.expireRotation(user.sid);
    socket.subscribe(['discuss.channel_1'], socket.lastNotificationId());
    await waitFor(() => calls('/websocket/peek_notifications', `session_id=${S2}`).length === 1);
    const [id] = await stack.writer('odoo19').sendmany([generalMessage('after the rotation')]);
    await socket.waitForNotification((n) => n.id === id);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    // Indexed under the hash of the first 42 characters: the addon's revocation of S2 reaches it.
    expect(sessionHash(S2)).toBe(sessionHash(user.sid));
    await stack.revoke({ db: 'odoo19', sessions: [sessionHash(S2)] });
    expect(await socket.closed).toEqual({ code: 4001, reason: '' });
  });

  it("never has a session rotated by its own calls when the addon says so (the browser's id stays)", async () => {
    const user = stack.login();
    const socket = await subscribed(user.cookie);
    stack.odoo.ageSession(user.sid);
    socket.updatePresence(0);
    await waitFor(() => calls('/websocket/update_bus_presence', user.cookie).length === 1);
    socket.subscribe([], socket.lastNotificationId());
    await waitFor(() => calls('/websocket/peek_notifications', user.cookie).length === 2);
    expect(stack.odoo.session(user.sid)?.nextSid).toBeUndefined();
    expect(sidecarSocket(user.sid)).toBeDefined();
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    await socket.close();
  });

  it('without the addon, hands the browser the id its call rotated: 4002, then Set-Cookie on the reconnect', async () => {
    const bare = await startStack({
      databases: ['odoo19'],
      odoo: { version: '19.0' },
    });
    try {
      const user = bare.login();
      const first = await bare.connect({ cookie: user.cookie, path: '/websocket?version=19.0-2' });
      first.subscribe([], 0);
      await waitFor(() => bare.odoo.callsTo('/websocket/peek_notifications').length === 1);
      // 3 h after the login, the sidecar's presence call is the request that rotates.
      bare.odoo.ageSession(user.sid);
      first.updatePresence(0);
      expect(await first.closed).toEqual({ code: 4002, reason: '' });
      const S2 = bare.odoo.session(user.sid)?.nextSid ?? '';
      expect(S2.slice(0, 42)).toBe(user.sid.slice(0, 42));
      // The worker reconnects with the cookie it has, S1; the 101 gives it Odoo's S2.
      const second = await bare.connect({ cookie: user.cookie, path: '/websocket?version=19.0-2' });
      const setCookie = String(second.upgradeHeaders['set-cookie'] ?? '');
      expect(setCookie).toMatch(
        new RegExp(`^session_id=${S2}; Expires=.* GMT; Max-Age=604800; HttpOnly; Path=/$`),
      );
      second.subscribe([], first.lastNotificationId());
      await waitFor(
        () =>
          bare.odoo
            .callsTo('/websocket/peek_notifications')
            .filter((c) => c.headers.cookie === `session_id=${S2}`).length === 1,
      );
      expect((await bare.sidecar.metrics.sessionHandovers.get()).values[0]?.value).toBe(1);
      // Past S1's deletion time: the socket goes on as S2.
      bare.odoo.expireRotation(user.sid);
      const [id] = await bare.writer('odoo19').sendmany([generalMessage('handed over')]);
      await second.waitForNotification((n) => n.id === id);
      // A browser with the new id connects without a handover.
      const third = await bare.connect({
        cookie: `session_id=${S2}`,
        path: '/websocket?version=19.0-2',
      });
      expect(third.upgradeHeaders['set-cookie']).toBeUndefined();
      await Promise.all([second.close(), third.close()]);
    } finally {
      await bare.close();
    }
  });
});
