import { describe, expect, it } from 'vitest';
import { sessionHash } from '../../../src/odoo/sessionHash.js';
import type { OdooSocket } from '../../../src/transports/websocket/odooSocket.js';
import { SessionIndex } from '../../../src/transports/websocket/sessionIndex.js';

/** What the index reads and writes of a socket. */
function tab(sessionId: string, cookie = `session_id=${sessionId}`) {
  const socket = {
    isClosing: false,
    sessionHash: undefined as string | undefined,
    sessionId: sessionId as string | undefined,
    presentedSessionId: sessionId as string | undefined,
    browser: { cookie },
    shared: 0,
    shareSessionStrings(peer: { browser: { cookie: string } }) {
      socket.shared++;
      if (socket.browser.cookie === peer.browser.cookie)
        socket.browser.cookie = peer.browser.cookie;
    },
  };
  return socket;
}
const asSocket = (s: ReturnType<typeof tab>) => s as unknown as OdooSocket;

describe('SessionIndex', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);

  it('finds every tab of a session under its hash, and each tab only under its own', () => {
    const index = new SessionIndex();
    const [one, two, other] = [tab(a), tab(a), tab(b)];
    for (const s of [one, two, other]) index.add(asSocket(s), s.sessionId);
    expect(index.socketsOf(sessionHash(a))).toEqual([one, two]);
    expect(index.socketsOf(sessionHash(b))).toEqual([other]);
    expect(two.sessionHash).toBe(sessionHash(a));
    // The second tab of a session takes the first one's strings; a lone tab has nobody to ask.
    expect([one.shared, two.shared, other.shared]).toEqual([0, 1, 0]);
  });

  it('forgets a tab that left, and moves a tab whose session changed', () => {
    const index = new SessionIndex();
    const [one, two] = [tab(a), tab(a)];
    index.add(asSocket(one), a);
    index.add(asSocket(two), a);
    index.remove(asSocket(one));
    expect(one.sessionHash).toBeUndefined();
    expect(index.socketsOf(sessionHash(a))).toEqual([two]);
    index.add(asSocket(two), b);
    expect(index.socketsOf(sessionHash(a))).toEqual([]);
    expect(index.socketsOf(sessionHash(b))).toEqual([two]);
  });

  it('does not index a closing socket nor one without a session', () => {
    const index = new SessionIndex();
    const closing = { ...tab(a), isClosing: true };
    index.add(asSocket(closing), a);
    index.add(asSocket(tab(b)), undefined);
    expect(index.socketsOf(sessionHash(a))).toEqual([]);
    expect(index.socketsOf(sessionHash(b))).toEqual([]);
  });
});
