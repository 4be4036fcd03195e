/**
 * SIGTERM on a sidecar process holding 1,000 sockets: it stops accepting, closes every socket with
 * 1012 spread over the configured window (no thundering herd of reconnects), finishes the delivery
 * it had started, and exits within its bound; a second signal exits at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSidecar } from '../helpers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/waitFor.js';
import { connectOdooSocket, type OdooSocket } from '../helpers/wsClient.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
});
afterAll(async () => {
  await stack?.close();
});

describe('graceful shutdown', () => {
  it('closes 1,000 sockets with 1012 over the window, delivers what it had read, exits in time', async () => {
    const WINDOW_S = 2;
    const sidecar = await spawnSidecar({
      ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
      shutdownWindowSeconds: WINDOW_S,
      shutdownTimeoutSeconds: 15,
      coalesceMs: 150,
      logLevel: 'info',
    });
    const url = `ws://127.0.0.1:${sidecar.port}/websocket`;
    const sockets: OdooSocket[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: 100 }, async () => {
              const socket = await connectOdooSocket(url, { cookie: stack.login().cookie });
              socket.subscribe([], 0);
              return socket;
            }),
          )),
        );
      }
      await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length >= 1000, {
        timeoutMs: 30_000,
      });
      const closedAt = new Map<OdooSocket, { code: number; at: number }>();
      for (const socket of sockets)
        void socket.closed.then(({ code }) => closedAt.set(socket, { code, at: Date.now() }));

      // A notification the sidecar has been told about, still in its 150 ms coalescing window.
      const [inFlight] = await stack
        .writer()
        .sendmany([{ channel: 'broadcast', type: 'in-flight', payload: {} }]);
      const signalledAt = Date.now();
      sidecar.kill('SIGTERM');
      const exit = await sidecar.exited;
      await waitFor(() => closedAt.size === 1000, { timeoutMs: 5000 });

      expect(exit.code).toBe(0);
      expect(exit.at - signalledAt).toBeLessThan((WINDOW_S + 5) * 1000);
      const closes = [...closedAt.values()];
      expect(new Set(closes.map((c) => c.code))).toEqual(new Set([1012]));
      const times = closes.map((c) => c.at).sort((a, b) => a - b);
      // Spread over the window, not all at once.
      expect((times.at(-1) as number) - (times[0] as number)).toBeGreaterThan(
        WINDOW_S * 1000 * 0.6,
      );
      const inFirstTenth = times.filter((t) => t - (times[0] as number) < WINDOW_S * 100).length;
      expect(inFirstTenth).toBeLessThan(250);
      // Sockets still open when the read completed got the notification.
      const late = sockets.filter((s) => (closedAt.get(s)?.at ?? 0) - signalledAt > 600);
      expect(late.length).toBeGreaterThan(500);
      for (const socket of late) expect(socket.notificationIds()).toContain(inFlight);
      // Nothing listens any more.
      await expect(connectOdooSocket(url)).rejects.toThrow();
    } finally {
      sidecar.kill('SIGKILL');
      await Promise.all(sockets.map((s) => s.terminate()));
    }
  }, 90_000);

  it('exits at once on a second signal', async () => {
    const sidecar = await spawnSidecar({
      ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
      shutdownWindowSeconds: 30,
      shutdownTimeoutSeconds: 60,
      logLevel: 'info',
    });
    // Two sockets: the first is closed as the shutdown starts, the second only half a window
    // (15 s) later, so the shutdown is surely still running when the second signal comes.
    const url = `ws://127.0.0.1:${sidecar.port}/websocket`;
    const sockets = [await connectOdooSocket(url), await connectOdooSocket(url)];
    try {
      sidecar.kill('SIGTERM');
      await waitFor(() => sidecar.output.join('').includes('shutting down'));
      const second = Date.now();
      sidecar.kill('SIGTERM');
      const exit = await sidecar.exited;
      expect(exit.at - second).toBeLessThan(1000);
      expect(exit.code).toBe(1);
    } finally {
      sidecar.kill('SIGKILL');
      await Promise.all(sockets.map((s) => s.terminate()));
    }
  });
});
