/**
 * The few cookie operations the sidecar needs: find the Odoo session id in a browser's `Cookie`
 * header, put a new one in its place when Odoo issues one (a first visit, a rotated session), read
 * `session_id` from a `Set-Cookie` answer, and tell a soft rotation (19) from a new session.
 */
import { SESSION_HASH_PREFIX_LENGTH } from './addonContract.js';

const SESSION_COOKIE = 'session_id';

export function sessionIdFromCookie(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

export function withSessionId(cookieHeader: string, sessionId: string): string {
  const parts = cookieHeader
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !p.startsWith(`${SESSION_COOKIE}=`));
  parts.push(`${SESSION_COOKIE}=${sessionId}`);
  return parts.join('; ');
}

export function sessionIdFromSetCookie(
  setCookie: string | string[] | undefined,
): string | undefined {
  return sessionSetCookie(setCookie)?.sessionId;
}

/** The last `Set-Cookie` header that gives a session id, whole (attributes included), and its id. */
export function sessionSetCookie(
  setCookie: string | string[] | undefined,
): { sessionId: string; header: string } | undefined {
  const headers = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  let found: { sessionId: string; header: string } | undefined;
  for (const header of headers) {
    const first = header.split(';')[0] ?? '';
    const eq = first.indexOf('=');
    if (eq > 0 && first.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = first.slice(eq + 1).trim();
      // `Max-Age=0` / empty value is a deletion, not a new session.
      if (value !== '' && !/max-age=0(\D|$)/i.test(header)) found = { sessionId: value, header };
    }
  }
  return found;
}

/**
 * Odoo 19's soft rotation: a new session id for the same session, keeping the first 42
 * characters (`STORED_SESSION_BYTES`, the prefix revocations hash too). Older ids (40 hex) and
 * hard rotations (logout, login) never keep them.
 */
export function isSoftRotation(previous: string, next: string): boolean {
  return (
    previous !== next &&
    previous.length > SESSION_HASH_PREFIX_LENGTH &&
    next.slice(0, SESSION_HASH_PREFIX_LENGTH) === previous.slice(0, SESSION_HASH_PREFIX_LENGTH)
  );
}
