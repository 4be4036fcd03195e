/**
 * The reader on a real database: rows whose INSERT took its id before the reader started but that
 * commit after are still delivered (ids are taken at INSERT, rows appear at COMMIT); the late-commit
 * window runs on a monotonic clock; a failed delivery does not move the read position.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BusReader } from '../../src/bus/reader.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { SIDECAR_ROLE } from '../helpers/servers/postgres.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('reader start', () => {
  it('delivers a row inserted before an empty table was first read and committed after', async () => {
    const writer = stack.writer();
    const tx = await writer.openTransaction();
    const [id] = await tx.send([{ channel: 'broadcast', type: 'x/early', payload: {} }]);

    const { cookie } = stack.login();
    const socket = await stack.connect({ cookie });
    socket.subscribe([], 0);
    try {
      // The reader starts on the first subscribe, while the row is still uncommitted.
      const reader = await waitFor(() => stack.sidecar.readers.existingReader(stack.db));
      await reader.ready();
      expect(reader.position).toBeLessThan(id as number);
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    await tx.commit();
    const got = await socket.waitForNotification((n) => n.id === id);
    expect(got.message).toEqual({ type: 'x/early', payload: {} });
    await socket.close();
  });
});

describe('reader deadlines and deliveries', () => {
  it('delivers a late commit although the wall clock stepped past the late-commit window', async () => {
    const clockStack = await startStack({ sidecar: { lateCommitWindowSeconds: 10 } });
    const realNow = Date.now.bind(Date);
    let step = 0;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + step);
    try {
      const { cookie } = clockStack.login({ memberChannels: [61] });
      const socket = await clockStack.subscribed(cookie);
      const writer = clockStack.writer();
      const note = (type: string) => ({
        channel: ['discuss.channel', 61] as const,
        type,
        payload: {},
      });
      const tx = await writer.openTransaction();
      const [lateId] = (await tx.send([note('late')])).map(Number);
      const above = Number(await writer.sendone(note('above')));
      await socket.waitForNotification((n) => n.id === above);
      const reader = clockStack.sidecar.readers.existingReader(clockStack.db);
      expect(reader?.hasHole(lateId as number)).toBe(true);
      // A minute's step of the wall clock, then a read (which expires holes past their window).
      step = 60_000;
      const next = Number(await writer.sendone(note('next')));
      await socket.waitForNotification((n) => n.id === next);
      expect(reader?.hasHole(lateId as number)).toBe(true);
      await tx.commit();
      const got = await socket.waitForNotification((n) => n.id === lateId);
      expect(got.message.type).toBe('late');
      await socket.close();
    } finally {
      spy.mockRestore();
      await clockStack.close();
    }
  });

  it('keeps the read position when a delivery fails: the same rows are delivered on the retry', async () => {
    const pool = new pg.Pool(stack.pg.connection(stack.db, SIDECAR_ROLE.user));
    const delivered: number[] = [];
    let failures = 0;
    const reader = new BusReader({
      database: stack.db,
      pool,
      logger: createLogger('silent'),
      metrics: createMetrics({ defaultMetrics: false }),
      deliver: (_db, rows) => {
        if (failures++ === 0) throw new Error('a subscriber broke the delivery');
        delivered.push(...rows.map((row) => row.id));
      },
      coalesceMs: 1,
      batchSize: 100,
      lateCommitWindowMs: 10_000,
      recentRowsMs: 10_000,
      maxFrameBytes: 1024 * 1024,
      maxRowBytes: 1024 * 1024,
    });
    try {
      await reader.ready();
      const start = reader.position;
      const ids = (
        await stack.writer().sendmany([
          { channel: ['discuss.channel', 62], type: 'a', payload: 1 },
          { channel: ['discuss.channel', 62], type: 'b', payload: 2 },
        ])
      ).map(Number);
      reader.nudge();
      await waitFor(() => delivered.length >= 2, { message: 'the retried delivery' });
      expect(failures).toBe(2);
      expect(delivered).toEqual(ids);
      expect(reader.position).toBe(ids.at(-1));
      expect(start).toBeLessThan(ids[0] as number);
    } finally {
      reader.stop();
      await pool.end();
    }
  });
});
