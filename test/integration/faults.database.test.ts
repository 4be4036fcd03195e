/**
 * PostgreSQL and PgBouncer going away while Odoo keeps writing: nothing lost, nothing twice, for
 * every row that still exists when the dust settles; readiness tells the truth meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { SIDECAR_ROLE } from '../helpers/servers/postgres.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { sleep, waitFor } from '../helpers/waitFor.js';
import { Wakeups } from '../helpers/wakeups.js';

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

/**
 * Writes one notification every few milliseconds until stopped, retrying through outages.
 * `nextCommit()` resolves with the id of the first row committed after the call: the test waits
 * for rows written on either side of an outage instead of for how much a machine writes in a time.
 */
function keepWriting(channelId: number) {
  const writer = stack.writer();
  const wakeups = new Wakeups();
  const committed: number[] = [];
  let stopped = false;
  const done = (async () => {
    let n = 0;
    while (!stopped) {
      try {
        committed.push(
          ...(await writer.sendmany([
            { channel: ['discuss.channel', channelId], type: 'tick', payload: n++ },
          ])),
        );
        wakeups.wake();
      } catch {
        // PostgreSQL or PgBouncer is down: write again a little later, as Odoo's next request would.
        await sleep(50);
      }
      // A steady trickle rather than a flood: the outage, not the write rate, is under test.
      await sleep(5);
    }
  })();
  return {
    nextCommit(): Promise<number> {
      const seen = committed.length;
      return wakeups.until(
        () => committed[seen],
        60_000,
        () => `no row committed in 60 s (${committed.length} before)`,
      );
    },
    async stop() {
      stopped = true;
      await done;
    },
  };
}

function subscribed(channelId: number): Promise<BrowserSocket> {
  return stack.subscribed(stack.login({ memberChannels: [channelId] }).cookie);
}

/** Every row of the channel still in the table, each received exactly once; returns their ids. */
async function expectExactlyOnce(socket: BrowserSocket, channelId: number): Promise<number[]> {
  const rows = await stack.pg.query<{ id: number }>(
    stack.db,
    'SELECT id FROM bus_bus WHERE channel = $1 ORDER BY id',
    [JSON.stringify([stack.db, 'discuss.channel', channelId])],
  );
  const expected = rows.map((r) => r.id);
  const last = expected.at(-1) as number;
  await socket.waitForNotification((n) => n.id === last);
  const received = socket.notificationIds();
  expect(new Set(received).size, 'a row came twice').toBe(received.length);
  expect([...received].sort((a, b) => a - b)).toEqual(expected);
  return expected;
}

describe('PostgreSQL restarted while notifications are written', () => {
  for (const mode of ['fast', 'immediate'] as const) {
    it(`${mode} shutdown: the sidecar reconnects, reports unready meanwhile, and catches up`, async () => {
      const channelId = mode === 'fast' ? 101 : 102;
      const socket = await subscribed(channelId);
      const writing = keepWriting(channelId);
      const before = await writing.nextCommit();
      await socket.waitForNotification((n) => n.id === before);
      const listener = stack.sidecar.listener;
      await stack.pg.restart(mode, {
        async whileDown() {
          await waitFor(() => !listener.isUp, { message: 'the sidecar noticed the outage' });
          expect((await fetch(`${stack.adminUrl}/readyz`)).status).toBe(503);
        },
      });
      await waitFor(() => listener.isUp, { message: 'LISTEN connected again' });
      const after = await writing.nextCommit();
      await socket.waitForNotification((n) => n.id === after);
      await writing.stop();
      // Rows written before and after the restart, each received once, and nothing else.
      const ids = await expectExactlyOnce(socket, channelId);
      expect(ids).toEqual(expect.arrayContaining([before, after]));
      await waitFor(async () => (await fetch(`${stack.adminUrl}/readyz`)).status === 200, {
        message: '/readyz answering 200 again',
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
    const before = await writing.nextCommit();
    await socket.waitForNotification((n) => n.id === before);
    await stack.bouncer.restart();
    const after = await writing.nextCommit();
    await socket.waitForNotification((n) => n.id === after);
    await writing.stop();
    const ids = await expectExactlyOnce(socket, channelId);
    expect(ids).toEqual(expect.arrayContaining([before, after]));
    // The row after the restart was read through the new PgBouncer, as the sidecar's role.
    const clients = await stack.bouncer.admin<{ user: string }>('SHOW CLIENTS');
    expect(clients.map((c) => c.user)).toContain(SIDECAR_ROLE.user);
    await socket.close();
  });
});
