/**
 * Long polling (Odoo 12.0-15.0) end to end on real processes: Odoo-style writes of each version
 * through PgBouncer in transaction mode, one direct LISTEN, the fake Odoo answering the addon's
 * `/bus_sidecar/poll` like that version, and HTTP clients polling like Odoo's web client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPast } from '../helpers/barrier.js';
import { items, LongPollClient } from '../helpers/clients/longPollClient.js';
import type { FakeOdooVersion } from '../helpers/fakeOdoo/fakeOdoo.js';
import type { BusNotification } from '../helpers/fakeOdoo/odooWriter.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

interface Case {
  version: FakeOdooVersion;
  db: string;
  /** 12.0-14.0 items carry their channel. */
  withChannel: boolean;
}

const CASES: Case[] = [
  { version: '12.0', db: 'odoo12', withChannel: true },
  { version: '14.0', db: 'odoo14', withChannel: true },
  { version: '15.0', db: 'odoo15', withChannel: false },
];

describe.each(CASES)('Odoo $version', ({ version, db, withChannel }) => {
  let stack: Stack;
  const legacy = version !== '15.0';

  beforeAll(async () => {
    stack = await startStack({ databases: [db], odoo: { version } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A notification to partner `partner`'s channel, written as this version writes it. */
  function toPartner(partner: number, body: unknown): BusNotification {
    return legacy
      ? { channel: [db, 'res.partner', partner], message: body }
      : { channel: ['res.partner', partner], type: 'mail.message/inbox', payload: body };
  }

  function writer() {
    return stack.writer(db, legacy ? { version: 'odoo12-14' } : {});
  }

  async function maxId(): Promise<number> {
    const [row] = await stack.pg.query<{ id: number | null }>(
      db,
      'SELECT max(id) AS id FROM bus_bus',
    );
    return row?.id ?? 0;
  }

  function client(cookie?: string): LongPollClient {
    return new LongPollClient({ baseUrl: stack.httpUrl, cookie });
  }

  async function held(count: number): Promise<void> {
    await waitFor(() => stack.sidecar.longPolling.heldCount === count, {
      message: () => `${count} held polls (now ${stack.sidecar.longPolling.heldCount})`,
    });
  }

  it('releases a held poll the moment a matching row is read, and not for another channel', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const browser = client(cookie);
    browser.last = await maxId();
    const pending = browser.poll([]);
    await held(1);
    const w = writer();
    const [other] = await w.sendmany([toPartner(99, 'not yours')]);
    await readPast(stack, db, other as number);
    expect(stack.sidecar.longPolling.heldCount).toBe(1);

    const [id] = await w.sendmany([toPartner(3, { n: 'é' })]);
    const response = await pending;
    // The row itself answered the poll (its 50 s hold would have ended with `[]`).
    expect(items(response)).toEqual([
      withChannel
        ? { id, channel: [db, 'res.partner', 3], message: { n: 'é' } }
        : { id, message: { type: 'mail.message/inbox', payload: { n: 'é' } } },
    ]);
    expect(stack.sidecar.hub.registry.subscriberCount).toBe(0);
    await browser.close();
  });

  it("sends each poll's own request id to Odoo as X-Request-Id", async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const browser = client(cookie);
    const before = stack.odoo.callsTo('/bus_sidecar/poll').length;
    await browser.poll([], { peek: true });
    await browser.poll([], { peek: true });
    const ids = stack.odoo
      .callsTo('/bus_sidecar/poll')
      .slice(before)
      .map((call) => call.headers['x-request-id']);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-http[0-9a-z]+$/);
    expect(new Set(ids).size).toBe(2);
    await browser.close();
  });

  it('answers in the same shape when Odoo has rows at once and when the reader brings them', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const w = writer();
    const before = await maxId();
    const [first] = await w.sendmany([toPartner(3, 'caught up')]);
    const browser = client(cookie);
    const caughtUp = await browser.poll([], { bus_inactivity: 0 }, { last: before });
    const pending = browser.poll([]);
    await held(1);
    const [second] = await w.sendmany([toPartner(3, 'live')]);
    const live = await pending;
    const keys = withChannel ? ['channel', 'id', 'message'] : ['id', 'message'];
    for (const response of [caughtUp, live]) {
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      expect(response.body?.jsonrpc).toBe('2.0');
      for (const item of items(response)) expect(Object.keys(item).sort()).toEqual(keys);
    }
    expect(items(caughtUp).map((n) => n.id)).toEqual([first]);
    expect(items(live).map((n) => n.id)).toEqual([second]);
    // The catch-up is Odoo's own text (Python separators), the live rows the stored texts.
    expect(caughtUp.text).toMatch(/^\{"jsonrpc": "2.0", "id": \d+, "result": \[\{"id": \d+, /);
    expect(live.text).toMatch(/^\{"jsonrpc": "2.0", "id": \d+, "result": \[\{"id":\d+,/);
    await browser.close();
  });

  it('passes each stored message through byte for byte', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const browser = client(cookie);
    browser.last = await maxId();
    const pending = browser.poll([]);
    await held(1);
    const channel = `["${db}","res.partner",3]`;
    // Text JavaScript cannot round-trip (2^53 + 1, -0.0) and Python's \u escapes, as Odoo stores them.
    const message =
      '{"type":"fixture/x","payload":{"big":9007199254740993,"neg":-0.0,"t":"H\\u00e9llo \\ud83d\\ude00"}}';
    const [row] = await stack.pg.query<{ id: number }>(
      db,
      `INSERT INTO bus_bus (channel, message, create_date, write_date)
       VALUES ($1, $2, now() at time zone 'UTC', now() at time zone 'UTC') RETURNING id`,
      [channel, message],
    );
    await writer().notifyRaw(`[${channel}]`);
    const response = await pending;
    const item = withChannel
      ? `{"id":${row?.id},"channel":${channel},"message":${message}}`
      : `{"id":${row?.id},"message":${message}}`;
    expect(response.text).toBe(
      `{"jsonrpc": "2.0", "id": ${response.body?.id}, "result": [${item}]}`,
    );
    await browser.close();
  });

  it('replays what follows `last` at once, ascending; `last = 0` is the last 50 seconds', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    // A row of a minute ago, which the sidecar read when it was notified.
    const reader = stack.sidecar.readers.reader(db);
    await reader.ready();
    const readBefore = reader.readCount;
    await stack.pg.query(
      db,
      `INSERT INTO bus_bus (channel, message, create_date, write_date)
       VALUES ($1, '"too old"', (now() at time zone 'UTC') - interval '60 seconds', now() at time zone 'UTC')`,
      [`["${db}","res.partner",3]`],
    );
    const w = writer();
    await w.notifyRaw(`[["${db}","res.partner",3]]`);
    await waitFor(() => reader.readCount > readBefore);
    const ids = await w.sendmany([toPartner(3, 1), toPartner(3, 2), toPartner(3, 3)]);
    const browser = client(cookie);
    const replay = await browser.poll([], {}, { last: (ids[0] as number) - 1 });
    expect(items(replay).map((n) => n.id)).toEqual(ids);
    const fromZero = await browser.poll([], {}, { last: 0 });
    const recent = items(fromZero).map((n) => n.id as number);
    expect(recent).toEqual(expect.arrayContaining(ids));
    expect(items(fromZero).map((n) => n.message)).not.toContain('too old');
    expect(recent).toEqual([...recent].sort((a, b) => a - b));
    await browser.close();
  });

  it('answers a peek at once with the notifications and the channels Odoo grants', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3, memberChannels: [1] });
    const browser = client(cookie);
    const last = await maxId();
    const response = await browser.call({ channels: ['a-string'], last, options: { peek: true } });
    const channels = legacy
      ? ['a-string', [db, 'mail.channel', 1], [db, 'res.partner', 3], [db, 'ir.needaction', 3]]
      : [
          [db, 'a-string'],
          [db, 'res.partner', 3],
          [db, 'mail.channel', 1],
          [db, 'broadcast'],
        ];
    expect(response.body?.result).toEqual({ notifications: [], channels });
    expect(stack.sidecar.longPolling.heldCount).toBe(0);
    await browser.close();
  });

  it("serves the client's own string channels (12-14 store them without the database)", async () => {
    const browser = client();
    browser.last = await maxId();
    const pending = browser.poll(['a-uuid-channel']);
    await held(1);
    const w = writer();
    const [id] = await w.sendmany([
      legacy
        ? { channel: 'a-uuid-channel', message: 'hi' }
        : { channel: 'a-uuid-channel', type: 't', payload: 'hi' },
    ]);
    expect(items(await pending).map((n) => n.id)).toEqual([id]);
    await browser.close();
  });

  it('closes the gap between what Odoo read and the moment the poll waits', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const browser = client(cookie);
    browser.last = await maxId();
    // Odoo has read and holds its answer: the row written meanwhile is not in it.
    await stack.odoo.setMode('held');
    try {
      const pending = browser.poll([]);
      await waitFor(() => stack.odoo.heldAnswers === 1, { message: "Odoo's answer computed" });
      const [id] = await writer().sendmany([toPartner(3, 'during the call')]);
      stack.odoo.releaseHeld();
      const response = await pending;
      expect(items(response).map((n) => n.id)).toEqual([id]);
    } finally {
      await stack.odoo.setMode('ok');
    }
    await browser.close();
  });

  it('delivers a row committed late, below `last`, while held or between two polls', async () => {
    const { cookie } = stack.login({ uid: 2, partnerId: 3 });
    const browser = client(cookie);
    browser.last = await maxId();
    const w = writer();
    // First poll: answered by the sidecar, so the next ones continue from it.
    let pending = browser.poll([]);
    await held(1);
    const late = await w.openTransaction();
    const [lateId] = await late.send([toPartner(3, 'late')]);
    const [early] = await w.sendmany([toPartner(3, 'early')]);
    expect(items(await pending).map((n) => n.id)).toEqual([early]);
    expect(browser.last).toBe(early);
    expect(lateId).toBeLessThan(early as number);

    pending = browser.poll([]);
    await held(1);
    await late.commit();
    await w.notifyRaw(`[["${db}","res.partner",3]]`);
    expect(items(await pending).map((n) => n.id)).toEqual([lateId]);

    // Between two polls: the row is read while no poll waits, and the next poll gets it at once.
    const late2 = await w.openTransaction();
    const [late2Id] = await late2.send([toPartner(3, 'late 2')]);
    pending = browser.poll([]);
    await held(1);
    const [early2] = await w.sendmany([toPartner(3, 'early 2')]);
    expect(items(await pending).map((n) => n.id)).toEqual([early2]);
    const reader = stack.sidecar.readers.existingReader(db);
    const readBefore = reader?.readCount ?? 0;
    await late2.commit();
    await w.notifyRaw(`[["${db}","res.partner",3]]`);
    await waitFor(() => (reader?.readCount ?? 0) > readBefore);
    const next = await browser.poll([]);
    expect(items(next).map((n) => n.id)).toEqual([late2Id]);
    await browser.close();
  });

  it('gives a browser it has no memory of (a restart, another sidecar before) a late row below its last', async () => {
    const w = writer();
    // A partner of its own: the late rows of the tests above are not this browser's.
    // Another browser keeps the reader reading while the returning one is away.
    const present = client(stack.login({ uid: 5, partnerId: 4 }).cookie);
    present.last = await maxId();
    const pending = present.poll([]);
    await held(1);
    const late = await w.openTransaction();
    const [lateId] = await late.send([toPartner(4, 'late')]);
    const [early] = await w.sendmany([toPartner(4, 'early')]);
    expect(items(await pending).map((n) => n.id)).toEqual([early]);
    const reader = stack.sidecar.readers.existingReader(db);
    const readBefore = reader?.readCount ?? 0;
    await late.commit();
    await w.notifyRaw(`[["${db}","res.partner",4]]`);
    await waitFor(() => (reader?.readCount ?? 0) > readBefore);

    // It got `early` from the sidecar serving it before; this one never saw its session.
    const returning = client(stack.login({ uid: 5, partnerId: 4 }).cookie);
    returning.last = early as number;
    expect(items(await returning.poll([])).map((n) => n.id)).toEqual([lateId]);
    await Promise.all([present.close(), returning.close()]);
  });

  if (version === '12.0') {
    it("adds 12.0's im_status items when a held poll ends, as Odoo's second read does", async () => {
      stack.odoo.setImStatus(7, 'online');
      const { cookie } = stack.login({ uid: 2, partnerId: 3 });
      const browser = client(cookie);
      browser.last = await maxId();
      const options = { bus_inactivity: 0, bus_presence_partner_ids: [7] };
      const pending = browser.poll([], options);
      await held(1);
      const [id] = await writer().sendmany([toPartner(3, 'with presence')]);
      const response = await pending;
      expect(items(response)).toEqual([
        { id, channel: [db, 'res.partner', 3], message: 'with presence' },
        { id: -1, channel: [db, 'bus.presence'], message: { id: 7, im_status: 'online' } },
      ]);
      const calls = stack.odoo.callsTo('/bus_sidecar/poll');
      expect(calls.at(-1)?.body).toMatchObject({ params: { force_status: true } });
      await browser.close();
    });
  }
});
