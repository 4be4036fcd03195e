/**
 * The few cookie operations the sidecar needs: find the Odoo session id in a browser's `Cookie`
 * header, put a new one in its place when Odoo issues one (a first visit, a rotated session), and
 * read `session_id` from a `Set-Cookie` answer.
 */
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
  const headers = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  let found: string | undefined;
  for (const header of headers) {
    const first = header.split(';')[0] ?? '';
    const eq = first.indexOf('=');
    if (eq > 0 && first.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = first.slice(eq + 1).trim();
      // `Max-Age=0` / empty value is a deletion, not a new session.
      if (value !== '' && !/max-age=0(\D|$)/i.test(header)) found = value;
    }
  }
  return found;
}
