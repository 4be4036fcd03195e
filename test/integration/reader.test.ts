/**
 * The reader's start on a real database: rows whose INSERT took its id before the reader started
 * but that commit after are still delivered (ids are taken at INSERT, rows appear at COMMIT).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/waitFor.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('reader start', () => {
  it('delivers a row inserted before an empty table was first read and committed after', async () => {
    const writer = stack.writer();
    const tx = await writer.openTransaction();
    const [id] = await tx.send([{ channel: 'broadcast', type: 'x/early', payload: {} }]);

    const { cookie } = stack.login();
    const socket = await stack.connect({ cookie });
    socket.subscribe([], 0);
    try {
      // The reader starts on the first subscribe, while the row is still uncommitted.
      const reader = await waitFor(() => stack.sidecar.hub.existingReader(stack.db));
      await reader.ready();
      expect(reader.position).toBeLessThan(id as number);
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    await tx.commit();
    const got = await socket.waitForNotification((n) => n.id === id);
    expect(got.message).toEqual({ type: 'x/early', payload: {} });
    await socket.close();
  });
});
