/**
 * The point of long polling through the sidecar: Odoo 12-15 re-query `bus_bus` once per woken poll;
 * the sidecar answers every poll waiting on a channel from one read, counted by PostgreSQL itself.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { items, LongPollClient } from '../helpers/clients/longPollClient.js';
import { type Stack, startStack } from '../helpers/servers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

const POLLS = 500;
const DB = 'odoo15';

let stack: Stack;
let agent: Agent;

beforeAll(async () => {
  stack = await startStack({
    databases: [DB],
    odoo: { version: '15.0' },
    // The calls to Odoo at the start of 500 polls are queued, a handful at a time; the first
    // polls are held for the longest hold allowed while the last ones get there.
    sidecar: { odooConcurrency: 8, longpollingTimeoutSeconds: 55 },
  });
  agent = new Agent({ connections: POLLS + 10, pipelining: 0 });
});
afterAll(async () => {
  await agent?.close();
  await stack?.close();
});

describe('500 held polls on one channel', () => {
  it('are all released by one notification, which costs one read of bus_bus', async () => {
    const reader = stack.sidecar.readers.reader(DB);
    await reader.ready();
    const last = reader.position;
    const clients = Array.from(
      { length: POLLS },
      () => new LongPollClient({ baseUrl: stack.httpUrl, agent }),
    );
    // Public visitors: each is granted `[db, "broadcast"]`.
    const pending = clients.map((client) => client.poll([], {}, { last }));
    await waitFor(() => stack.sidecar.longPolling.heldCount === POLLS, {
      timeoutMs: 60_000,
      message: () => `${POLLS} held polls (now ${stack.sidecar.longPolling.heldCount})`,
    });
    expect(stack.sidecar.hub.registry.subscriberCount).toBe(POLLS);

    // No read running or scheduled: what is counted next is the notification's read alone.
    await reader.idle();
    await stack.pg.resetStatementStats();
    expect(await stack.pg.busReadCount(DB)).toBe(0);
    const [id] = await stack
      .writer(DB)
      .sendmany([{ channel: 'broadcast', type: 'bus/broadcast', payload: { all: true } }]);
    const answers = await Promise.all(pending);
    for (const answer of answers) {
      expect(items(answer)).toEqual([
        { id, message: { type: 'bus/broadcast', payload: { all: true } } },
      ]);
    }
    expect(await stack.pg.busReadCount(DB)).toBe(1);
    expect(stack.sidecar.longPolling.heldCount).toBe(0);
    expect(stack.sidecar.hub.registry.subscriberCount).toBe(0);
  });
});
