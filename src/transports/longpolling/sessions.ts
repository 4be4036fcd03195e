/**
 * What the sidecar remembers of a browser between two of its polls, by session (the hash of its
 * `session_id`, as revocations name sessions):
 *
 * - `seq`: how far its database's reader had read when its last poll was answered. Every row read
 *   up to there was offered to that poll; rows read later are offered to the next one. This is
 *   what delivers a late commit (a row whose id is below the browser's `last`) that is read between
 *   two polls, which Odoo 12-15 never deliver;
 * - `handOff`: the ids it was sent that the reader may still deliver, or find again below its
 *   `last` (`../handOff.ts`), so that they do not reach it twice; none most of the time;
 * - the presence updates passed on to Odoo (`presence.ts`).
 *
 * A session not seen for `ttlMs` is forgotten: its next poll starts afresh, as a first poll does.
 */
import type { HandOff, HandOffReader } from '../handOff.js';
import type { PresenceMemory } from './presence.js';

export interface PollSession {
  readonly hash: string;
  /** The database of its last answered poll. */
  db: string | undefined;
  /** The reader's `readCount` when its last poll was answered; undefined before one was. */
  seq: number | undefined;
  /** What it was sent that must not reach it again; undefined when nothing. */
  handOff: HandOff | undefined;
  presence: PresenceMemory | undefined;
  seenAt: number;
}

/** A browser polling another database than its last answered poll's starts afresh there. */
export function followTo(session: PollSession, db: string): void {
  if (session.db === db) return;
  session.db = db;
  session.seq = undefined;
  session.handOff = undefined;
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
        handOff: undefined,
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
   * Drops sessions not seen for the TTL, and what the hand-offs remember past the late-commit
   * window (`HandOff.expire`; `readerOf`: the reader of a database, when there is one).
   */
  sweep(now: number, windowMs: number, readerOf: (db: string) => HandOffReader | undefined): void {
    for (const [hash, session] of this.sessions) {
      if (now - session.seenAt > this.ttlMs) {
        this.sessions.delete(hash);
        continue;
      }
      const { handOff, db } = session;
      if (handOff === undefined) continue;
      handOff.expire(db === undefined ? undefined : readerOf(db), now, windowMs);
      if (handOff.idle) session.handOff = undefined;
    }
  }

  get size(): number {
    return this.sessions.size;
  }
}
