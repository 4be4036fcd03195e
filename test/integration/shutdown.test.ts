/**
 * SIGTERM on a sidecar process holding 1,000 sockets: it stops accepting, closes every socket with
 * 1012 spread over the configured window (no thundering herd of reconnects), finishes the delivery
 * it had started, and exits within its bound; a second signal exits at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserSocket, connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
});
afterAll(async () => {
  await stack?.close();
});

describe('graceful shutdown', () => {
  it('closes 1,000 sockets with 1012 over the window, delivers what it had read, exits in time', async () => {
    // A window long enough that a stalled test process (a busy machine) cannot make the spread
    // of the closes look different: every check below has seconds of margin.
    const WINDOW_S = 8;
    const sidecar = await spawnSidecar({
      ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
      shutdownWindowSeconds: WINDOW_S,
      // Past this the process exits 1 (`main.ts`): exit code 0 says it finished within it.
      shutdownTimeoutSeconds: 30,
      coalesceMs: 150,
      logLevel: 'info',
    });
    const url = `ws://127.0.0.1:${sidecar.port}/websocket`;
    const sockets: BrowserSocket[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        sockets.push(
          ...(await Promise.all(
            Array.from({ length: 100 }, async () => {
              const socket = await connectBrowserSocket(url, { cookie: stack.login().cookie });
              socket.subscribe([], 0);
              return socket;
            }),
          )),
        );
      }
      // 1,000 subscribes through a fake Odoo in this process: a minute or more on a busy machine.
      await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length >= 1000, {
        timeoutMs: 150_000,
        message: '1,000 subscribes at Odoo',
      });
      const closedAt = new Map<BrowserSocket, { code: number; at: number }>();
      for (const socket of sockets)
        void socket.closed.then(({ code }) => closedAt.set(socket, { code, at: Date.now() }));

      // A notification the sidecar has been told about, still in its 150 ms coalescing window.
      const [inFlight] = await stack
        .writer()
        .sendmany([{ channel: 'broadcast', type: 'in-flight', payload: {} }]);
      sidecar.kill('SIGTERM');
      const exit = await sidecar.exited;
      await waitFor(() => closedAt.size === 1000, { message: 'every socket closed' });

      expect(exit.code).toBe(0);
      const closes = [...closedAt.values()];
      expect(new Set(closes.map((c) => c.code))).toEqual(new Set([1012]));
      // Spread over the window, not all at once: from the first close to the last, more than half
      // the window; within its first quarter, well under half of the sockets (a quarter when even).
      const times = closes.map((c) => c.at).sort((a, b) => a - b);
      const first = times[0] as number;
      expect((times.at(-1) as number) - first).toBeGreaterThan((WINDOW_S * 1000) / 2);
      const inFirstQuarter = times.filter((t) => t - first < (WINDOW_S * 1000) / 4).length;
      expect(inFirstQuarter).toBeLessThan(500);
      // The read it had started was delivered to the sockets still open: most of them.
      const delivered = sockets.filter((s) => s.notificationIds().includes(inFlight as number));
      expect(delivered.length).toBeGreaterThan(500);
      // Nothing listens any more.
      await expect(connectBrowserSocket(url)).rejects.toThrow();
    } finally {
      sidecar.kill('SIGKILL');
      await Promise.all(sockets.map((s) => s.terminate()));
    }
  }, 240_000);

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
    const sockets = [await connectBrowserSocket(url), await connectBrowserSocket(url)];
    try {
      sidecar.kill('SIGTERM');
      await waitFor(() => sidecar.output.join('').includes('shutting down'));
      sidecar.kill('SIGTERM');
      const exit = await sidecar.exited;
      // Exited because of the second signal, not at the end of the shutdown or its time limit.
      expect(sidecar.output.join('')).toContain('second signal: exiting now');
      expect(sidecar.output.join('')).not.toContain('"msg":"shut down"');
      expect(exit.code).toBe(1);
    } finally {
      sidecar.kill('SIGKILL');
      await Promise.all(sockets.map((s) => s.terminate()));
    }
  });
});
