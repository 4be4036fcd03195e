/**
 * The fake's session store, behaving like Odoo 17's filesystem store as recorded
 * (`http-routes.json`, `websocket-session.json`):
 * - a cookie that is not 40 lowercase hex (`deadbeef`) is ignored: a new sid is made;
 * - a well-formed but unknown sid (also a destroyed one) is adopted as an empty, public session;
 * - a new session is only stored, and a `Set-Cookie` sent, when the request changed it.
 */
import { randomBytes } from 'node:crypto';

export interface FakeSessionInit {
  /** Defaults to a fresh 40-hex sid. */
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
}

const SID_RE = /^[a-f0-9]{40}$/;

export function newSid(): string {
  return randomBytes(20).toString('hex');
}

export function sessionIdFromCookie(cookieHeader: string | undefined): string | undefined {
  if (cookieHeader === undefined) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'session_id') return rest.join('=');
  }
  return undefined;
}

export class SessionStore {
  private readonly sessions = new Map<string, FakeSession>();
  /** Sessions the fake created for requests (not the ones a test added). */
  created = 0;

  add(init: FakeSessionInit): string {
    const sid = init.sid ?? newSid();
    if (!SID_RE.test(sid)) throw new Error(`session ids are 40 lowercase hex characters: ${sid}`);
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

  get(sid: string): FakeSession | undefined {
    return this.sessions.get(sid);
  }

  /**
   * The session a request runs with, and whether it is stored yet. Unstored sessions are public;
   * `save()` stores them.
   */
  resolve(cookieHeader: string | undefined): { session: FakeSession; stored: boolean } {
    const cookieSid = sessionIdFromCookie(cookieHeader);
    const known = cookieSid === undefined ? undefined : this.sessions.get(cookieSid);
    if (known !== undefined) return { session: known, stored: true };
    const sid = cookieSid !== undefined && SID_RE.test(cookieSid) ? cookieSid : newSid();
    const session: FakeSession = {
      sid,
      uid: null,
      partnerId: null,
      memberChannels: [],
      publicChannels: [],
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
}
