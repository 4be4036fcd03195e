/**
 * Who may read the status page (`statusAuth`). The page shows no session, cookie or user, but it
 * does show traffic, channel names and settings: on an admin port other people can reach, protect
 * it. Basic authentication works in any browser; with `secret`, scripts may send the shared secret
 * as `X-Bus-Sidecar-Secret` instead. Credentials are compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { SECRET_HEADER } from '../../odoo/addonContract.js';

export type StatusAccess =
  | { kind: 'none' }
  | { kind: 'secret'; secret: string }
  | { kind: 'basic'; user: string; password: string };

/** What a refused request is answered: the browser then asks for credentials. */
export const CHALLENGE = 'Basic realm="odoo-bus-sidecar status", charset="UTF-8"';

function same(given: string, expected: string): boolean {
  // Digests have one length: no early exit on a length difference, no timing of the content.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (match === null) return null;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function permits(access: StatusAccess, headers: IncomingHttpHeaders): boolean {
  if (access.kind === 'none') return true;
  const basic = basicCredentials(headers.authorization);
  if (access.kind === 'secret') {
    const header = headers[SECRET_HEADER.toLowerCase()];
    if (typeof header === 'string' && same(header, access.secret)) return true;
    return basic !== null && same(basic.password, access.secret);
  }
  if (basic === null) return false;
  // Both compared, whatever the first gave: the time does not tell which one was wrong.
  const userOk = same(basic.user, access.user);
  const passwordOk = same(basic.password, access.password);
  return userOk && passwordOk;
}
