/**
 * The benchmark against a real Odoo (`--odoo-url`): sessions are real Odoo logins (`--odoo-users`
 * users named `<prefix>1..<prefix>k`, password = login unless `--odoo-password`), several sockets
 * ("tabs") per session, so that sockets belong to different sessions and partners like on a real
 * site; the sidecar asks that Odoo's `peek_notifications` for every subscribe, and Odoo's own
 * gevent worker (`--external-url`) serves the very same sessions.
 *
 * Logging in costs Odoo a password hash (about half a second of a worker): sessions are kept in a
 * cache file next to the results and reused while Odoo still knows them.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface RealOdooOptions {
  /** Odoo's HTTP workers, e.g. http://127.0.0.1:8069 */
  url: string;
  database: string;
  /** odoo.conf the sidecar reads (`ODOO_RC`): database, LISTEN address, secret, workers. */
  config: string | undefined;
  /** Where notifications are written, as Odoo writes them (its db_host/db_port: PgBouncer). */
  pg: string;
  loginPrefix: string;
  users: number;
  password: string | undefined;
  /** Sockets per session. */
  tabs: number;
  sessionsCache: string;
}

export interface OdooSession {
  sid: string;
  login: string;
  uid: number;
  partnerId: number;
}

interface Cache {
  url: string;
  database: string;
  sessions: OdooSession[];
}

function sidOf(setCookie: string[]): string | undefined {
  for (const line of setCookie) {
    const match = /^session_id=([^;]+)/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

async function login(o: RealOdooOptions, index: number): Promise<OdooSession> {
  const name = `${o.loginPrefix}${(index % o.users) + 1}`;
  const response = await fetch(`${o.url}/web/session/authenticate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      method: 'call',
      params: { db: o.database, login: name, password: o.password ?? name },
    }),
  });
  const body = (await response.json()) as {
    result?: { uid?: number; partner_id?: number };
    error?: { data?: { message?: string } };
  };
  const sid = sidOf(response.headers.getSetCookie());
  const uid = body.result?.uid;
  const partnerId = body.result?.partner_id;
  if (!sid || typeof uid !== 'number' || typeof partnerId !== 'number')
    throw new Error(
      `login ${name} on ${o.url} failed: ${body.error?.data?.message ?? response.status}`,
    );
  return { sid, login: name, uid, partnerId };
}

/** `count` sessions, from the cache where it has them, logging in the rest (4 at a time). */
export async function odooSessions(
  o: RealOdooOptions,
  count: number,
  log: (line: string) => void,
): Promise<OdooSession[]> {
  let sessions: OdooSession[] = [];
  try {
    const cache = JSON.parse(await readFile(o.sessionsCache, 'utf8')) as Cache;
    if (cache.url === o.url && cache.database === o.database) sessions = cache.sessions;
  } catch {
    // no cache yet
  }
  if (sessions.length > 0 && !(await stillValid(o, sessions[0] as OdooSession))) sessions = [];
  if (sessions.length >= count) return sessions.slice(0, count);
  const missing = count - sessions.length;
  log(`logging in ${missing} Odoo sessions (${o.users} users), cached in ${o.sessionsCache}`);
  const started = Date.now();
  let next = sessions.length;
  const fresh: OdooSession[] = new Array(missing);
  const worker = async () => {
    while (next < count) {
      const index = next++;
      fresh[index - sessions.length] = await login(o, index);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  sessions = [...sessions, ...fresh];
  log(`  ${missing} logins in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  await mkdir(dirname(o.sessionsCache), { recursive: true });
  await writeFile(
    o.sessionsCache,
    JSON.stringify({ url: o.url, database: o.database, sessions } satisfies Cache),
  );
  return sessions;
}

/** Whether Odoo still knows a cached session (a restore of the database forgets them all). */
async function stillValid(o: RealOdooOptions, session: OdooSession): Promise<boolean> {
  const response = await fetch(`${o.url}/web/session/get_session_info`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Cookie: `session_id=${session.sid}` },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'call', params: {} }),
  }).catch(() => undefined);
  if (!response?.ok) return false;
  const body = (await response.json().catch(() => ({}))) as { result?: { uid?: number } };
  return body.result?.uid === session.uid;
}

/** The session of socket `index`: tabs of one session are spread over the connect order. */
export function sessionOfSocket(sessions: readonly OdooSession[], index: number): OdooSession {
  return sessions[index % sessions.length] as OdooSession;
}
