/**
 * How the sidecar reads `bus_bus`: one query per burst whatever the number of sockets (counted by
 * PostgreSQL itself), rows committing out of id order, catch-up through Odoo's own rules, and a lost
 * LISTEN connection.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { barrier, settled } from '../helpers/barrier.js';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { SIDECAR_ROLE } from '../helpers/servers/postgres.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { sleep, waitFor } from '../helpers/waitFor.js';

let stack: Stack;
const sockets: BrowserSocket[] = [];

beforeAll(async () => {
  stack = await startStack();
});
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((s) => s.terminate()));
});
afterAll(async () => {
  await stack?.close();
});

async function subscribedSocket(
  options: { memberChannels?: number[]; last?: number; channels?: string[] } = {},
) {
  const login = stack.login({ memberChannels: options.memberChannels ?? [1] });
  const socket = await stack.subscribed(login.cookie, options);
  sockets.push(socket);
  return { socket, ...login };
}

/** Every id a socket received, checking that no id came twice. */
function idsOnce(socket: BrowserSocket): number[] {
  const ids = socket.notificationIds();
  expect(new Set(ids).size, `duplicates in ${ids.join(',')}`).toBe(ids.length);
  return ids;
}

describe('one read per burst', () => {
  it('costs one bus_bus query, counted by PostgreSQL, for one notification to 200 sockets', async () => {
    const all = await Promise.all(
      Array.from({ length: 200 }, () => subscribedSocket({ memberChannels: [42] })),
    );
    // Every subscribe settled (reader initialised, catch-ups sent, no read pending) before counting.
    await settled(
      stack,
      all.map(({ socket }) => socket),
    );
    await stack.pg.resetStatementStats();
    const [id] = await stack
      .writer()
      .sendmany([{ channel: ['discuss.channel', 42], type: 'burst', payload: {} }]);
    await Promise.all(all.map(({ socket }) => socket.waitForNotification((n) => n.id === id)));
    expect(await stack.pg.busReadCount(stack.db)).toBe(1);
  });

  it('serves one commit that sent several NOTIFYs with one read and one frame per socket', async () => {
    const { socket } = await subscribedSocket({ memberChannels: [7] });
    await settled(stack, socket);
    await stack.pg.resetStatementStats();
    const batchesBefore = socket.batches.length;
    // 60 long channels: the writer splits the payload like Odoo (2 NOTIFYs for one commit).
    const writer = stack.writer();
    const ids = await writer.sendmany([
      { channel: ['discuss.channel', 7], type: 'first', payload: {} },
      ...Array.from({ length: 59 }, (_, i) => ({
        channel: `fx-${i}-${'x'.repeat(200)}`,
        type: 'filler',
        payload: {},
      })),
    ]);
    expect(writer.notified.length).toBeGreaterThanOrEqual(2);
    await socket.waitForNotification((n) => n.id === ids[0]);
    // The marker's NOTIFY follows the commit's on the LISTEN connection: every read those caused
    // is done once the marker is in. One frame for the commit, then the marker's.
    const marker = await barrier(stack, socket);
    expect(socket.batches.slice(batchesBefore).map((batch) => batch.map((n) => n.id))).toEqual([
      [ids[0]],
      [marker],
    ]);
    expect(await stack.pg.busReadCount(stack.db)).toBeLessThanOrEqual(writer.notified.length + 1);
  });
});

describe('rows that commit out of id order', () => {
  it('delivers once a row whose lower id commits 3 s after a higher one was delivered', async () => {
    const { socket } = await subscribedSocket({ memberChannels: [3] });
    const writer = stack.writer();
    const late = await writer.openTransaction();
    const [lowId] = await late.send([
      { channel: ['discuss.channel', 3], type: 'late', payload: {} },
    ]);
    const [highId] = await writer.sendmany([
      { channel: ['discuss.channel', 3], type: 'early', payload: {} },
    ]);
    expect(lowId).toBeLessThan(highId as number);
    await socket.waitForNotification((n) => n.id === highId);
    // Part of the scenario, not a wait for anything: the lower id commits seconds later.
    await sleep(3000);
    await late.commit();
    await socket.waitForNotification((n) => n.id === lowId);
    // More traffic afterwards must not bring either row again.
    const [after] = await writer.sendmany([
      { channel: ['discuss.channel', 3], type: 'after', payload: {} },
    ]);
    await socket.waitForNotification((n) => n.id === after);
    const ids = idsOnce(socket).filter((id) => id >= (lowId as number));
    expect(ids).toEqual([highId, lowId, after]);
  });

  it('forgets a rolled-back id without delivering anything for it', async () => {
    const { socket } = await subscribedSocket({ memberChannels: [4] });
    const writer = stack.writer();
    const rolledBack = await writer.openTransaction();
    const [ghost] = await rolledBack.send([
      { channel: ['discuss.channel', 4], type: 'ghost', payload: {} },
    ]);
    await rolledBack.rollback();
    const [real] = await writer.sendmany([
      { channel: ['discuss.channel', 4], type: 'real', payload: {} },
    ]);
    await socket.waitForNotification((n) => n.id === real);
    expect(socket.notificationIds()).not.toContain(ghost);
  });
});

describe('catch-up through Odoo', () => {
  it('replays exactly the missing rows to a client reconnecting with its last id', async () => {
    const writer = stack.writer();
    const first = await subscribedSocket({ memberChannels: [5] });
    const seen = await writer.sendmany([
      { channel: ['discuss.channel', 5], type: 'seen', payload: 1 },
      { channel: ['discuss.channel', 5], type: 'seen', payload: 2 },
    ]);
    await first.socket.waitForNotification((n) => n.id === seen[1]);
    const last = first.socket.lastNotificationId();
    await first.socket.close(1001);
    const missed = await writer.sendmany([
      { channel: ['discuss.channel', 5], type: 'missed', payload: 3 },
      { channel: 'broadcast', type: 'missed', payload: 4 },
    ]);
    const again = await stack.connect({ cookie: first.cookie });
    sockets.push(again);
    again.subscribe([], last);
    await again.waitForNotification((n) => n.id === missed[1]);
    // A row sent twice would come before a later one.
    const marker = await barrier(stack, again);
    expect(idsOnce(again).filter((id) => id > (seen[0] as number) - 1 && id !== marker)).toEqual(
      missed,
    );
  });

  it('gives a client coming back a row below its last that committed while it was away', async () => {
    const writer = stack.writer();
    const first = await subscribedSocket({ memberChannels: [8] });
    const late = await writer.openTransaction();
    const [lateId] = await late.send([
      { channel: ['discuss.channel', 8], type: 'late', payload: {} },
    ]);
    const [early] = await writer.sendmany([
      { channel: ['discuss.channel', 8], type: 'early', payload: {} },
    ]);
    await first.socket.waitForNotification((n) => n.id === early);
    const last = first.socket.lastNotificationId();
    await first.socket.close(1001);
    // Read while nobody listens on the channel; Odoo's catch-up starts above `last`.
    const reader = stack.sidecar.readers.existingReader(stack.db);
    await late.commit();
    await waitFor(() => reader?.hasHole(lateId as number) === false, {
      message: 'the late row read',
    });
    const again = await stack.connect({ cookie: first.cookie });
    sockets.push(again);
    again.subscribe([], last);
    await again.waitForNotification((n) => n.id === lateId);
    const [after] = await writer.sendmany([
      { channel: ['discuss.channel', 8], type: 'after', payload: {} },
    ]);
    await again.waitForNotification((n) => n.id === after);
    expect(idsOnce(again)).toEqual([lateId, after]);
  });

  it('gives the last 50 seconds to a client with last = 0', async () => {
    const writer = stack.writer();
    const [old] = await writer.sendmany([
      { channel: ['discuss.channel', 6], type: 'old', payload: {} },
    ]);
    const [recent] = await writer.sendmany([
      { channel: ['discuss.channel', 6], type: 'recent', payload: {} },
    ]);
    await stack.pg.query(
      stack.db,
      "UPDATE bus_bus SET create_date = create_date - interval '60 seconds' WHERE id = $1",
      [old],
    );
    // Both rows read before the subscribe: a row the reader reads while Odoo answers it is part
    // of the catch-up, whatever its age (a loaded machine reads late).
    await waitFor(
      () =>
        (stack.sidecar.readers.existingReader(stack.db)?.position ?? (recent as number)) >=
        (recent as number),
      { message: 'the reader past both rows' },
    );
    const { socket } = await subscribedSocket({ memberChannels: [6] });
    await socket.waitForNotification((n) => n.id === recent);
    expect(socket.notificationIds()).not.toContain(old);
  });
});

describe('LISTEN connection lost', () => {
  it('reconnects, reads what was committed meanwhile, and sends nothing twice', async () => {
    const { socket } = await subscribedSocket({ memberChannels: [9] });
    const writer = stack.writer();
    const [before] = await writer.sendmany([
      { channel: ['discuss.channel', 9], type: 'before', payload: {} },
    ]);
    await socket.waitForNotification((n) => n.id === before);

    const listener = stack.sidecar.listener;
    const killedPid = listener.backendPid;
    expect(killedPid).toBeDefined();
    // The sidecar cannot log in again until the outage has been looked at.
    const during = await stack.pg.refusingLogins(SIDECAR_ROLE.user, async () => {
      expect(await stack.pg.terminate([killedPid as number])).toBe(1);
      await waitFor(() => !listener.isUp, {
        message: 'the sidecar noticed the lost LISTEN connection',
      });
      const ready = await fetch(`${stack.adminUrl}/readyz`);
      expect(ready.status).toBe(503);
      return writer.sendmany([
        { channel: ['discuss.channel', 9], type: 'during', payload: 1 },
        { channel: ['discuss.channel', 9], type: 'during', payload: 2 },
      ]);
    });
    await waitFor(() => listener.isUp && listener.backendPid !== killedPid, {
      message: 'LISTEN connected again',
    });
    await socket.waitForNotification((n) => n.id === during[1]);
    const [after] = await writer.sendmany([
      { channel: ['discuss.channel', 9], type: 'after', payload: {} },
    ]);
    await socket.waitForNotification((n) => n.id === after);
    expect(idsOnce(socket).filter((id) => id >= (before as number))).toEqual([
      before,
      ...during,
      after,
    ]);
    expect((await fetch(`${stack.adminUrl}/readyz`)).status).toBe(200);
  });
});

describe('a transaction older than the sidecar', () => {
  it('delivers a row whose id was taken before the sidecar started and that commits after', async () => {
    const fresh = await startStack({ startSidecar: false });
    try {
      const writer = fresh.writer();
      await writer.sendmany([{ channel: ['discuss.channel', 1], type: 'before', payload: {} }]);
      const longRunning = await writer.openTransaction();
      const [held] = await longRunning.send([
        { channel: ['discuss.channel', 1], type: 'held', payload: {} },
      ]);
      const [after] = await writer.sendmany([
        { channel: ['discuss.channel', 1], type: 'after', payload: {} },
      ]);
      // The transaction has been running a while: the rows around its id are not recent any more.
      await fresh.pg.query(
        fresh.db,
        "UPDATE bus_bus SET create_date = create_date - interval '1 minute'",
      );
      await fresh.startSidecar();
      const login = fresh.login({ memberChannels: [1] });
      const socket = await fresh.subscribed(login.cookie, { last: after as number });
      await longRunning.commit();
      await socket.waitForNotification((n) => n.id === held);
      await socket.close();
    } finally {
      await fresh.close();
    }
  });
});
