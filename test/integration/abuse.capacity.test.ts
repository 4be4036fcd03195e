/**
 * Capacity under hostile load, against the real sidecar process: one client (one address) may
 * flood, hold connections, subscribe huge channel lists or ask for a huge catch-up; every other
 * user keeps being served, the process stays up, its memory stays bounded, and every refusal is
 * counted in `/metrics`. Caps are set low where the test would otherwise need thousands of
 * descriptors (the test runner has the same open-file limit as the sidecar).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SettingKey } from '../../src/config/settings.js';
import { items, LongPollClient } from '../helpers/clients/longPollClient.js';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import {
  type BrowserSocket,
  connectBrowserSocket,
  HandshakeError,
} from '../helpers/clients/wsClient.js';
import type { OdooWriter } from '../helpers/fakeOdoo/odooWriter.js';
import {
  peakResidentBytes,
  residentBytes,
  startPeakMeasurement,
} from '../helpers/processMemory.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { CAPS_LIFTED, type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const PEEK = '/websocket/peek_notifications';
const MiB = 1024 * 1024;
/**
 * The JavaScript heap of the sidecars that take the memory attacks. Without their caps, what
 * those attacks keep alive needs more than this (the process dies); with them, far less.
 */
const HEAP_MIB = 192;
const HEAP_BOUND = [`--max-old-space-size=${HEAP_MIB}`];

let stack: Stack;
let busWriter: OdooWriter | undefined;
/** One writer for the whole file (each holds a pool of connections). */
const writer = () => {
  busWriter ??= stack.writer();
  return busWriter;
};
const running: SidecarProcess[] = [];
const open: BrowserSocket[] = [];

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
});
afterEach(async (context) => {
  await Promise.all(open.splice(0).map((s) => s.terminate()));
  for (const sidecar of running.splice(0)) {
    if (context.task.result?.state === 'fail') console.log(sidecar.output.join('').slice(-20_000));
    sidecar.kill('SIGKILL');
    await sidecar.exited;
  }
});
afterAll(async () => {
  await stack?.close();
});

/** The caps at their defaults (the harness lifts them for other tests). */
const DEFAULT_CAPS = Object.fromEntries(Object.keys(CAPS_LIFTED).map((key) => [key, undefined]));

async function sidecarWith(
  settings: Partial<Record<SettingKey, unknown>> = {},
  on: Stack = stack,
  nodeArgs: string[] = [],
): Promise<SidecarProcess> {
  const sidecar = await spawnSidecar(
    {
      ...sidecarSettings(on.pg, on.bouncer, on.router.url),
      ...DEFAULT_CAPS,
      // The test clients stand behind a proxy on 127.0.0.1 that reports their addresses.
      proxyMode: true,
      logLevel: 'warn',
      ...settings,
    },
    { nodeArgs },
  );
  running.push(sidecar);
  return sidecar;
}

/** The headers of a proxy (nginx's configuration) forwarding a request of a client at `address`. */
function proxied(sidecar: SidecarProcess, address: string): Record<string, string> {
  return { 'x-forwarded-for': address, 'x-forwarded-host': `127.0.0.1:${sidecar.port}` };
}

/** A socket as a browser behind the proxy at `address` opens it (the proxy reports the address). */
async function socketFrom(
  sidecar: SidecarProcess,
  address: string,
  cookie?: string,
): Promise<BrowserSocket> {
  const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, {
    ...(cookie === undefined ? {} : { cookie }),
    headers: proxied(sidecar, address),
  });
  open.push(socket);
  return socket;
}

function peeksFrom(address: string): number {
  return stack.odoo.callsTo(PEEK).filter((c) => c.headers['x-forwarded-for']?.includes(address))
    .length;
}

async function metric(
  sidecar: SidecarProcess,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return metricValue(await scrapeMetrics(sidecar.adminUrl), name, labels);
}

function alive(sidecar: SidecarProcess): boolean {
  return sidecar.child.exitCode === null && sidecar.child.signalCode === null;
}

/** A logged-in user at `address` subscribes and gets a notification written after it. */
async function userStillServed(sidecar: SidecarProcess, address: string): Promise<void> {
  const { cookie } = stack.login();
  const user = await socketFrom(sidecar, address, cookie);
  user.subscribe([], 0);
  await waitFor(() => stack.odoo.callsTo(PEEK).some((c) => c.headers.cookie === cookie));
  await receivesNewRows(user);
}

/**
 * Writes broadcast rows until `socket` has one: its subscription is applied once Odoo answered,
 * and a row written after that reaches it.
 */
async function receivesNewRows(socket: BrowserSocket): Promise<void> {
  const written: number[] = [];
  await waitFor(
    async () => {
      const [id] = await writer().sendmany([{ channel: 'broadcast', type: 'new', payload: {} }]);
      written.push(id as number);
      return socket.notificationIds().some((n) => written.includes(n));
    },
    { intervalMs: 200, message: 'the socket received a notification written after it subscribed' },
  );
}

describe('calls to Odoo: fair between clients (item 4)', () => {
  it("a flood of slow anonymous subscribes from one address does not hold up another user's", async () => {
    const sidecar = await sidecarWith();
    const attacker = '203.0.113.66';
    const slow = stack.odoo.hold(
      (r) => r.path === PEEK && (r.headers['x-forwarded-for'] ?? '').includes(attacker),
    );
    try {
      for (let i = 0; i < 12; i++) (await socketFrom(sidecar, attacker)).subscribe([], 0);
      // Odoo is slow for the attacker: its first calls hold their slots, the rest wait.
      await waitFor(async () => (await metric(sidecar, 'odoo_bus_sidecar_odoo_queued')) > 0);
      const heldByAttacker = peeksFrom(attacker);
      const { cookie } = stack.login();
      const user = await socketFrom(sidecar, '198.51.100.7', cookie);
      user.subscribe([], 0);
      // The user's subscribe reaches Odoo while the attacker's calls beyond its share still wait.
      await waitFor(() => stack.odoo.callsTo(PEEK).some((c) => c.headers.cookie === cookie), {
        message: "the user's subscribe reached Odoo",
      });
      expect(peeksFrom(attacker)).toBe(heldByAttacker);
      // The attacker holds at most half of the 4 slots (odooSlotsPerAddress' default).
      expect(heldByAttacker).toBeLessThanOrEqual(2);
      expect(await metric(sidecar, 'odoo_bus_sidecar_odoo_queued')).toBe(12 - heldByAttacker);
      await userStillServed(sidecar, '198.51.100.8');
    } finally {
      slow.release();
    }
    await waitFor(() => peeksFrom(attacker) === 12, { message: "every attacker's call went on" });
    expect(alive(sidecar)).toBe(true);
  });

  it("refuses a client's calls past its share of places or their deadline (1013), and drops those of sockets gone", async () => {
    const sidecar = await sidecarWith({ odooQueuePerAddress: 5, odooQueueWaitMs: 1500 });
    const attacker = '203.0.113.77';
    const slow = stack.odoo.hold(
      (r) => r.path === PEEK && (r.headers['x-forwarded-for'] ?? '').includes(attacker),
    );
    const refused = (reason: string) =>
      metric(sidecar, 'odoo_bus_sidecar_odoo_queue_refused_total', {
        queue: 'calls',
        reason,
      });
    try {
      const flood = await Promise.all(
        Array.from({ length: 12 }, () => socketFrom(sidecar, attacker)),
      );
      for (const socket of flood) socket.subscribe([], 0);
      // 2 calls in flight (held by Odoo), 5 waiting, 5 refused at once for its share of places.
      await waitFor(async () => (await refused('clientFull')) === 5);
      // Then the waiting ones pass their deadline.
      await waitFor(async () => (await refused('deadline')) === 5);
      const closed = () => flood.filter((socket) => socket.ws.readyState === socket.ws.CLOSED);
      await waitFor(() => closed().length === 10);
      const codes = await Promise.all(closed().map((socket) => socket.closed));
      expect(codes.map((c) => c.code)).toEqual(Array.from({ length: 10 }, () => 1013));
      expect(peeksFrom(attacker)).toBe(2);

      // Sockets that go while their call waits take it with them: it never reaches Odoo.
      const leaving = await Promise.all(
        Array.from({ length: 3 }, () => socketFrom(sidecar, attacker)),
      );
      for (const socket of leaving) socket.subscribe([], 0);
      await waitFor(async () => (await metric(sidecar, 'odoo_bus_sidecar_odoo_queued')) === 3);
      await Promise.all(leaving.map((s) => s.terminate()));
      await waitFor(async () => (await refused('abandoned')) === 3);
      expect(await metric(sidecar, 'odoo_bus_sidecar_odoo_queued')).toBe(0);
      await userStillServed(sidecar, '198.51.100.9');
    } finally {
      slow.release();
    }
    // A later call of the same client goes through; the abandoned ones never did.
    const sentinel = await socketFrom(sidecar, attacker);
    sentinel.subscribe([], 0);
    await waitFor(() => peeksFrom(attacker) === 3);
    expect(alive(sidecar)).toBe(true);
  });
});

describe('connection caps (item 6)', () => {
  it('refuses websockets past the per-address and the total cap with 503; admin endpoints and other sockets keep working', async () => {
    const sidecar = await sidecarWith({ maxConnections: 9, maxConnectionsPerAddress: 4 });
    const refusal = async (address: string) => {
      const error = await socketFrom(sidecar, address).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HandshakeError);
      return (error as HandshakeError).status;
    };
    const fromA = await Promise.all(
      Array.from({ length: 4 }, () => socketFrom(sidecar, '192.0.2.1')),
    );
    expect(await refusal('192.0.2.1')).toBe(503);
    const { cookie } = stack.login();
    const user = await socketFrom(sidecar, '192.0.2.2', cookie);
    user.subscribe([], 0);
    await Promise.all(Array.from({ length: 4 }, () => socketFrom(sidecar, '192.0.2.3')));
    // 9 held: nobody else gets in, whatever the address.
    expect(await refusal('192.0.2.4')).toBe(503);
    // The admin port is not the public port: its caps leave the probes and metrics alone.
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${sidecar.adminUrl}${path}`)).status).toBe(200);
    }
    const held = () => metric(sidecar, 'odoo_bus_sidecar_connections_held');
    expect(await held()).toBe(9);
    const refused = (cap: string) =>
      metric(sidecar, 'odoo_bus_sidecar_connections_refused_total', {
        transport: 'websocket',
        cap,
      });
    expect(await refused('address')).toBe(1);
    expect(await refused('total')).toBe(1);
    // Sockets held keep receiving.
    await waitFor(() => stack.odoo.callsTo(PEEK).some((c) => c.headers.cookie === cookie));
    await receivesNewRows(user);
    // A place given back is a place for someone else.
    await (fromA[0] as BrowserSocket).close();
    await waitFor(async () => (await held()) === 8);
    await socketFrom(sidecar, '192.0.2.4');
    expect(await held()).toBe(9);
    expect(alive(sidecar)).toBe(true);
  });
});

describe('subscription memory per client address (item 5)', () => {
  it('many sockets of one address cannot add up their channel lists: memory stays bounded', async () => {
    const sidecar = await sidecarWith({}, stack, HEAP_BOUND);
    const attacker = '203.0.113.88';
    const SOCKETS = 600;
    const CHANNELS = 1000;
    const channelOf = (socket: number, i: number) => `${socket}-${i}-`.padEnd(100, 'x');
    await userStillServed(sidecar, '198.51.100.20');
    const before = await residentBytes(sidecar.child.pid as number);
    const flood: BrowserSocket[] = [];
    for (let batch = 0; batch < SOCKETS / 50; batch++) {
      const sockets = await Promise.all(
        Array.from({ length: 50 }, () => socketFrom(sidecar, attacker)),
      );
      sockets.forEach((socket, i) => {
        socket.subscribe(
          Array.from({ length: CHANNELS }, (_, c) => channelOf(batch * 50 + i, c)),
          0,
        );
      });
      flood.push(...sockets);
      // Each subscribe is either applied (Odoo was asked) or refused (the socket closed).
      const settled = () => {
        const closed = flood.filter((s) => s.ws.readyState === s.ws.CLOSED).length;
        return closed + peeksFrom(attacker) >= flood.length;
      };
      await waitFor(settled, { timeoutMs: 30_000, message: 'every subscribe applied or refused' });
    }
    const grown = (await residentBytes(sidecar.child.pid as number)) - before;
    // 600 x 100 KB of channel names would hold about 170 MiB (over the heap bound: the process
    // would die); the address may hold 8 MiB. What grows beyond is garbage and buffers.
    expect(grown).toBeLessThan(160 * MiB);
    expect(
      await metric(sidecar, 'odoo_bus_sidecar_subscriptions_refused_total', {
        transport: 'websocket',
        cap: 'address',
      }),
    ).toBeGreaterThan(0);
    expect(await metric(sidecar, 'odoo_bus_sidecar_subscribed_bytes')).toBeLessThanOrEqual(
      8 * MiB + 100_000,
    );
    const refusedCodes = await Promise.all(
      flood.filter((s) => s.ws.readyState === s.ws.CLOSED).map((s) => s.closed),
    );
    expect(new Set(refusedCodes.map((c) => c.code))).toEqual(new Set([1013]));
    await userStillServed(sidecar, '198.51.100.21');
    expect(alive(sidecar)).toBe(true);
    // 60 MB of subscribes parsed in twelve waves: far longer than the default on a loaded machine.
  }, 300_000);
});

describe('a huge catch-up (item 9)', () => {
  it('is delivered whole, in parts no larger than maxCallAnswerBytes, with bounded memory', async () => {
    const sidecar = await sidecarWith({}, stack, HEAP_BOUND);
    const ROWS = 100_000;
    const partner = 99;
    const [{ last }] = (await stack.pg.query<{ last: number }>(
      stack.db,
      'SELECT coalesce(max(id), 0) AS last FROM bus_bus',
    )) as [{ last: number }];
    await stack.pg.query(
      stack.db,
      `INSERT INTO bus_bus (channel, message, create_date)
       SELECT $1, json_build_object('type', 'catch-up', 'payload', json_build_object('n', g, 'body', repeat('x', 400)))::text, now() at time zone 'UTC'
       FROM generate_series(1, ${ROWS}) AS g`,
      [JSON.stringify([stack.db, 'res.partner', partner])],
    );
    const bystander = '198.51.100.30';
    await userStillServed(sidecar, bystander);
    const peakBefore = await startPeakMeasurement(sidecar.child.pid as number);
    const { cookie } = stack.login({ partnerId: partner });
    const [{ lastRow }] = (await stack.pg.query<{ lastRow: number }>(
      stack.db,
      'SELECT max(id) AS "lastRow" FROM bus_bus WHERE channel = $1',
      [JSON.stringify([stack.db, 'res.partner', partner])],
    )) as [{ lastRow: number }];
    const received: number[] = [];
    const frameBytes: number[] = [];
    let health = 0;
    const probes = setInterval(() => {
      void fetch(`${sidecar.adminUrl}/healthz`).then(
        (r) => {
          if (r.status === 200) health++;
        },
        () => undefined,
      );
    }, 50);
    try {
      // Odoo's worker: on 4002 it reconnects at once and subscribes with the last id it received.
      let from = last;
      for (let parts = 0; !received.includes(lastRow) && parts < 40; parts++) {
        const socket = await socketFrom(sidecar, '198.51.100.31', cookie);
        socket.ws.on('message', (data: Buffer) => frameBytes.push(data.length));
        socket.subscribe([], from);
        // Either the last row arrives, or the socket closes after a part.
        await socket.waitForNotification((n) => n.id === lastRow, 120_000).catch(() => undefined);
        const rows = socket.notifications().filter((n) => n.message.type === 'catch-up');
        received.push(...rows.map((n) => n.id));
        if (!received.includes(lastRow)) expect((await socket.closed).code).toBe(4002);
        from = socket.lastNotificationId() || from;
        await socket.terminate();
      }
    } finally {
      clearInterval(probes);
    }
    // Every row once, in id order.
    expect(received).toHaveLength(ROWS);
    for (let i = 1; i < received.length; i++)
      expect(received[i]).toBeGreaterThan(received[i - 1] as number);
    expect(Math.max(...frameBytes)).toBeLessThanOrEqual(8 * MiB);
    expect(
      await metric(sidecar, 'odoo_bus_sidecar_catchup_parts_total', {
        transport: 'websocket',
      }),
    ).toBeGreaterThan(0);
    // 45 MiB read whole and parsed at once took over 300 MiB (over the heap bound: the process
    // would die); in parts, far less.
    expect((await peakResidentBytes(sidecar.child.pid as number)) - peakBefore).toBeLessThan(
      150 * MiB,
    );
    expect(health).toBeGreaterThan(0);
    await userStillServed(sidecar, bystander);
    expect(alive(sidecar)).toBe(true);
    await stack.pg.query(stack.db, 'DELETE FROM bus_bus WHERE channel = $1', [
      JSON.stringify([stack.db, 'res.partner', partner]),
    ]);
  });
});

describe('long polling (Odoo 12-15)', () => {
  const DB = 'odoo15';
  let lp: Stack;
  beforeAll(async () => {
    lp = await startStack({ databases: [DB], odoo: { version: '15.0' }, startSidecar: false });
  });
  afterAll(async () => {
    await lp?.close();
  });

  const poller = (sidecar: SidecarProcess, address: string, cookie?: string) =>
    new LongPollClient({
      baseUrl: `http://127.0.0.1:${sidecar.port}`,
      ...(cookie === undefined ? {} : { cookie }),
      headers: proxied(sidecar, address),
    });

  it('refuses polls past the per-address cap with a JSON-RPC error, other addresses still held and answered (item 6)', async () => {
    const sidecar = await sidecarWith({ maxConnectionsPerAddress: 3, odooVersion: 15 }, lp);
    const { cookie } = lp.login({ db: DB });
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const heldPolls = controllers.map((c) =>
      poller(sidecar, '192.0.2.10', cookie)
        .call({ channels: [], last: 0, options: {} }, { signal: c.signal })
        .catch(() => undefined),
    );
    await waitFor(async () => (await metric(sidecar, 'odoo_bus_sidecar_longpoll_held')) === 3);
    const refused = await poller(sidecar, '192.0.2.10', cookie).call({
      channels: [],
      last: 0,
      options: {},
    });
    expect(refused.status).toBe(200);
    expect(refused.body?.error?.data.message).toMatch(/Too many connections/);
    const other = lp.login({ db: DB });
    const polling = poller(sidecar, '192.0.2.11', other.cookie).call({
      channels: [],
      last: 0,
      options: {},
    });
    await waitFor(async () => (await metric(sidecar, 'odoo_bus_sidecar_longpoll_held')) === 4);
    const [id] = await lp
      .writer(DB)
      .sendmany([{ channel: ['res.partner', 3], type: 'held', payload: {} }]);
    expect(items(await polling).map((n) => n.id)).toContain(id);
    expect(
      await metric(sidecar, 'odoo_bus_sidecar_connections_refused_total', {
        transport: 'longpolling',
        cap: 'address',
      }),
    ).toBe(1);
    for (const c of controllers) c.abort();
    await Promise.all(heldPolls);
    expect(alive(sidecar)).toBe(true);
  });

  it('answers a catch-up larger than one answer of Odoo in parts; the polls that follow get the rest (item 9)', async () => {
    const sidecar = await sidecarWith({ odooVersion: 15, maxCallAnswerBytes: 256 * 1024 }, lp);
    const partner = 77;
    const channel = JSON.stringify([DB, 'res.partner', partner]);
    const [{ last }] = (await lp.pg.query<{ last: number }>(
      DB,
      'SELECT coalesce(max(id), 0) AS last FROM bus_bus',
    )) as [{ last: number }];
    await lp.pg.query(
      DB,
      `INSERT INTO bus_bus (channel, message, create_date)
       SELECT $1, json_build_object('type', 'catch-up', 'payload', json_build_object('n', g, 'body', repeat('x', 400)))::text, now() at time zone 'UTC'
       FROM generate_series(1, 3000) AS g`,
      [channel],
    );
    const { cookie } = lp.login({ db: DB, partnerId: partner });
    const browser = poller(sidecar, '198.51.100.50', cookie);
    browser.last = last;
    const received: number[] = [];
    for (let polls = 0; received.length < 3000 && polls < 40; polls++) {
      const answer = await browser.poll([], {});
      received.push(...items(answer).map((n) => n.id as number));
    }
    expect(received).toHaveLength(3000);
    expect(new Set(received).size).toBe(3000);
    expect([...received].sort((a, b) => a - b)).toEqual(received);
    expect(
      await metric(sidecar, 'odoo_bus_sidecar_catchup_parts_total', { transport: 'longpolling' }),
    ).toBeGreaterThan(2);
    await lp.pg.query(DB, 'DELETE FROM bus_bus WHERE channel = $1', [channel]);
    expect(alive(sidecar)).toBe(true);
  });

  it('forwarded requests have their own slots: slow ones never hold up polls (item 4)', async () => {
    const sidecar = await sidecarWith({ odooVersion: 15 }, lp);
    const slow = lp.odoo.hold((r) => r.path === '/longpolling/im_status');
    const { cookie } = lp.login({ db: DB });
    try {
      const flood = Array.from({ length: 8 }, (_, i) =>
        fetch(`http://127.0.0.1:${sidecar.port}/longpolling/im_status`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...proxied(sidecar, `203.0.113.${i}`) },
          body: JSON.stringify({
            jsonrpc: '2.0',
            method: 'call',
            params: { partner_ids: [3] },
            id: i,
          }),
        }).catch(() => undefined),
      );
      await waitFor(() => slow.held >= 2, {
        message: 'the forwarding slots taken by slow requests',
      });
      const answer = await poller(sidecar, '198.51.100.40', cookie).call(
        { channels: [], last: 0, options: { peek: true } },
        // Not a measure of time: a poll stuck behind the forwarded requests never comes back.
        { signal: AbortSignal.timeout(20_000) },
      );
      expect(answer.body?.result).toBeDefined();
      expect(slow.held).toBe(2);
      expect(await metric(sidecar, 'odoo_bus_sidecar_odoo_forward_queued')).toBe(6);
      slow.release();
      await Promise.all(flood);
    } finally {
      slow.release();
    }
    expect(alive(sidecar)).toBe(true);
  });
});
