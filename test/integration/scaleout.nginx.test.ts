/**
 * Scaling out: three sidecars as separate processes, each with its own LISTEN connection and its
 * own reads of `bus_bus` (as on three hosts; they share nothing but the database), behind the
 * repo's `deploy/nginx.conf` with the three in its `sidecar` upstream.
 *
 * - nginx spreads the sockets over all three (each process's own `/metrics` says how many it has);
 * - one notification written as Odoo writes it reaches every socket exactly once, each through the
 *   sidecar that holds it;
 * - one sidecar killed with SIGKILL: its clients, retrying as Odoo's worker does, come back through
 *   nginx on the other two and get exactly the rows committed meanwhile, including one whose id
 *   was taken before the kill and committed after the kill below every client's last id — no gap,
 *   no duplicate, with no state shared between the sidecars: each reads `bus_bus` itself, a client
 *   resumes by its last id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingKey } from '../../src/config/settings.js';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import { ReconnectingSocket } from '../helpers/clients/reconnectingSocket.js';
import { type Nginx, startNginx } from '../helpers/servers/nginx.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const SIDECARS = 3;
/** Enough that every sidecar gets several, few enough for a busy two-core machine. */
const CLIENTS = 30;
const CHANNEL = 51;

let stack: Stack;
let nginx: Nginx | undefined;
const sidecars: SidecarProcess[] = [];
const clients: ReconnectingSocket[] = [];

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
  const settings: Partial<Record<SettingKey, unknown>> = sidecarSettings(
    stack.pg,
    stack.bouncer,
    stack.router.url,
  );
  // Each process gets a port of its own (`spawnSidecar` picks one).
  delete settings.port;
  delete settings.host;
  sidecars.push(
    ...(await Promise.all(Array.from({ length: SIDECARS }, () => spawnSidecar(settings)))),
  );
  nginx = await startNginx({
    sidecar: sidecars.map((sidecar) => `127.0.0.1:${sidecar.port}`),
    odoo: new URL(stack.router.url).host,
  });
}, 180_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.stop()));
  await nginx?.stop();
  for (const sidecar of sidecars) sidecar.kill('SIGKILL');
  await Promise.all(sidecars.map((sidecar) => sidecar.exited));
  await stack?.close();
});

/** Open websockets per sidecar process, from its own admin port. */
async function socketsPerSidecar(of: readonly SidecarProcess[]): Promise<number[]> {
  return Promise.all(
    of.map(async (sidecar) =>
      metricValue(await scrapeMetrics(sidecar.adminUrl), 'odoo_bus_sidecar_ws_connections'),
    ),
  );
}

function note(type: string) {
  return { channel: ['discuss.channel', CHANNEL] as const, type, payload: {} };
}

/** LISTEN connections on PostgreSQL: one per running sidecar process. */
async function listeners(): Promise<number> {
  const backends = await stack.pg.backends();
  return backends.filter((b) => b.application_name === 'odoo-bus-sidecar-listen').length;
}

/** Every client has received row `id` (on whichever connection). */
async function allReceived(id: number, timeoutMs: number): Promise<void> {
  await Promise.all(clients.map((c) => c.waitForNotification((n) => n.id === id, timeoutMs)));
}

describe('three sidecar processes behind nginx', () => {
  it('spread the sockets, deliver to all once, and take over a killed one without gap or duplicate', async () => {
    const writer = stack.writer();
    // Every client resumes from here: what it has seen before it opened its first socket.
    const start = await writer.sendone(note('before'));
    const url = `${(nginx as Nginx).origins[0]?.replace('http', 'ws')}/websocket`;
    for (let i = 0; i < CLIENTS; i++) {
      const { cookie } = stack.login({
        uid: 100 + i,
        partnerId: 1000 + i,
        memberChannels: [CHANNEL],
      });
      // A browser waits for as long as its connection lives; the clients all start at once.
      clients.push(
        new ReconnectingSocket(url, { cookie, last: start, handshakeTimeoutMs: 120_000 }),
      );
    }
    for (const client of clients) client.start();

    // Every subscribe reached Odoo and was answered: each sidecar now holds its sockets' channels,
    // so the next row goes out live, through the LISTEN of each process.
    await waitFor(() => clients.every((c) => c.isOpen), {
      timeoutMs: 120_000,
      message: () => `${clients.filter((c) => c.isOpen).length} of ${CLIENTS} clients open`,
    });
    await waitFor(
      () =>
        stack.odoo.callsTo('/websocket/peek_notifications').length >= CLIENTS &&
        stack.odoo.inFlight === 0,
      { timeoutMs: 120_000, message: 'every subscribe answered by Odoo' },
    );
    const spread = await socketsPerSidecar(sidecars);
    expect(spread.reduce((a, b) => a + b, 0)).toBe(CLIENTS);
    for (const count of spread) expect(count).toBeGreaterThan(0);

    expect(await listeners()).toBe(SIDECARS);

    const first = await writer.sendone(note('to everyone'));
    await allReceived(first, 60_000);
    for (const client of clients) expect(client.notificationIds()).toEqual([first]);

    // A transaction of Odoo's takes an id and does not commit yet; a row above it reaches everyone,
    // so every client's last id is now above the row still to come.
    const late = await writer.openTransaction();
    const [lateId] = await late.send([note('late')]);
    const above = await writer.sendone(note('above the late one'));
    await allReceived(above, 60_000);

    // One sidecar dies without a word.
    const victimIndex = spread.indexOf(Math.max(...spread));
    const victim = sidecars[victimIndex] as SidecarProcess;
    const survivors = sidecars.filter((s) => s !== victim);
    const onVictim = spread[victimIndex] as number;
    victim.kill('SIGKILL');
    await victim.exited;
    // Its clients see their socket cut and wait out the worker's backoff: what commits now is
    // theirs to catch up on (and delivered live to everyone else).
    await waitFor(() => clients.filter((c) => c.abnormalCloses > 0).length === onVictim, {
      timeoutMs: 60_000,
      message: () =>
        `${onVictim} clients cut (now ${clients.filter((c) => c.abnormalCloses > 0).length})`,
    });
    const missed = [await writer.sendone(note('missed 1')), await writer.sendone(note('missed 2'))];
    // Committed below the last id of every client: the moved ones resume on a sidecar that never
    // served them, with `last` above it; only that sidecar's own reading of bus_bus (it saw the id
    // missing) can tell them they lack it. Odoo's `id > last` would skip it.
    await late.commit();

    const after = await writer.sendone(note('after'));
    await allReceived(after, 120_000);
    await Promise.all([lateId as number, ...missed].map((id) => allReceived(id, 60_000)));

    // The victim's sockets are all on the other two now; nobody else moved.
    await waitFor(
      async () => (await socketsPerSidecar(survivors)).reduce((a, b) => a + b, 0) === CLIENTS,
      { message: `all ${CLIENTS} sockets on the two remaining sidecars` },
    );
    await waitFor(async () => (await listeners()) === SIDECARS - 1, {
      message: 'the killed sidecar gone from PostgreSQL, the two others still listening',
    });
    const moved = clients.filter((c) => c.abnormalCloses > 0);
    expect(moved).toHaveLength(onVictim);
    for (const client of moved) expect(client.connections.length).toBeGreaterThanOrEqual(2);
    for (const client of clients.filter((c) => c.abnormalCloses === 0)) {
      expect(client.connections).toHaveLength(1);
    }

    // Every row exactly once per socket, however many connections it took.
    const expected = [first, lateId as number, above, ...missed, after].sort((a, b) => a - b);
    for (const client of clients) {
      // Sorted, not in arrival order: the late row arrives after the rows above it.
      expect(client.notificationIds().sort((a, b) => a - b)).toEqual(expected);
    }
    // The rows written while a moved client was away reached it on its new connection.
    for (const client of moved) {
      const later = client.connections.slice(1).flatMap((socket) => socket.notificationIds());
      expect(later).toEqual(expect.arrayContaining([lateId, ...missed, after]));
    }
  }, 420_000);
});
