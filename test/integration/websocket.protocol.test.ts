/**
 * Odoo's websocket protocol at the byte level: every handshake refusal with its HTTP status, and
 * every close code the sidecar (or its frame parser) sends, checked with a raw client that can break
 * the rules a real client library will not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handshakeRequest, RawWebSocket } from '../helpers/clients/rawWebSocket.js';
import { Opcode } from '../helpers/clients/websocketFrames.js';
import { readFixture } from '../helpers/fixtures.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;
let port = 0;
const host = () => `127.0.0.1:${port}`;
const origin = () => `http://127.0.0.1:${port}`;

interface Scenario {
  name: string;
  response_body?: string;
}
const recorded = readFixture<{ scenarios: Scenario[] }>(
  'odoo17',
  'websocket-session.json',
).scenarios;

beforeAll(async () => {
  stack = await startStack({ sidecar: { workerVersion: '17.0-1' } });
  port = Number(new URL(stack.httpUrl).port);
});
afterAll(async () => {
  await stack?.close();
});

async function open(
  options: Parameters<typeof handshakeRequest>[0] extends infer O ? Partial<O> : never,
) {
  return RawWebSocket.open(
    '127.0.0.1',
    port,
    handshakeRequest({ host: host(), origin: origin(), ...options }),
  );
}

/** An upgraded raw socket with a session that has subscribed (so frames are processed). */
async function subscribed(): Promise<RawWebSocket> {
  const { cookie } = stack.login();
  const raw = await open({ cookie, path: '/websocket?version=17.0-1' });
  expect(raw.response?.status).toBe(101);
  raw.sendText('{"event_name":"subscribe","data":{"channels":[],"last":0}}');
  await waitFor(() =>
    stack.odoo.callsTo('/websocket/peek_notifications').some((c) => c.headers.cookie === cookie),
  );
  return raw;
}

describe('handshake', () => {
  it('switches protocols without extensions, with the RFC accept value', async () => {
    const raw = await open({
      extraHeaders: [['Sec-WebSocket-Extensions', 'permessage-deflate; client_max_window_bits']],
    });
    expect(raw.response?.statusLine).toMatch(/^HTTP\/1\.1 101 /);
    const headers = new Map(raw.response?.headers.map(([k, v]) => [k.toLowerCase(), v]));
    expect(headers.get('sec-websocket-accept')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(headers.has('sec-websocket-extensions')).toBe(false);
    raw.destroy();
  });

  it('answers a missing Origin with 400 and the body Odoo sends', async () => {
    const raw = await open({ omit: ['Origin'] });
    expect(raw.response?.status).toBe(400);
    expect(raw.response?.body.toString()).toBe(
      recorded.find((s) => s.name === 'handshake_missing_origin')?.response_body,
    );
  });

  it('answers a bad key with 400', async () => {
    for (const [key, scenario] of [
      ['BwcHBwcHBwcHBwcHBwcH', 'handshake_key_15_bytes'],
      ['not base64!', 'handshake_key_not_base64'],
    ] as const) {
      const raw = await open({ key });
      expect(raw.response?.status).toBe(400);
      expect(raw.response?.body.toString()).toBe(
        recorded.find((s) => s.name === scenario)?.response_body,
      );
    }
  });

  it('answers another websocket version with 426 and Sec-WebSocket-Version: 13', async () => {
    const raw = await open({ version: '12' });
    expect(raw.response?.status).toBe(426);
    expect(raw.response?.headers).toContainEqual(['Sec-WebSocket-Version', '13']);
  });

  it('answers a non-websocket upgrade with 400', async () => {
    const raw = await RawWebSocket.open(
      '127.0.0.1',
      port,
      `GET /websocket HTTP/1.1\r\nHost: ${host()}\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin()}\r\n\r\n`,
    );
    expect(raw.response?.status).toBe(400);
    expect(raw.response?.body.toString()).toContain('Invalid upgrade header');
  });

  it('answers a plain GET like Odoo (werkzeug 400) and serves /websocket/health', async () => {
    const plain = await fetch(`${stack.httpUrl}/websocket`);
    expect(plain.status).toBe(400);
    expect(await plain.text()).toBe(
      recorded.find((s) => s.name === 'handshake_plain_get_no_upgrade_headers')?.response_body,
    );
    const health = await fetch(`${stack.httpUrl}/websocket/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('cache-control')).toBe('no-store');
    expect(await health.text()).toBe('{"status": "pass"}');
  });

  it("forwards Odoo's own /websocket/ routes, and answers werkzeug's 404 to others without asking Odoo", async () => {
    const { cookie } = stack.login();
    const presence = await fetch(`${stack.httpUrl}/websocket/update_bus_presence?x=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', cookie },
      body: JSON.stringify({ jsonrpc: '2.0', method: 'call', id: 5, params: {} }),
    });
    expect(presence.status).toBe(200);
    expect(((await presence.json()) as { id: unknown }).id).toBe(5);
    expect(stack.odoo.calls.at(-1)?.target).toBe('/websocket/update_bus_presence?x=1');
    stack.odoo.route('GET', '/websocket/custom_route', () => ({
      status: 200,
      reason: 'OK',
      headers: [['Content-Type', 'text/plain']],
      body: 'from odoo',
    }));
    const callsBefore = stack.odoo.calls.length;
    const other = await fetch(`${stack.httpUrl}/websocket/custom_route?x=1`);
    expect(other.status).toBe(404);
    expect(await other.text()).toContain('<title>404 Not Found</title>');
    expect(stack.odoo.calls.length).toBe(callsBefore);
  });
});

describe('version check (17+)', () => {
  it('closes an outdated browser client with 1000 OUTDATED_VERSION', async () => {
    const raw = await open({
      path: '/websocket?version=16.0-1',
      extraHeaders: [['User-Agent', 'Mozilla/5.0']],
    });
    const close = await raw.closeFrame();
    expect([close.closeCode, close.closeReason]).toEqual([1000, 'OUTDATED_VERSION']);
  });

  it('treats a missing version like a wrong one for browsers, and exempts clients without User-Agent', async () => {
    const browser = await open({ extraHeaders: [['User-Agent', 'Mozilla/5.0']] });
    expect((await browser.closeFrame()).closeCode).toBe(1000);
    const iot = await open({ path: '/websocket?version=bogus' });
    iot.ping('alive');
    const pong = await iot.nextFrame();
    expect(pong.opcode).toBe(Opcode.PONG);
    iot.destroy();
  });

  it('keeps a client with the current version', async () => {
    const raw = await open({
      path: '/websocket?version=17.0-1',
      extraHeaders: [['User-Agent', 'Mozilla/5.0']],
    });
    raw.ping('x');
    expect((await raw.nextFrame()).opcode).toBe(Opcode.PONG);
    raw.destroy();
  });
});

describe('frame rules', () => {
  it('answers a ping with the same payload, echoes a client close', async () => {
    const raw = await subscribed();
    raw.ping('fx-ping');
    const pong = await raw.nextFrame({ match: (f) => f.opcode === Opcode.PONG });
    expect(pong.payload.toString()).toBe('fx-ping');
    raw.sendClose(4001, 'x');
    const close = await raw.closeFrame();
    expect([close.closeCode, close.closeReason]).toEqual([4001, 'x']);
  });

  it('closes 1002 on an unmasked frame, a reserved opcode, RSV bits, a stray continuation', async () => {
    for (const spec of [
      { opcode: Opcode.TEXT, payload: '{}', mask: false },
      { opcode: 3, payload: 'x' },
      { opcode: Opcode.TEXT, payload: '{}', rsv1: true },
      { opcode: Opcode.CONTINUATION, payload: 'x' },
      { opcode: Opcode.PING, payload: Buffer.alloc(126) },
    ]) {
      const raw = await subscribed();
      raw.sendFrame(spec);
      expect(
        (await raw.closeFrame()).closeCode,
        JSON.stringify({ ...spec, payload: undefined }),
      ).toBe(1002);
    }
  });

  it('closes 1007 on invalid UTF-8 in a text frame', async () => {
    const raw = await subscribed();
    raw.sendFrame({ opcode: Opcode.TEXT, payload: Buffer.from([0xff, 0xfe]) });
    expect((await raw.closeFrame()).closeCode).toBe(1007);
  });

  it('accepts a message of exactly 1 MiB and closes 1009 past it, fragmented or not', async () => {
    const exact = await subscribed();
    exact.sendFrame({ opcode: Opcode.TEXT, payload: Buffer.alloc(2 ** 20, 0x20) });
    exact.ping('after');
    expect(
      (
        await exact.nextFrame({
          match: (f) => f.opcode === Opcode.PONG || f.opcode === Opcode.CLOSE,
        })
      ).opcode,
    ).toBe(Opcode.PONG);
    exact.destroy();

    const big = await subscribed();
    big.sendFrame({ opcode: Opcode.TEXT, payload: Buffer.alloc(2 ** 20 + 1, 0x20) });
    expect((await big.closeFrame()).closeCode).toBe(1009);

    const fragmented = await subscribed();
    fragmented.sendFrame({
      opcode: Opcode.TEXT,
      payload: Buffer.alloc(2 ** 19 + 1, 0x20),
      fin: false,
    });
    fragmented.sendFrame({ opcode: Opcode.CONTINUATION, payload: Buffer.alloc(2 ** 19, 0x20) });
    expect((await fragmented.closeFrame()).closeCode).toBe(1009);
  });

  it('reassembles a fragmented subscribe and processes a binary frame holding JSON, as Odoo does', async () => {
    const { cookie } = stack.login();
    const raw = await open({ cookie, path: '/websocket?version=17.0-1' });
    raw.sendFrame({ opcode: Opcode.TEXT, payload: '{"event_name":"subscribe",', fin: false });
    raw.sendFrame({
      opcode: Opcode.CONTINUATION,
      payload: '"data":{"channels":["fx-frag"],"last":0}}',
    });
    raw.sendBinary(
      Buffer.from('{"event_name":"subscribe","data":{"channels":["fx-binary"],"last":0}}'),
    );
    await waitFor(() => {
      const calls = stack.odoo
        .callsTo('/websocket/peek_notifications')
        .filter((c) => c.headers.cookie === cookie);
      return calls.length === 2 ? calls : undefined;
    });
    raw.destroy();
  });

  it('ignores the binary 0x00 probe, bad JSON and unknown events without closing', async () => {
    const raw = await subscribed();
    raw.sendBinary(Buffer.from([0]));
    raw.sendText('not json');
    raw.sendText('{"no_event_name":1}');
    raw.sendText('{"event_name":"who_knows","data":{}}');
    raw.sendText('{"event_name":"subscribe","data":{"channels":[1,null],"last":0}}');
    raw.ping('still-open');
    const next = await raw.nextFrame({ match: (f) => f.opcode !== Opcode.TEXT });
    expect(next.opcode).toBe(Opcode.PONG);
    const counted = (await stack.sidecar.metrics.invalidMessages.get()).values;
    const count = (reason: string) => counted.find((v) => v.labels.reason === reason)?.value ?? 0;
    expect(count('invalid-json')).toBeGreaterThanOrEqual(1);
    expect(count('missing-event-name')).toBeGreaterThanOrEqual(1);
    expect(count('non-string-channel')).toBeGreaterThanOrEqual(1);
    expect(count('binary-not-utf8')).toBe(0);
    raw.destroy();
  });

  it('closes 1013 with an empty reason when the 11th frame comes within the window, control frames included', async () => {
    // 10 frames per 600 s instead of Odoo's 2 s: however slow the machine, all 11 fall inside.
    await stack.startSidecar({ rateLimitDelay: 60 });
    port = Number(new URL(stack.httpUrl).port);
    try {
      const raw = await subscribed(); // the subscribe is the first frame
      for (let i = 1; i < 10; i++) raw.ping(`p${i}`);
      await waitFor(() => raw.frames.filter((f) => f.opcode === Opcode.PONG).length === 9);
      raw.ping('p10');
      const close = await raw.closeFrame();
      expect([close.closeCode, close.closeReason]).toEqual([1013, '']);
      await raw.serverEnded;
    } finally {
      await stack.startSidecar();
      port = Number(new URL(stack.httpUrl).port);
    }
  });
});

describe('close codes of the sidecar', () => {
  it('pings after silence and drops a client that does not answer', async () => {
    const quiet = await startStack({ sidecar: { pingAfterSeconds: 1, pongTimeoutSeconds: 1 } });
    try {
      const quietPort = Number(new URL(quiet.httpUrl).port);
      const raw = await RawWebSocket.open(
        '127.0.0.1',
        quietPort,
        handshakeRequest({
          host: `127.0.0.1:${quietPort}`,
          origin: `http://127.0.0.1:${quietPort}`,
        }),
      );
      const ping = await raw.nextFrame();
      expect(ping.opcode).toBe(Opcode.PING);
      // No pong: the TCP connection is dropped without a close frame, as Odoo does.
      await raw.closed;
      expect(raw.frames.some((f) => f.opcode === Opcode.CLOSE)).toBe(false);
    } finally {
      await quiet.close();
    }
  });

  it('closes 4002 when a connection reaches its maximum age', async () => {
    const short = await startStack({ sidecar: { keepAliveTimeoutSeconds: 1 } });
    try {
      const socket = await short.connect();
      const closed = await socket.closed;
      expect(closed.code).toBe(4002);
    } finally {
      await short.close();
    }
  });
});
