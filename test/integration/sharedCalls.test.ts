/**
 * Tabs of one session subscribing at the same moment (a page load of several tabs, every socket back
 * after a restart) cost Odoo one `peek_notifications` call, each tab still gets Odoo's answer for
 * that session, and the calls Odoo was spared are counted on the admin port. Another session's
 * identical subscribe is never answered by that call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, scrapeMetrics } from '../helpers/clients/metricsText.js';
import type { BrowserSocket } from '../helpers/clients/wsClient.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const PEEK = '/websocket/peek_notifications';
const TABS = 3;

let stack: Stack;
const open: BrowserSocket[] = [];

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await Promise.all(open.map((socket) => socket.close()));
  await stack?.close();
});

async function sharedCalls(): Promise<number> {
  const text = await scrapeMetrics(stack.adminUrl);
  return metricValue(text, 'odoo_bus_sidecar_odoo_calls_shared_total', { route: PEEK });
}

describe('calls to Odoo shared by the tabs of one session', () => {
  it('makes one peek for tabs subscribing together, answers each, and counts the calls spared', async () => {
    const tab = stack.login({ memberChannels: [1] });
    const other = stack.login({ memberChannels: [1] });
    const peeksOf = (cookie: string) =>
      stack.odoo.callsTo(PEEK).filter((call) => call.headers.cookie === cookie).length;
    const sharedBefore = await sharedCalls();
    // Odoo holds the session's first peek, so that the other tabs' subscribes arrive while it is out.
    const slow = stack.odoo.hold((request) => request.path === PEEK);
    let released = false;
    try {
      const tabs = await Promise.all(
        Array.from({ length: TABS }, () => stack.connect({ cookie: tab.cookie })),
      );
      const stranger = await stack.connect({ cookie: other.cookie });
      open.push(...tabs, stranger);
      for (const socket of tabs) socket.subscribe([], 0);
      stranger.subscribe([], 0);
      await waitFor(async () => (await sharedCalls()) - sharedBefore === TABS - 1, {
        message: 'the other tabs joining the first tab’s call',
      });
      await waitFor(() => peeksOf(other.cookie) === 1, {
        message: "the other session's own call reaching Odoo",
      });
      slow.release();
      released = true;
      // Every tab is subscribed: a notification written now reaches each.
      const written: number[] = [];
      await waitFor(
        async () => {
          const [id] = await stack
            .writer()
            .sendmany([{ channel: 'broadcast', type: 'shared', payload: {} }]);
          written.push(id as number);
          return tabs.every((socket) => socket.notificationIds().some((n) => written.includes(n)));
        },
        {
          intervalMs: 200,
          message: 'every tab receiving a notification written after it subscribed',
        },
      );
    } finally {
      if (!released) slow.release();
    }
    expect(peeksOf(tab.cookie)).toBe(1);
    expect(peeksOf(other.cookie)).toBe(1);
    expect((await sharedCalls()) - sharedBefore).toBe(TABS - 1);
  });
});
