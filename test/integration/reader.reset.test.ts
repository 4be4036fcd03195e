/**
 * A `bus_bus` replaced under the reader, on real PostgreSQL: `TRUNCATE bus_bus RESTART IDENTITY`
 * and a database dropped and created again under the same name. Both used to silence the database
 * until a restart (every new id at or below the read position) while `/readyz` said ready; the
 * reader now notices (the sequence went back, the oid changed), starts over, counts and logs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetric } from '../helpers/clients/scrape.js';
import { type LogSink, logSink } from '../helpers/logSink.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const TRUNCATED = 'truncated';
const RECREATED = 'recreated';

let stack: Stack;
let log: LogSink;

beforeAll(async () => {
  stack = await startStack({ databases: [TRUNCATED, RECREATED], startSidecar: false });
  log = logSink('info');
  await stack.startSidecar({}, { logger: log.logger });
});
afterAll(async () => {
  await stack?.close();
});

const note = (channelId: number, type: string) => ({
  channel: ['discuss.channel', channelId] as const,
  type,
  payload: {},
});

async function resets(reason: string): Promise<number | undefined> {
  return scrapeMetric(stack.adminUrl, 'odoo_bus_sidecar_bus_reader_resets_total', { reason });
}

describe('bus_bus replaced under the reader', () => {
  it('TRUNCATE ... RESTART IDENTITY: the next rows are delivered, the reset is counted and logged', async () => {
    const { cookie } = stack.login({ db: TRUNCATED, memberChannels: [41] });
    const socket = await stack.subscribed(cookie);
    const writer = stack.writer(TRUNCATED);
    const before = (
      await writer.sendmany([note(41, 'a'), note(41, 'b'), note(41, 'c'), note(41, 'd')])
    ).map(Number);
    await socket.waitForNotification((n) => n.id === before.at(-1));

    await stack.pg.query(TRUNCATED, 'TRUNCATE bus_bus RESTART IDENTITY');
    const fresh = Number(await writer.sendone(note(41, 'after-truncate')));
    expect(fresh).toBe(1);
    const got = await socket.waitForNotification((n) => n.message.type === 'after-truncate');
    expect(got.id).toBe(1);
    const next = Number(await writer.sendone(note(41, 'next')));
    await socket.waitForNotification((n) => n.id === next && n.message.type === 'next');
    expect(await resets('sequence')).toBe(1);
    const warning = log.entries('warn').find((line) => line.reason === 'sequence');
    expect(warning?.database).toBe(TRUNCATED);
    expect(warning?.msg).toMatch(/sequence went back below the read position/);
    expect((await fetch(`${stack.adminUrl}/readyz`)).status).toBe(200);
    await socket.close();
  });

  it('a database dropped and created again under the same name: read again, counted and logged', async () => {
    const { cookie } = stack.login({ db: RECREATED, memberChannels: [42] });
    const socket = await stack.subscribed(cookie);
    const writer = stack.writer(RECREATED);
    const before = (await writer.sendmany([note(42, 'a'), note(42, 'b'), note(42, 'c')])).map(
      Number,
    );
    await socket.waitForNotification((n) => n.id === before.at(-1));

    await stack.pg.query('postgres', `DROP DATABASE ${RECREATED} WITH (FORCE)`);
    await stack.pg.createOdooDatabase(RECREATED);
    // The writer's pooled connections went with the old database; Odoo's workers reconnect.
    const fresh = await waitFor(
      async () =>
        Number(await stack.writer(RECREATED).sendone(note(42, 'after-restore'))) || undefined,
      { message: 'a write into the new database' },
    );
    const got = await socket.waitForNotification((n) => n.message.type === 'after-restore', 15_000);
    expect(got.id).toBe(fresh);
    expect(await resets('database')).toBe(1);
    const warning = log.entries('warn').find((line) => line.reason === 'database');
    expect(warning?.database).toBe(RECREATED);
    expect(warning?.msg).toMatch(/re-created under the same name/);
    await waitFor(async () => (await fetch(`${stack.adminUrl}/readyz`)).status === 200, {
      message: 'ready again',
    });
    await socket.close();
  });
});
