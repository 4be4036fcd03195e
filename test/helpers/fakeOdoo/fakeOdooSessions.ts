/**
 * The fake's session store, behaving like Odoo's filesystem store as recorded
 * (`http-routes.json`, `websocket-session.json` of 17 and 19):
 * - a cookie that is not a well-formed sid (`deadbeef`) is ignored: a new sid is made;
 * - a well-formed but unknown sid (also a destroyed one) is adopted as an empty, public session;
 * - a new session is only stored when the request changed it;
 * - 19 (`rotatesSessions`): a soft rotation gives the session a new sid with the same first 42
 *   characters; the old sid keeps `next_sid` and serves as the new one until its `deletion_time`
 *   (120 s later), then is logged out (`session_rotation`, `rotation_*`).
 */

export interface FakeSessionInit {
  /** Defaults to a fresh sid of the version's format. */
  sid?: string;
  /** null: a public (visitor) session. */
  uid: number | null;
  partnerId?: number | null;
  /** Discuss channels the user is a member of. */
  memberChannels?: readonly number[];
  /** Channels the user may read without being a member (public channels). */
  publicChannels?: readonly number[];
  /** 19: the user's groups (`all_group_ids`). */
  groupIds?: readonly number[];
  /** An internal user (may watch presences); default: true when `uid` is set. */
  internal?: boolean;
}

export interface FakeSession {
  sid: string;
  uid: number | null;
  partnerId: number | null;
  memberChannels: readonly number[];
  publicChannels: readonly number[];
  groupIds: readonly number[];
  internal: boolean;
  /** `session['is_websocket_session']`, set by a first poll. */
  isWebsocketSession: boolean;
  /** 19: set by a soft rotation, with the time after which this sid is refused. */
  nextSid?: string;
  deletionTime?: number;
  /** 19: `create_time` is over 3 h old: the next request that saves the session rotates it. */
  rotationDue?: boolean;
  /**
   * Set when the user's session token changed (password change): the session is logged out at its
   * next request, except for this many requests answered by workers whose cached token is stale.
   */
  staleAnswers?: number;
}

export interface SessionFormat {
  sidPattern: RegExp;
  newSid: () => string;
  rotates: boolean;
  /** `SESSION_DELETION_TIMER` (120 s), shorter in tests. */
  deletionTimerMs: number;
  /** Public channels: a visitor's session may read them. */
  publicChannels?: readonly number[];
}

export function sessionIdFromCookie(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'session_id') return rest.join('=');
  }
  return undefined;
}

/** How long a sid that rotated stays usable (`SESSION_DELETION_TIMER`). */
export const SESSION_DELETION_TIMER_MS = 120_000;
/** Characters of a sid that identify the session across soft rotations (`STORED_SESSION_BYTES`). */
export const STORED_SESSION_CHARS = 42;

export class SessionStore {
  private readonly sessions = new Map<string, FakeSession>();
  /** Sessions the fake created for requests (not the ones a test added). */
  created = 0;

  constructor(private readonly format: SessionFormat) {}

  add(init: FakeSessionInit): string {
    const sid = init.sid ?? this.format.newSid();
    if (!this.format.sidPattern.test(sid)) {
      throw new Error(`session ids match ${this.format.sidPattern}: ${sid}`);
    }
    this.sessions.set(sid, {
      sid,
      uid: init.uid,
      partnerId: init.partnerId ?? null,
      memberChannels: init.memberChannels ?? [],
      publicChannels: init.publicChannels ?? [],
      groupIds: init.groupIds ?? [],
      internal: init.internal ?? init.uid !== null,
      isWebsocketSession: false,
    });
    return sid;
  }

  destroy(sid: string): boolean {
    return this.sessions.delete(sid);
  }

  /**
   * The session's token no longer matches its user's (a password change): Odoo logs it out at its
   * next request. `staleAnswers` requests are first served by workers that still have the old
   * token cached (`_compute_session_token` is an ormcache, cleared by the registry signaling), as
   * if the session were valid.
   */
  invalidate(sid: string, staleAnswers = 0): void {
    const session = this.sessions.get(sid);
    if (session === undefined) throw new Error('no such session');
    session.staleAnswers = staleAnswers;
  }

  get(sid: string): FakeSession | undefined {
    return this.sessions.get(sid);
  }

  /**
   * The session a request runs with, and whether it is stored yet. Unstored sessions are public;
   * `save()` stores them. A rotated sid is followed to its `next_sid` until its deletion time, after
   * which it is logged out (a public session under the old sid).
   */
  resolve(
    cookieHeader: string | undefined,
    now = Date.now(),
  ): { session: FakeSession; stored: boolean } {
    const cookieSid = sessionIdFromCookie(cookieHeader);
    let known = cookieSid === undefined ? undefined : this.sessions.get(cookieSid);
    while (known?.nextSid !== undefined) {
      if (now >= (known.deletionTime ?? 0)) {
        known = undefined;
        break;
      }
      known = this.sessions.get(known.nextSid);
    }
    if (known?.staleAnswers !== undefined) {
      if (known.staleAnswers > 0) known.staleAnswers--;
      else {
        this.sessions.delete(known.sid);
        known = undefined;
      }
    }
    if (known !== undefined) return { session: known, stored: true };
    const sid =
      cookieSid !== undefined && this.format.sidPattern.test(cookieSid)
        ? cookieSid
        : this.format.newSid();
    const session: FakeSession = {
      sid,
      uid: null,
      partnerId: null,
      memberChannels: [],
      publicChannels: this.format.publicChannels ?? [],
      groupIds: [],
      internal: false,
      isWebsocketSession: false,
    };
    return { session, stored: false };
  }

  save(session: FakeSession, stored: boolean): void {
    if (stored) return;
    this.sessions.set(session.sid, session);
    this.created++;
  }

  /**
   * A soft rotation (`FilesystemSessionStore.rotate(session, env, soft=True)`): the session goes on
   * under a new sid with the same first 42 characters; the old sid keeps `next_sid` and a
   * `deletion_time`. Returns the new session.
   */
  softRotate(session: FakeSession, now = Date.now()): FakeSession {
    if (!this.format.rotates) throw new Error('this Odoo version does not rotate sessions');
    if (session.nextSid !== undefined) {
      const next = this.sessions.get(session.nextSid);
      if (next) return next;
    }
    const nextSid =
      session.sid.slice(0, STORED_SESSION_CHARS) + this.format.newSid().slice(STORED_SESSION_CHARS);
    const next: FakeSession = { ...session, sid: nextSid, rotationDue: false };
    delete next.nextSid;
    delete next.deletionTime;
    session.nextSid = nextSid;
    session.deletionTime = now + this.format.deletionTimerMs;
    session.rotationDue = false;
    this.sessions.set(nextSid, next);
    return next;
  }

  /** Moves a rotated sid's deletion time into the past (`rotation_old_sid_after_deletion_time`). */
  expireRotation(sid: string, now = Date.now()): void {
    const session = this.sessions.get(sid);
    if (session?.nextSid === undefined) throw new Error('the session has not rotated');
    session.deletionTime = now - 1000;
  }
}
