import { describe, expect, it } from 'vitest';
import {
  sessionIdFromCookie,
  sessionIdFromSetCookie,
  withSessionId,
} from '../../../src/odoo/cookies.js';
import { sessionHash } from '../../../src/odoo/sessionHash.js';

describe('cookies', () => {
  it('finds and replaces the Odoo session id among other cookies', () => {
    const header = 'frontend_lang=en_US; session_id=abc123; cids=1';
    expect(sessionIdFromCookie(header)).toBe('abc123');
    expect(withSessionId(header, 'new')).toBe('frontend_lang=en_US; cids=1; session_id=new');
    expect(withSessionId('', 'new')).toBe('session_id=new');
  });

  it('reads session_id from Set-Cookie as recorded, ignoring deletions', () => {
    const set =
      'session_id=c7ce1b159a247489ba53d751cd98831d8a08d21a; Expires=Sun, 21 Nov 2027 08:25:14 GMT; Max-Age=604800; HttpOnly; Path=/';
    expect(sessionIdFromSetCookie([set, 'cids=; Max-Age=0; Path=/'])).toBe(
      'c7ce1b159a247489ba53d751cd98831d8a08d21a',
    );
    expect(sessionIdFromSetCookie('session_id=; Max-Age=0; Path=/')).toBeUndefined();
  });

  it('names a session by the SHA-256 of its first 42 characters', () => {
    const sid = 'a'.repeat(42);
    expect(sessionHash(`${sid}rotated-tail`)).toBe(sessionHash(sid));
    expect(sessionHash(sid)).toMatch(/^[0-9a-f]{64}$/);
    expect(sessionHash(sid)).not.toContain(sid);
  });
});
