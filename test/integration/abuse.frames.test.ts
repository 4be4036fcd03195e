/**
 * Hostile websocket frames against a real sidecar process: JSON nested thousands deep, subscribes
 * too wide or too long to keep. Each is refused as Odoo refuses a bad message (logged, ignored, the
 * socket stays open), counted in `/metrics`, never reaches Odoo, and other users keep receiving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import { type BrowserSocket, connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;
let sidecar: SidecarProcess;
let bystander: BrowserSocket;

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
  sidecar = await spawnSidecar({
    ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url),
    // Many frames on one socket here; Odoo's rate limit is tested elsewhere.
    rateLimitBurst: 1000,
  });
  bystander = await subscribed(stack.login().cookie);
});
afterAll(async () => {
  await bystander?.close().catch(() => undefined);
  sidecar?.kill('SIGKILL');
  await stack?.close();
});

async function subscribed(cookie: string): Promise<BrowserSocket> {
  const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, { cookie });
  socket.subscribe([], 0);
  await waitFor(() => peeksWith(cookie) > 0);
  return socket;
}

/** The subscribes Odoo was asked for on behalf of this cookie. */
function peeksWith(cookie: string): number {
  return stack.odoo
    .callsTo('/websocket/peek_notifications')
    .filter((c) => c.headers.cookie === cookie).length;
}

async function refused(reason: string): Promise<number> {
  return metricValue(
    await scrapeMetrics(sidecar.adminUrl),
    'odoo_bus_sidecar_ws_invalid_messages_total',
    {
      reason,
    },
  );
}

/** The process is up, the attacker's socket and the bystander's still receive. */
async function stillServing(attacker: BrowserSocket): Promise<void> {
  expect(sidecar.child.exitCode).toBeNull();
  const [id] = await stack
    .writer()
    .sendmany([{ channel: 'broadcast', type: 'after-attack', payload: {} }]);
  await Promise.all([
    bystander.waitForNotification((n) => n.id === id),
    attacker.waitForNotification((n) => n.id === id),
  ]);
  expect(attacker.ws.readyState).toBe(attacker.ws.OPEN);
  const metrics = await scrapeMetrics(sidecar.adminUrl);
  expect(metricValue(metrics, 'odoo_bus_sidecar_last_resort_errors_total')).toBe(0);
  expect(metricValue(metrics, 'odoo_bus_sidecar_errors_caught_total')).toBe(0);
}

const nested = (depth: number, open: string, close: string, inner = '1') =>
  `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

describe('deep JSON', () => {
  it('refuses update_presence nested 5,000 deep without asking Odoo', async () => {
    const { cookie } = stack.login();
    const attacker = await subscribed(cookie);
    const before = await refused('too-deep');
    const deepArrays = `{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":${nested(5000, '[', ']')}}}`;
    const deepObjects = `{"event_name":"update_presence","data":{"inactivity_period":0,"im_status_ids_by_model":${nested(5000, '{"a":', '}')}}}`;
    expect(deepArrays.length).toBeLessThan(11_000);
    attacker.send(deepArrays);
    attacker.send(deepObjects);
    await waitFor(async () => (await refused('too-deep')) === before + 2);
    await stillServing(attacker);
    expect(
      stack.odoo
        .callsTo('/websocket/update_bus_presence')
        .filter((c) => c.headers.cookie === cookie),
    ).toEqual([]);
    await attacker.close();
  });

  it('refuses deep subscribes, deep unknown events and deep extra keys alike', async () => {
    const { cookie } = stack.login();
    const attacker = await subscribed(cookie);
    const peeks = () => peeksWith(cookie);
    const peeksBefore = peeks();
    const before = await refused('too-deep');
    const frames = [
      `{"event_name":"subscribe","data":{"channels":${nested(5000, '[', ']', '"x"')},"last":0}}`,
      `{"event_name":"subscribe","data":{"channels":[],"last":0,"extra":${nested(5000, '[', ']')}}}`,
      `{"event_name":"whatever","data":${nested(100_000, '[', ']')}}`,
      nested(20_000, '{"event_name":"subscribe","data":', '}', '0'),
    ];
    for (const frame of frames) attacker.send(frame);
    await waitFor(async () => (await refused('too-deep')) === before + frames.length);
    await stillServing(attacker);
    expect(peeks()).toBe(peeksBefore);
    await attacker.close();
  });
});

describe('wide subscribes', () => {
  it('refuses 2,000 channels of 500 characters (bytes per subscribe) and one channel of 10,000', async () => {
    const { cookie } = stack.login();
    const attacker = await subscribed(cookie);
    const peeks = () => peeksWith(cookie);
    const peeksBefore = peeks();
    const [tooLarge, tooLong] = await Promise.all([
      refused('subscribe-too-large'),
      refused('channel-too-long'),
    ]);
    attacker.subscribe(
      Array.from({ length: 2000 }, (_, i) => `${String(i).padStart(4, '0')}${'c'.repeat(496)}`),
      0,
    );
    attacker.subscribe(['c'.repeat(10_000)], 0);
    await waitFor(
      async () =>
        (await refused('subscribe-too-large')) === tooLarge + 1 &&
        (await refused('channel-too-long')) === tooLong + 1,
    );
    expect(peeks()).toBe(peeksBefore);
    await stillServing(attacker);
    // The socket still subscribes normally afterwards.
    attacker.subscribe(['discuss.channel_1'], 0);
    await waitFor(() => peeks() === peeksBefore + 1);
    await attacker.close();
  });
});
