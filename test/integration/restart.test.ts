/**
 * Nothing lost across a restart of the sidecar process (`kill -9`, then a new process on the same
 * port). A transaction that took its id while the browser was being served and commits later,
 * below the browser's `last`, must still reach the browser when it comes back:
 * - committed while no sidecar runs: only the stopped process knew it was a hole (restart journal);
 * - committed after the new process's reader started, before the browser came back: the reader
 *   watches the ids missing at its start, and the browser's `last` is checked against what filled
 *   them (this one holds without the journal).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingKey } from '../../src/config/settings.js';
import { type BrowserSocket, connectBrowserSocket } from '../helpers/clients/wsClient.js';
import { type SidecarProcess, spawnSidecar } from '../helpers/servers/sidecarProcess.js';
import { type Stack, sidecarSettings, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;
let stateDir: string;
let settings: Partial<Record<SettingKey, unknown>>;
const running: SidecarProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ startSidecar: false });
  stateDir = await mkdtemp(join(tmpdir(), 'odoo-bus-sidecar-state-'));
  settings = { ...sidecarSettings(stack.pg, stack.bouncer, stack.router.url), stateDir };
  delete settings.port;
  delete settings.host;
});
afterAll(async () => {
  for (const sidecar of running) sidecar.kill('SIGKILL');
  await stack?.close();
  await rm(stateDir, { recursive: true, force: true });
});

async function start(port?: number): Promise<SidecarProcess> {
  const sidecar = await spawnSidecar(settings, port === undefined ? {} : { port });
  running.push(sidecar);
  return sidecar;
}

async function killHard(sidecar: SidecarProcess): Promise<void> {
  sidecar.kill('SIGKILL');
  await sidecar.exited;
}

const note = (channelId: number, type: string) => ({
  channel: ['discuss.channel', channelId] as const,
  type,
  payload: {},
});

/** A browser's socket, subscribed with `last` (resolves once the subscribe reached Odoo). */
async function browser(
  sidecar: SidecarProcess,
  cookie: string,
  last: number,
): Promise<BrowserSocket> {
  const socket = await connectBrowserSocket(`ws://127.0.0.1:${sidecar.port}/websocket`, { cookie });
  socket.subscribe([], last);
  const peeks = stack.odoo.callsTo('/websocket/peek_notifications').length;
  await waitFor(() => stack.odoo.callsTo('/websocket/peek_notifications').length > peeks, {
    message: 'the subscribe reached Odoo',
  });
  return socket;
}

describe('kill -9 and restart', () => {
  it('delivers a row that committed while no sidecar ran, below the browser last', async () => {
    const channelId = 91;
    const { cookie } = stack.login({ memberChannels: [channelId] });
    const writer = stack.writer();
    const first = await start();
    const socket = await browser(first, cookie, 0);
    const warm = Number(await writer.sendone(note(channelId, 'warm')));
    await socket.waitForNotification((n) => n.id === warm, 15_000);

    const tx = await writer.openTransaction();
    const [lateId] = (await tx.send([note(channelId, 'late')])).map(Number);
    const above = Number(await writer.sendone(note(channelId, 'above')));
    await socket.waitForNotification((n) => n.id === above, 15_000);
    expect(socket.lastNotificationId()).toBe(above);

    await killHard(first);
    await socket.closed;
    await tx.commit();

    const second = await start(first.port);
    const back = await browser(second, cookie, above);
    const got = await back.waitForNotification((n) => n.id === lateId, 15_000);
    expect(got.message.type).toBe('late');
    // Nothing the browser had is sent again.
    const after = Number(await writer.sendone(note(channelId, 'after')));
    await back.waitForNotification((n) => n.id === after, 15_000);
    expect(back.notificationIds()).toEqual([lateId, after]);
    await back.close();
    await killHard(second);
  });

  it('delivers a row that commits after the restart, before the browser came back, below its last', async () => {
    const channelId = 92;
    const { cookie } = stack.login({ memberChannels: [channelId] });
    const writer = stack.writer();
    const first = await start();
    const socket = await browser(first, cookie, 0);
    const tx = await writer.openTransaction();
    const [lateId] = (await tx.send([note(channelId, 'late')])).map(Number);
    const above = Number(await writer.sendone(note(channelId, 'above')));
    await socket.waitForNotification((n) => n.id === above, 15_000);

    await killHard(first);
    const second = await start(first.port);
    // Another user's socket starts the new process's reader; the row commits while the first
    // browser is still away (its reconnect delay), and reaches the user who is there.
    const { cookie: otherCookie } = stack.login({ uid: 7, memberChannels: [channelId] });
    const other = await browser(second, otherCookie, 0);
    // Once this row reaches the other user, the new reader has started (the late row still open).
    const live = Number(await writer.sendone(note(channelId, 'live')));
    await other.waitForNotification((n) => n.id === live, 15_000);
    await tx.commit();
    await other.waitForNotification((n) => n.id === lateId, 15_000);

    const back = await browser(second, cookie, above);
    const got = await back.waitForNotification((n) => n.id === lateId, 15_000);
    expect(got.message.type).toBe('late');
    const after = Number(await writer.sendone(note(channelId, 'after')));
    await back.waitForNotification((n) => n.id === after, 15_000);
    expect(back.notificationIds()).toEqual([lateId, live, after]);
    await Promise.all([back.close(), other.close()]);
    await killHard(second);
  });
});
