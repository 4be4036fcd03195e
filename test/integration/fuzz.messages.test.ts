/**
 * Fuzzing the client-message parser on a live socket: whatever a client sends in well-formed frames
 * (random JSON, random text, random bytes, subscribe/presence look-alikes), the socket stays open,
 * the sidecar keeps serving, and only well-shaped calls ever reach Odoo.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { barrier, odooIdle } from '../helpers/barrier.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';

let stack: Stack;

beforeAll(async () => {
  // The frame rate limit is Odoo's protection, tested elsewhere; here it would end the run early.
  stack = await startStack({ sidecar: { rateLimitBurst: 100_000 } });
});
afterAll(async () => {
  await stack?.close();
});

const eventLike = fc.record({
  event_name: fc.oneof(
    fc.constantFrom('subscribe', 'update_presence', 'who_knows'),
    fc.string(),
    fc.anything(),
  ),
  data: fc.oneof(
    fc.record({
      channels: fc.oneof(fc.array(fc.string()), fc.array(fc.anything()), fc.anything()),
      last: fc.oneof(fc.integer(), fc.anything()),
    }),
    fc.record({ inactivity_period: fc.anything(), im_status_ids_by_model: fc.anything() }),
    fc.anything(),
  ),
});

const message = fc.oneof(
  eventLike.map((m) => ({ text: JSON.stringify(m), binary: false })),
  fc.json().map((text) => ({ text, binary: false })),
  fc.string().map((text) => ({ text, binary: false })),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes: Buffer.from(bytes), binary: true })),
);

describe('client messages (fuzz)', () => {
  it('never closes the socket, never sends Odoo a malformed call, and keeps serving', async () => {
    const { cookie } = stack.login();
    const socket = await stack.connect({ cookie });
    const samples = fc.sample(message, { numRuns: 400, seed: 4242 });
    for (const m of samples) {
      if ('bytes' in m) socket.send(m.bytes);
      else socket.ws.send(m.text);
    }
    socket.subscribe([], 0);
    // Served after every fuzzed frame (a row comes by catch-up or live), and every call they
    // caused has been made.
    await barrier(stack, socket);
    await odooIdle(stack);
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    for (const call of stack.odoo.calls.filter((c) => c.headers.cookie === cookie)) {
      const params = (call.body as { params: Record<string, unknown> }).params;
      if (call.path === '/websocket/peek_notifications') {
        expect(
          Array.isArray(params.channels) &&
            (params.channels as unknown[]).every((c) => typeof c === 'string'),
        ).toBe(true);
        expect(Number.isSafeInteger(params.last)).toBe(true);
      }
      if (call.path === '/websocket/update_bus_presence') {
        expect(typeof params.inactivity_period).toBe('number');
      }
    }
    const [id] = await stack
      .writer()
      .sendmany([{ channel: 'broadcast', type: 'still-serving', payload: {} }]);
    await socket.waitForNotification((n) => n.id === id);
    await socket.close();
  });
});
