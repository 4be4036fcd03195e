/**
 * Odoo's HTTP workers failing while browsers subscribe: down, too slow, answering 5xx, or simply
 * fewer than the sockets asking. Clients must get a close code they retry (never 1000), Odoo must
 * never see more calls at once than the limit, and everything works again once Odoo is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const CONCURRENCY = 2;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({
    sidecar: { odooConcurrency: CONCURRENCY, odooQueueLimit: 3, odooTimeoutMs: 800 },
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
    await stack.odoo.setMode('slow', { delayMs: 3000 });
    const started = Date.now();
    expect(await subscribeAndClose()).toEqual({ code: 1014, reason: '' });
    expect(Date.now() - started).toBeLessThan(2900);
    await deliveredAfterRecovery();
  });
});

describe('bounded calls to Odoo', () => {
  it('never has more calls in flight than the limit, refuses past the queue with 1013, never closes with 1000', async () => {
    // Calls abandoned by earlier time-outs may still be running in Odoo: start from an idle Odoo.
    await waitFor(() => stack.odoo.inFlight === 0, { timeoutMs: 5000 });
    await stack.odoo.setMode('slow', { delayMs: 400 });
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, stack.odoo.inFlight);
    }, 2);
    const before1013 = await closeCount('1013');
    const sockets = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { cookie } = stack.login();
        const socket = await stack.connect({ cookie });
        socket.subscribe([], 0);
        return socket;
      }),
    );
    // 2 in flight + 3 queued are served; the other 3 are told to come back later.
    await waitFor(async () => (await closeCount('1013')) - before1013 === 3, { timeoutMs: 5000 });
    await waitFor(() => stack.odoo.inFlight === 0, { timeoutMs: 5000 });
    clearInterval(sampler);
    expect(peak).toBe(CONCURRENCY);
    const closes = await Promise.all(
      sockets.map((s) =>
        Promise.race([s.closed, new Promise<null>((r) => setTimeout(() => r(null), 300))]),
      ),
    );
    const codes = closes.filter((c) => c !== null).map((c) => c?.code);
    expect(codes).toEqual([1013, 1013, 1013]);
    expect(codes).not.toContain(1000);
    await Promise.all(sockets.map((s) => s.terminate()));
    await deliveredAfterRecovery();
  });
});
