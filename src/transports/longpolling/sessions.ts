/**
 * What the sidecar remembers of a browser between two of its polls, by session (the hash of its
 * `session_id`, as revocations name sessions):
 *
 * - `seq`: how far its database's reader had read when its last poll was answered. Every row read
 *   up to there was offered to that poll; rows read later are offered to the next one. This is
 *   what delivers a late commit (a row whose id is below the browser's `last`) that is read between
 *   two polls, which Odoo 12-15 never deliver;
 * - `expected`: ids an answer carried from Odoo's catch-up before the reader had read them, so that
 *   the reader's copy is not delivered again;
 * - the presence updates passed on to Odoo (`presence.ts`).
 *
 * A session not seen for `ttlMs` is forgotten: its next poll starts afresh, as a first poll does.
 */
import type { PresenceMemory } from './presence.js';

export interface PollSession {
  readonly hash: string;
  /** The database of its last answered poll. */
  db: string | undefined;
  /** The reader's `readCount` when its last poll was answered; undefined before one was. */
  seq: number | undefined;
  /** Ids it received from Odoo's catch-up that the reader had not read yet, with the time sent. */
  readonly expected: Map<number, number>;
  presence: PresenceMemory | undefined;
  seenAt: number;
}

/** A browser polling another database than its last answered poll's starts afresh there. */
export function followTo(session: PollSession, db: string): void {
  if (session.db === db) return;
  session.db = db;
  session.seq = undefined;
  session.expected.clear();
}

export class PollSessions {
  private readonly sessions = new Map<string, PollSession>();

  constructor(private readonly ttlMs: number) {}

  /** The session's memory, created empty on first use. */
  get(hash: string, now: number): PollSession {
    let session = this.sessions.get(hash);
    if (session === undefined || now - session.seenAt > this.ttlMs) {
      session = {
        hash,
        db: undefined,
        seq: undefined,
        expected: new Map(),
        presence: undefined,
        seenAt: now,
      };
      this.sessions.set(hash, session);
    }
    session.seenAt = now;
    return session;
  }

  forget(hash: string): void {
    this.sessions.delete(hash);
  }

  /**
   * Drops sessions not seen for the TTL, and expected ids older than the late-commit window: the
   * reader reads a row within it or never (an expected id matters until the reader has read it
   * and the session's next poll has passed it, so only time can tell).
   */
  sweep(now: number, windowMs: number): void {
    for (const [hash, session] of this.sessions) {
      if (now - session.seenAt > this.ttlMs) {
        this.sessions.delete(hash);
        continue;
      }
      for (const [id, sentAt] of session.expected) {
        if (now - sentAt > windowMs) session.expected.delete(id);
      }
    }
  }

  get size(): number {
    return this.sessions.size;
  }
}
