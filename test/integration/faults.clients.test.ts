/**
 * Clients that hurt: one that stops reading (closed once its unsent data passes the limit, others
 * unaffected, memory bounded) and 2,000 reconnecting at once, retrying as Odoo's worker does (all
 * come back, each gets exactly its missing rows, Odoo never sees more calls at once than the
 * limit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handshakeRequest, RawWebSocket } from '../helpers/clients/rawWebSocket.js';
import { ReconnectingSocket } from '../helpers/clients/reconnectingSocket.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const LIMIT = 256 * 1024;
const CONCURRENCY = 4;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ sidecar: { maxBufferedBytes: LIMIT, odooConcurrency: CONCURRENCY } });
});
afterAll(async () => {
  await stack?.close();
});

describe('slow consumer', () => {
  it('is closed once its unsent data passes the limit; a reading client gets everything', async () => {
    const port = Number(new URL(stack.httpUrl).port);
    const stalled = stack.login({ memberChannels: [11] });
    const raw = await RawWebSocket.open(
      '127.0.0.1',
      port,
      handshakeRequest({
        host: `127.0.0.1:${port}`,
        origin: `http://127.0.0.1:${port}`,
        cookie: stalled.cookie,
      }),
    );
    raw.sendText('{"event_name":"subscribe","data":{"channels":[],"last":0}}');
    const reader = stack.login({ memberChannels: [11] });
    const healthy = await stack.connect({ cookie: reader.cookie });
    healthy.subscribe([], 0);
    await waitFor(
      () => [...stack.sidecar.websockets.sockets].filter((s) => s.db !== undefined).length === 2,
    );
    raw.socket.pause(); // stops reading: the kernel buffers fill, then the sidecar's

    const before = (await stack.sidecar.metrics.slowConsumers.get()).values[0]?.value ?? 0;
    const writer = stack.writer();
    // Loopback receive buffers grow to tens of MB before the sender's own buffer fills.
    const big = 'x'.repeat(500_000);
    const ids: number[] = [];
    for (let i = 0; i < 300; i++) {
      ids.push(
        ...(await writer.sendmany([
          { channel: ['discuss.channel', 11], type: 'bulk', payload: { i, big } },
        ])),
      );
      if (((await stack.sidecar.metrics.slowConsumers.get()).values[0]?.value ?? 0) > before) break;
    }
    await waitFor(
      async () =>
        ((await stack.sidecar.metrics.slowConsumers.get()).values[0]?.value ?? 0) === before + 1,
    );
    // Its memory is released: the sidecar no longer holds it.
    await waitFor(() => [...stack.sidecar.websockets.sockets].length === 1);
    await healthy.waitForNotification((n) => n.id === ids.at(-1));
    expect(healthy.notificationIds().filter((id) => id >= (ids[0] as number))).toEqual(ids);
    raw.destroy();
    await healthy.close();
  });
});

describe('reconnect storm', () => {
  it('2,000 sockets reconnecting at once are all back, each with exactly its missing rows, within the call limit', async () => {
    const N = 2000;
    const writer = stack.writer();
    const [seen] = await writer.sendmany([{ channel: 'broadcast', type: 'seen', payload: {} }]);
    const missed = await writer.sendmany([
      { channel: 'broadcast', type: 'missed', payload: 1 },
      { channel: 'broadcast', type: 'missed', payload: 2 },
      { channel: 'broadcast', type: 'missed', payload: 3 },
    ]);
    await waitFor(() => stack.odoo.inFlight === 0);
    const peeksBefore = stack.odoo.callsTo('/websocket/peek_notifications').length;
    // Odoo's worker: a handshake that fails (refused, cut) is tried again after its backoff, and
    // each connection subscribes from the last id it has. Like a browser, a client waits for as
    // long as its connection lives: a short limit would only add abandoned handshakes to the
    // server's work on a busy machine.
    const clients = Array.from(
      { length: N },
      () =>
        new ReconnectingSocket(stack.wsUrl, {
          cookie: stack.login().cookie,
          last: seen as number,
          handshakeTimeoutMs: 120_000,
        }),
    );
    for (const client of clients) client.start();
    try {
      await Promise.all(
        clients.map((c) => c.waitForNotification((n) => n.id === missed[2], 280_000)),
      );
      // Every socket back, on the sidecar's side too.
      expect(clients.filter((c) => !c.isOpen)).toEqual([]);
      await waitFor(() => stack.sidecar.websockets.sockets.size === N, {
        message: () => `${N} sockets at the sidecar (now ${stack.sidecar.websockets.sockets.size})`,
      });
      // Exactly its missing rows, once each, however many connections it took.
      for (const client of clients) expect(client.notificationIds()).toEqual(missed);
      // At most one subscribe per connection reached Odoo, never more at once than the limit.
      const connections = clients.reduce((sum, c) => sum + c.connections.length, 0);
      const peeks = stack.odoo.callsTo('/websocket/peek_notifications').length - peeksBefore;
      expect(peeks).toBeGreaterThanOrEqual(N);
      expect(peeks).toBeLessThanOrEqual(connections);
      expect(stack.odoo.maxInFlight).toBeLessThanOrEqual(CONCURRENCY);
      expect(stack.odoo.maxInFlight).toBe(CONCURRENCY);
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
    }
    // 2,000 handshakes and subscribes through a fake Odoo in one process: minutes on a busy machine.
  }, 330_000);
});
