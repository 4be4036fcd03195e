/**
 * `bus_bus.id` made `bigint` by an admin, on real PostgreSQL: ids are taken as the type PostgreSQL
 * gives. Past 2^31 every row is delivered once (they were re-sent on every read); past 2^53 - 1,
 * which a JSON client cannot represent, the sidecar delivers what precedes, says what is wrong,
 * marks the database failing in readiness, and keeps answering (it used to spin at 100 % CPU).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetric } from '../helpers/clients/scrape.js';
import { type LogSink, logSink } from '../helpers/logSink.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const PAST_31 = 'ids31';
const PAST_53 = 'ids53';
const STARTS_PAST_53 = 'ids53start';

let stack: Stack;
let log: LogSink;

async function makeBigint(db: string, next: string): Promise<void> {
  await stack.pg.query(db, 'ALTER TABLE bus_bus ALTER COLUMN id TYPE bigint');
  await stack.pg.query(db, 'ALTER SEQUENCE bus_bus_id_seq AS bigint');
  await stack.pg.query(db, `SELECT setval('bus_bus_id_seq', ${next}::int8 - 1)`);
}

beforeAll(async () => {
  stack = await startStack({
    databases: [PAST_31, PAST_53, STARTS_PAST_53],
    startSidecar: false,
  });
  await makeBigint(PAST_31, String(2 ** 31 + 5));
  // The last two safe ids, then 2^53 and beyond.
  await makeBigint(PAST_53, String(Number.MAX_SAFE_INTEGER - 1));
  await makeBigint(STARTS_PAST_53, '9007199254740993');
  await stack
    .writer(STARTS_PAST_53)
    .sendone({ channel: ['discuss.channel', 54], type: 'before-start', payload: 0 });
  // Older than Odoo's 50 s catch-up: the subscribe reaches the reader's start.
  await stack.pg.query(
    STARTS_PAST_53,
    "UPDATE bus_bus SET create_date = create_date - interval '2 minutes'",
  );
  log = logSink('info');
  await stack.startSidecar({}, { logger: log.logger });
});
afterAll(async () => {
  await stack?.close();
});

describe('bus_bus.id as bigint', () => {
  it('delivers ids past 2^31 once each, however many reads follow', async () => {
    const { cookie } = stack.login({ db: PAST_31, memberChannels: [31] });
    const socket = await stack.subscribed(cookie);
    const writer = stack.writer(PAST_31);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(
        Number(await writer.sendone({ channel: ['discuss.channel', 31], type: 'big', payload: i })),
      );
    }
    expect(ids[0]).toBeGreaterThan(2 ** 31);
    await socket.waitForNotification((n) => n.id === ids[2]);
    // More reads (each NOTIFY makes one) must not bring the same rows again.
    const other = stack.writer(PAST_31);
    const marker = Number(
      await other.sendone({ channel: ['discuss.channel', 31], type: 'marker', payload: 0 }),
    );
    await socket.waitForNotification((n) => n.id === marker);
    expect(socket.notificationIds()).toEqual([...ids, marker]);
    expect(stack.sidecar.readers.existingReader(PAST_31)?.position).toBe(marker);
    await socket.close();
  });

  it('refuses ids past 2^53 - 1: what precedes is delivered, the rest is named, readiness fails, no spin', async () => {
    const { cookie } = stack.login({ db: PAST_53, memberChannels: [53] });
    const socket = await stack.subscribed(cookie);
    const writer = stack.writer(PAST_53);
    const send = (i: number) =>
      writer.sendone({ channel: ['discuss.channel', 53], type: 'huge', payload: i });
    const safe = [String(await send(0)), String(await send(1))];
    expect(safe).toEqual([String(Number.MAX_SAFE_INTEGER - 1), String(Number.MAX_SAFE_INTEGER)]);
    await socket.waitForNotification((n) => n.id === Number.MAX_SAFE_INTEGER);
    const beyond = [String(await send(2)), String(await send(3))];
    expect(beyond[0]).toBe('9007199254740992');

    const reader = stack.sidecar.readers.existingReader(PAST_53);
    await waitFor(() => reader?.healthy === false, { message: 'the reader reports failing' });
    expect(reader?.failure).toMatch(/9007199254740992.*above 2\^53 - 1/);
    expect(stack.sidecar.readers.failures().map((f) => f.database)).toEqual([PAST_53]);
    const errors = log.entries('error').filter((line) => /above 2\^53 - 1/.test(line.msg));
    expect(errors.length).toBe(1);
    expect(errors[0]?.database).toBe(PAST_53);

    const ready = await fetch(`${stack.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    const state = (await ready.json()) as {
      checks: Record<string, boolean>;
      problems: Record<string, string[]>;
    };
    expect(state.checks.reads).toBe(false);
    expect(state.problems.reads?.some((p) => p.startsWith(`${PAST_53}: bus_bus.id`))).toBe(true);
    expect(
      await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_ids_unrepresentable_total'),
    ).toBeGreaterThanOrEqual(1);
    expect(await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_readers_failing')).toBe(1);

    // Still serving, and still trying (with backoff), without spinning on the refused row: the
    // process answers, the other database delivers, the position stays at the last safe id.
    expect((await fetch(`${stack.adminUrl}/healthz`)).status).toBe(200);
    const errorsSoFar = (await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_reads_total', {
      outcome: 'error',
    })) as number;
    await send(4);
    await waitFor(
      async () =>
        ((await scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_reads_total', {
          outcome: 'error',
        })) ?? 0) > errorsSoFar,
      { message: 'another read refused' },
    );
    expect(reader?.position).toBe(Number.MAX_SAFE_INTEGER);
    expect(socket.notificationIds()).toEqual([
      Number.MAX_SAFE_INTEGER - 1,
      Number.MAX_SAFE_INTEGER,
    ]);
    expect(log.entries('error').filter((line) => /above 2\^53 - 1/.test(line.msg)).length).toBe(1);

    const { cookie: otherCookie } = stack.login({ db: PAST_31, memberChannels: [32] });
    const other = await stack.subscribed(otherCookie);
    const id = Number(
      await stack
        .writer(PAST_31)
        .sendone({ channel: ['discuss.channel', 32], type: 'alive', payload: 0 }),
    );
    await other.waitForNotification((n) => n.id === id);
    await other.close();
    await socket.close();
  });

  it('refuses a table already past 2^53 - 1 when its reader starts: 1013 for the socket, one error, not ready', async () => {
    const { cookie } = stack.login({ db: STARTS_PAST_53, memberChannels: [54] });
    const socket = await stack.connect({ cookie });
    socket.subscribe([], 0);
    expect((await socket.closed).code).toBe(1013);
    const reader = stack.sidecar.readers.existingReader(STARTS_PAST_53);
    await waitFor(() => reader?.healthy === false, { message: 'the reader reports failing' });
    expect(reader?.failure).toMatch(/9007199254740993.*above 2\^53 - 1/);
    await waitFor(
      () =>
        log
          .entries('error')
          .filter((line) => line.database === STARTS_PAST_53 && /2\^53/.test(line.msg)).length ===
        1,
      { message: 'one error line' },
    );
    expect((await fetch(`${stack.adminUrl}/readyz`)).status).toBe(503);
  });
});
