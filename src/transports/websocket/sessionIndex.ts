/**
 * The sockets of each session, by the session's hash (revocations name sessions by their hash).
 * The sockets of one session (a browser's tabs) keep its strings once: a socket joining a session
 * takes the hash, cookie and session id of a socket already there when they are the same text,
 * instead of holding its own copies for its whole life.
 */
import { sessionHash } from '../../odoo/sessionHash.js';
import type { OdooSocket } from './odooSocket.js';

export class SessionIndex {
  /** Session hash → its socket, or its sockets when several tabs share it. */
  private readonly bySession = new Map<string, OdooSocket | Set<OdooSocket>>();

  /** The sockets of the session of this hash. */
  socketsOf(hash: string): OdooSocket[] {
    const indexed = this.bySession.get(hash);
    return indexed instanceof Set ? [...indexed] : indexed ? [indexed] : [];
  }

  /** Indexes `socket` under the hash of `sessionId` (and under no other). */
  add(socket: OdooSocket, sessionId: string | undefined): void {
    this.remove(socket);
    if (sessionId === undefined || socket.isClosing) return;
    const hash = sessionHash(sessionId);
    const indexed = this.bySession.get(hash);
    if (indexed === undefined) {
      this.bySession.set(hash, socket);
      socket.sessionHash = hash;
      return;
    }
    const peer = indexed instanceof Set ? (indexed.values().next().value as OdooSocket) : indexed;
    if (indexed instanceof Set) indexed.add(socket);
    else if (indexed !== socket) this.bySession.set(hash, new Set([indexed, socket]));
    socket.sessionHash = peer.sessionHash ?? hash;
    if (peer !== socket) socket.shareSessionStrings(peer);
  }

  remove(socket: OdooSocket): void {
    const hash = socket.sessionHash;
    if (hash === undefined) return;
    socket.sessionHash = undefined;
    const indexed = this.bySession.get(hash);
    if (indexed instanceof Set) {
      indexed.delete(socket);
      if (indexed.size === 1) this.bySession.set(hash, [...indexed][0] as OdooSocket);
    } else if (indexed === socket) this.bySession.delete(hash);
  }
}
