import { describe, expect, it } from 'vitest';
import {
  sessionIdFromCookie,
  sessionIdFromSetCookie,
  withSessionId,
} from '../../../src/odoo/cookies.js';
import { sessionHash } from '../../../src/odoo/sessionHash.js';
import { readFixture } from '../../helpers/fixtures.js';

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

interface RouteCase {
  name: string;
  cookie_sent: string | null;
  set_cookie: string[];
  response: { headers: Array<[string, string]> };
}

describe("Odoo 19's session cookies (recorded)", () => {
  const routes = readFixture<{
    cases: RouteCase[];
    session_rotation: {
      S1_file_after_rotation: { next_sid: string };
      S1_prefix42: string;
      S2_prefix42: string;
    };
  }>('odoo19', 'http-routes.json');
  const named = (name: string) => {
    const found = routes.cases.find((c) => c.name === name);
    if (!found) throw new Error(`no recorded case ${name}`);
    return found;
  };
  const setCookies = (c: RouteCase) =>
    c.response.headers.filter(([name]) => name === 'Set-Cookie').map(([, value]) => value);

  it('reads the rotated sid from the answer to a request with the old one', () => {
    const S2 = routes.session_rotation.S1_file_after_rotation.next_sid;
    for (const name of ['rotation_soft_request_with_S1', 'rotation_old_sid_again_within_120s']) {
      const c = named(name);
      expect(sessionIdFromSetCookie(setCookies(c))).toBe(S2);
      expect(c.cookie_sent).not.toBe(S2);
    }
  });

  it('names S1 and its soft rotation S2 by the same hash (first 42 characters)', () => {
    const S1 = named('rotation_soft_request_with_S1').cookie_sent ?? '';
    const S2 = routes.session_rotation.S1_file_after_rotation.next_sid;
    expect([S1.length, S2.length]).toEqual([84, 84]);
    expect(S1.slice(0, 42)).toBe(routes.session_rotation.S1_prefix42);
    expect(S2.slice(0, 42)).toBe(routes.session_rotation.S2_prefix42);
    expect(sessionHash(S2)).toBe(sessionHash(S1));
    expect(S2).not.toBe(S1);
  });

  it('reads a login answer with two identical Set-Cookie headers', () => {
    const c = named('admin_authenticate');
    expect(setCookies(c)).toHaveLength(2);
    expect(sessionIdFromSetCookie(setCookies(c))).toMatch(/^[A-Za-z0-9_-]{84}$/);
  });

  it('skips the cids deletion of a logout and reads the fresh session id', () => {
    const c = named('logout_destroy');
    const fresh = sessionIdFromSetCookie(setCookies(c));
    expect(setCookies(c)[0]).toMatch(/^cids=; .*Max-Age=0/);
    expect(fresh).toMatch(/^[A-Za-z0-9_-]{84}$/);
    expect(sessionHash(fresh ?? '')).not.toBe(sessionHash(c.cookie_sent ?? ''));
  });
});
