/**
 * Odoo's HTTP workers failing while browsers subscribe: down, too slow, answering 5xx, or simply
 * fewer than the sockets asking. Clients must get a close code they retry (never 1000), Odoo must
 * never see more calls at once than the limit, and everything works again once Odoo is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrier, odooIdle } from '../helpers/barrier.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const CONCURRENCY = 2;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    sidecar: {
      odooConcurrency: CONCURRENCY,
      odooQueueLimit: 3,
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

async function subscribeAndClose(): Promise<{ code: number; reason: string }> {
  const { cookie } = stack.login();
  const socket = await stack.connect({ cookie });
  socket.subscribe([], 0);
  return socket.closed;
}

async function closeCount(code: string): Promise<number> {
  const { values } = await stack.sidecar.metrics.closes.get();
  return values.find((v) => v.labels.code === code)?.value ?? 0;
}

async function deliveredAfterRecovery(): Promise<void> {
  await stack.odoo.setMode('ok');
  const { cookie } = stack.login();
  const socket = await stack.connect({ cookie });
  socket.subscribe([], 0);
  await waitFor(() =>
    stack.odoo.callsTo('/websocket/peek_notifications').some((c) => c.headers.cookie === cookie),
  );
  const [id] = await stack.writer().sendmany([{ channel: 'broadcast', type: 'back', payload: {} }]);
  await socket.waitForNotification((n) => n.id === id);
  await socket.close();
  // The sidecar is done with it (its on_closed call to Odoo included): the next test starts quiet.
  await waitFor(() => stack.sidecar.websockets.sockets.size === 0, {
    message: 'the sidecar forgot every socket',
  });
  await odooIdle(stack);
}

describe('Odoo unavailable during subscribe', () => {
  it('closes with 1014 when Odoo refuses connections, and recovers', async () => {
    await stack.odoo.setMode('down');
    expect(await subscribeAndClose()).toEqual({ code: 1014, reason: '' });
    await deliveredAfterRecovery();
  });

  it('closes with 1014 when Odoo answers 5xx, and recovers', async () => {
    await stack.odoo.setMode('error500');
    expect(await subscribeAndClose()).toEqual({ code: 1014, reason: '' });
    await deliveredAfterRecovery();
  });

  it('closes with 1014 once a call outlives its time limit, and recovers', async () => {
    // Odoo does not answer at all: only the sidecar's own time limit can end the call.
    await stack.odoo.setMode('held');
    expect(await subscribeAndClose()).toEqual({ code: 1014, reason: '' });
    await deliveredAfterRecovery();
  });
});

describe('bounded calls to Odoo', () => {
  it('never has more calls in flight than the limit, refuses past the queue with 1013, never closes with 1000', async () => {
    // Odoo holds every answer until the test lets it go: the calls are surely in flight together.
    await stack.odoo.setMode('held');
    const before1013 = await closeCount('1013');
    const codes: number[] = [];
    const sockets = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { cookie } = stack.login();
        const socket = await stack.connect({ cookie });
        void socket.closed.then(({ code }) => codes.push(code));
        socket.subscribe([], 0);
        return socket;
      }),
    );
    // 2 in flight + 3 queued are served; the other 3 are told to come back later.
    await waitFor(() => codes.length === 3, { message: () => `3 closes (now ${codes})` });
    expect(codes).toEqual([1013, 1013, 1013]);
    expect((await closeCount('1013')) - before1013).toBe(3);
    await waitFor(() => stack.odoo.heldAnswers === CONCURRENCY, {
      message: () => `${CONCURRENCY} calls held by Odoo (now ${stack.odoo.heldAnswers})`,
    });
    await stack.odoo.setMode('ok');
    // The five others are served, queued ones included, and stay open.
    const served = sockets.filter((s) => s.ws.readyState === s.ws.OPEN);
    expect(served).toHaveLength(5);
    await barrier(stack, served);
    expect(codes).toEqual([1013, 1013, 1013]);
    expect(stack.odoo.maxInFlight).toBeLessThanOrEqual(CONCURRENCY);
    expect(stack.odoo.maxInFlight).toBe(CONCURRENCY);
    await Promise.all(sockets.map((s) => s.terminate()));
    await deliveredAfterRecovery();
  });
});
