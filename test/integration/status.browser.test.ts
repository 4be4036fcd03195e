/**
 * The status page in a real headless Chromium, on a laptop-sized window: the sidecar serves two
 * Odoo databases with sockets on each, notifications are written as Odoo writes them, and the
 * page's plots follow (each canvas carries the values it drew in its data attributes). The page
 * runs under its own Content-Security-Policy without a violation or an error, and a screenshot is
 * kept in `test-artifacts/status-page.png`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { type BrowserPage, type Chromium, launchChromium } from '../helpers/servers/chromium.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { sleep, waitFor } from '../helpers/waitFor.js';

const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);
const MAIN_DB = 'odoo17';
const SALES_DB = 'odoo17_sales';
const DATABASES = [MAIN_DB, SALES_DB];

let stack: Stack;
let chromium: Chromium;
const sockets: BrowserSocket[] = [];

beforeAll(async () => {
  stack = await startStack({ databases: DATABASES });
  chromium = await launchChromium();
});

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close().catch(() => undefined)));
  for (const stop of [() => chromium?.close(), () => stack?.close()]) {
    await Promise.resolve()
      .then(stop)
      .catch(() => undefined);
  }
});

/** What a plot drew last: its series' latest values, by series name. */
async function plotted(tab: BrowserPage, plot: string): Promise<Record<string, number | null>> {
  const text = await tab.evaluate<string | null>(
    `document.querySelector('canvas[data-plot="${plot}"]')?.dataset.last ?? null`,
  );
  return text === null ? {} : (JSON.parse(text) as Record<string, number | null>);
}

async function write(db: string, count: number, round: number): Promise<void> {
  const writer = stack.writer(db);
  await writer.sendmany(
    Array.from({ length: count }, (_, i) => ({
      channel: ['discuss.channel', 1],
      type: 'discuss.channel/new_message',
      payload: { round, i },
    })),
  );
}

describe('the status page', () => {
  it('plots what flows, live, and stays readable on a laptop screen', async () => {
    const tab = await chromium.newPage();
    await chromium.cdp.send('Log.enable', {}, tab.sessionId);
    await chromium.cdp.send(
      'Emulation.setDeviceMetricsOverride',
      { width: 1440, height: 900, deviceScaleFactor: 1, mobile: false },
      tab.sessionId,
    );
    await tab.navigate(`${stack.adminUrl}/status`);
    await waitFor(
      async () => Number(await tab.evaluate('document.body.dataset.samples ?? 0')) > 0,
      {
        message: 'the page drew its first samples',
      },
    );
    expect((await plotted(tab, 'deliveries')).deliveries ?? 0).toBe(0);

    // Sockets on both databases, subscribed to their Discuss channel as Odoo's worker does.
    for (const [db, count] of [
      [MAIN_DB, 6],
      [SALES_DB, 3],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const user = stack.login({ db, uid: 2 + i, partnerId: 3 + i, memberChannels: [1] });
        sockets.push(await stack.subscribed(user.cookie));
      }
    }
    await waitFor(
      async () => {
        const clients = await plotted(tab, 'clients');
        return clients['ws:odoo17'] === 6 && clients['ws:odoo17_sales'] === 3;
      },
      { message: 'the clients plot showing the sockets of each database' },
    );

    // A few seconds of traffic, in bursts of growing size, so the plots have a shape.
    let round = 0;
    const seen = await waitFor(
      async () => {
        round++;
        await write(MAIN_DB, 1 + (round % 5) * 4, round);
        if (round % 2 === 0) await write(SALES_DB, 3, round);
        const deliveries = await plotted(tab, 'deliveries');
        return round >= 12 && (deliveries.deliveries ?? 0) > 0 && deliveries;
      },
      { message: 'the deliveries plot rising', intervalMs: 400, timeoutMs: 30_000 },
    );
    expect(seen.deliveries).toBeGreaterThan(0);
    await waitFor(async () => ((await plotted(tab, 'latency')).notifyToWriteP99 ?? 0) > 0, {
      message: 'the latency plot showing NOTIFY → socket write',
    });
    expect(
      Number(
        await tab.evaluate(`document.querySelector('canvas[data-plot="reads"]').dataset.points`),
      ),
    ).toBeGreaterThan(0);

    // Every socket got every notification of its database: the page watched, it did not disturb.
    for (const socket of sockets) expect(socket.batches.length).toBeGreaterThan(0);

    const tables = await tab.evaluate<{ databases: string; channels: string; ready: string }>(
      `({ databases: document.getElementById('databases').textContent,
          channels: document.getElementById('channels').textContent,
          ready: document.getElementById('ready').textContent })`,
    );
    expect(tables.ready).toBe('ready');
    expect(tables.databases).toContain('odoo17_sales');
    expect(tables.channels).toContain('["odoo17","discuss.channel",1]');

    // Let the last samples land before the picture is taken.
    await sleep(1500);
    const shot = await chromium.cdp.send<{ data: string }>(
      'Page.captureScreenshot',
      { format: 'png', captureBeyondViewport: false },
      tab.sessionId,
    );
    await mkdir(ARTIFACTS, { recursive: true });
    await writeFile(new URL('status-page.png', ARTIFACTS), Buffer.from(shot.data, 'base64'));

    const problems = [
      ...tab.events('Runtime.exceptionThrown'),
      ...tab
        .events('Log.entryAdded')
        .filter((e) => (e.params.entry as { level?: string }).level === 'error'),
      ...tab.events('Runtime.consoleAPICalled').filter((e) => e.params.type === 'error'),
    ];
    expect(problems).toEqual([]);
  });
});
