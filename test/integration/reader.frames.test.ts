/**
 * Big rows on real PostgreSQL, with a small frame limit so the test stays light: a burst larger
 * than `maxFrameBytes` arrives as several frames, all rows once and ascending; a row larger than
 * the limit arrives alone; a row larger than `maxRowBytes` is skipped, named and counted, and the
 * rows after it still arrive. (The same with the default limits and 520 rows of 1 MiB, past V8's
 * string limit, was checked by hand: see the README's delivery guarantees.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetric } from '../helpers/clients/scrape.js';
import type { BusNotification } from '../helpers/clients/wsClient.js';
import { type LogSink, logSink } from '../helpers/logSink.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';

const FRAME = 64 * 1024;
const MAX_ROW = 128 * 1024;

let stack: Stack;
let log: LogSink;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
  log = logSink('info');
  await stack.startSidecar({ maxFrameBytes: FRAME, maxRowBytes: MAX_ROW }, { logger: log.logger });
});
afterAll(async () => {
  await stack?.close();
});

const frameBytes = (batch: BusNotification[]) => Buffer.byteLength(JSON.stringify(batch));

describe('frames bounded by maxFrameBytes', () => {
  it('splits one commit of 300 KiB into frames under the limit, every row once, ascending', async () => {
    const { cookie } = stack.login({ memberChannels: [81] });
    const socket = await stack.subscribed(cookie);
    const rows = Array.from({ length: 15 }, (_, i) => ({
      channel: ['discuss.channel', 81] as const,
      type: 'big',
      payload: `${i}:${'x'.repeat(20 * 1024)}`,
    }));
    const ids = (await stack.writer().sendmany(rows)).map(Number);
    await socket.waitForNotification((n) => n.id === ids.at(-1), 15_000);
    expect(socket.notificationIds()).toEqual(ids);
    expect(socket.batches.length).toBeGreaterThan(1);
    for (const batch of socket.batches) expect(frameBytes(batch)).toBeLessThanOrEqual(FRAME);
    await socket.close();
  });

  it('sends a row larger than the frame limit alone, and skips one larger than maxRowBytes', async () => {
    const { cookie } = stack.login({ memberChannels: [82] });
    const socket = await stack.subscribed(cookie);
    const note = (payload: string) => ({
      channel: ['discuss.channel', 82] as const,
      type: 'sized',
      payload,
    });
    const ids = (
      await stack
        .writer()
        .sendmany([
          note('before'),
          note('a'.repeat(100 * 1024)),
          note('b'.repeat(200 * 1024)),
          note('after'),
        ])
    ).map(Number);
    const [before, alone, skipped, after] = ids as [number, number, number, number];
    await socket.waitForNotification((n) => n.id === after, 15_000);
    expect(socket.notificationIds()).toEqual([before, alone, after]);
    const big = socket.batches.find((batch) => batch.some((n) => n.id === alone));
    expect(big?.map((n) => n.id)).toEqual([alone]);
    expect(String(big?.[0]?.message.payload).length).toBe(100 * 1024);

    const errors = log.entries('error').filter((line) => line.id === skipped);
    expect(errors.length).toBe(1);
    expect(errors[0]?.msg).toMatch(/larger than maxRowBytes; no client receives it/);
    expect(
      await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_oversized_rows_total', {
        outcome: 'skipped',
      }),
    ).toBe(1);
    expect(
      await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_oversized_rows_total', {
        outcome: 'alone',
      }),
    ).toBe(1);
    // The skipped row was handled: the read position went past it, the reader is healthy.
    const reader = stack.sidecar.readers.existingReader(stack.db);
    expect(reader?.position).toBe(after);
    expect(reader?.healthy).toBe(true);
    await socket.close();
  });
});
