/**
 * Deadlines follow a clock that never jumps: a step of the wall clock (NTP, a VM resumed, an admin
 * setting the date) must not close every socket at the next sweep with 4002 or as a dead peer.
 * Only `Date` is faked here; timers and the monotonic clock run as usual.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    // A ping every second of silence: each ping received proves one more sweep ran.
    sidecar: { pingAfterSeconds: 1, pongTimeoutSeconds: 15, keepAliveTimeoutSeconds: 3600 },
  });
});
afterEach(() => {
  vi.useRealTimers();
});
afterAll(async () => {
  await stack?.close();
});

describe('wall-clock steps', () => {
  it.each([
    ['forward', 6 * 3600_000],
    ['backward', -6 * 3600_000],
  ])('a %s step of Date.now() closes no socket', async (_direction, step) => {
    const socket = await stack.subscribed(stack.login().cookie);
    // Rows written before the step, so the writer's and the reader's own clocks are not involved.
    const writer = stack.writer();
    await waitFor(() => socket.pingsReceived >= 1, { message: 'a first ping' });
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() + step);
    const pings = socket.pingsReceived;
    // Two more sweeps after the step (each pings the silent socket once its pong came back).
    const closedEarly = socket.closed.then(({ code }) => {
      throw new Error(`the socket was closed with ${code} after the step`);
    });
    await Promise.race([
      waitFor(() => socket.pingsReceived >= pings + 2, { message: 'two sweeps after the step' }),
      closedEarly,
    ]);
    closedEarly.catch(() => undefined);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    vi.useRealTimers();
    const [id] = await writer.sendmany([{ channel: 'broadcast', type: 'after-step', payload: {} }]);
    await socket.waitForNotification((n) => n.id === id);
    await socket.close();
  });
});
