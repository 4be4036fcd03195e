/**
 * PostgreSQL and PgBouncer going away while Odoo keeps writing: nothing lost, nothing twice, for
 * every row that still exists when the dust settles; readiness tells the truth meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';
import { sleep, waitFor } from '../helpers/waitFor.js';
import type { OdooSocket } from '../helpers/wsClient.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
  // Acknowledged commits must survive an immediate shutdown, as they do in production (the test
  // cluster runs with synchronous_commit off; a role setting wins over the server's).
  await stack.pg.query('postgres', 'ALTER ROLE odoo SET synchronous_commit = on');
});
afterAll(async () => {
  await stack?.close();
});

/** Writes one notification every few milliseconds until stopped, retrying through outages. */
function keepWriting(channelId: number) {
  const writer = stack.writer();
  let stopped = false;
  let failures = 0;
  let written = 0;
  const done = (async () => {
    let n = 0;
    while (!stopped) {
      try {
        await writer.sendmany([
          { channel: ['discuss.channel', channelId], type: 'tick', payload: n++ },
        ]);
        written++;
      } catch {
        failures++;
        await sleep(50);
      }
      await sleep(5);
    }
  })();
  return {
    get failures() {
      return failures;
    },
    /** Commits made so far: tests wait for some rather than for a time (a busy machine is slow). */
    get written() {
      return written;
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

function subscribed(channelId: number): Promise<OdooSocket> {
  return stack.subscribed(stack.login({ memberChannels: [channelId] }).cookie);
}

/** Every row of the channel still in the table, each received exactly once. */
async function expectExactlyOnce(socket: OdooSocket, channelId: number): Promise<number> {
  const rows = await stack.pg.query<{ id: number }>(
    stack.db,
    'SELECT id FROM bus_bus WHERE channel = $1 ORDER BY id',
    [JSON.stringify([stack.db, 'discuss.channel', channelId])],
  );
  const expected = rows.map((r) => r.id);
  const last = expected.at(-1) as number;
  await socket.waitForNotification((n) => n.id === last, 20_000);
  const received = socket.notificationIds();
  expect(new Set(received).size, 'a row came twice').toBe(received.length);
  expect([...received].sort((a, b) => a - b)).toEqual(expected);
  return expected.length;
}

describe('PostgreSQL restarted while notifications are written', () => {
  for (const mode of ['fast', 'immediate'] as const) {
    it(`${mode} shutdown: the sidecar reconnects, reports unready meanwhile, and catches up`, async () => {
      const channelId = mode === 'fast' ? 101 : 102;
      const socket = await subscribed(channelId);
      const writing = keepWriting(channelId);
      await waitFor(() => writing.written >= 3, { timeoutMs: 20_000 });
      const listener = stack.sidecar.listener;
      let sawUnready = false;
      const watch = setInterval(() => {
        if (!listener.isUp) sawUnready = true;
      }, 5);
      const restart = stack.pg.restart(mode);
      await waitFor(() => !listener.isUp, { timeoutMs: 10_000 });
      const during = await fetch(`${stack.httpUrl}/readyz`);
      expect(during.status).toBe(503);
      await restart;
      await waitFor(() => listener.isUp, { timeoutMs: 20_000 });
      const afterRestart = writing.written;
      await waitFor(() => writing.written >= afterRestart + 3, { timeoutMs: 20_000 });
      await writing.stop();
      clearInterval(watch);
      expect(sawUnready).toBe(true);
      const count = await expectExactlyOnce(socket, channelId);
      // Rows were written before the restart and after it (a busy machine writes fewer).
      expect(count).toBeGreaterThan(2);
      await waitFor(async () => (await fetch(`${stack.httpUrl}/readyz`)).status === 200, {
        timeoutMs: 10_000,
      });
      await socket.close();
    });
  }
});

describe('PgBouncer restarted while the sidecar reads through it', () => {
  it('retries the reads and loses nothing', async () => {
    const channelId = 103;
    const socket = await subscribed(channelId);
    const writing = keepWriting(channelId);
    await sleep(300);
    const errorsBefore =
      (await stack.sidecar.metrics.reads.get()).values.find((v) => v.labels.outcome === 'error')
        ?.value ?? 0;
    await stack.bouncer.restart();
    await sleep(500);
    await writing.stop();
    await expectExactlyOnce(socket, channelId);
    const errorsAfter =
      (await stack.sidecar.metrics.reads.get()).values.find((v) => v.labels.outcome === 'error')
        ?.value ?? 0;
    // The reads did go through PgBouncer (some failed while it was down) and recovered.
    expect(errorsAfter).toBeGreaterThanOrEqual(errorsBefore);
    await socket.close();
  });
});
