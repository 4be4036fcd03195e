/**
 * The addon's revocation NOTIFY (`REVOKE_CHANNEL`), read once for both transports:
 * `{"db": <name>, "sessions": [<session hash>...], "partners": [<partner id>...]}`.
 */
import { pythonDumps } from '../json/pythonJson.js';

export interface Revocation {
  db: string | undefined;
  /** Session hashes (see `sessionHash`): their sockets and polls end at once. */
  sessions: ReadonlySet<string>;
  partners: readonly number[];
  /** `bus_bus.channel` keys of the partners' own channels (empty without a database). */
  partnerKeys: ReadonlySet<string>;
}

/** The revocation in `payload`, or undefined when it is not a JSON object. */
export function parseRevocation(payload: string): Revocation | undefined {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const { db, sessions, partners } = data as {
    db?: unknown;
    sessions?: unknown;
    partners?: unknown;
  };
  const name = typeof db === 'string' ? db : undefined;
  const ids = Array.isArray(partners)
    ? partners.filter((p): p is number => Number.isSafeInteger(p))
    : [];
  return {
    db: name,
    sessions: new Set(
      Array.isArray(sessions) ? sessions.filter((s): s is string => typeof s === 'string') : [],
    ),
    partners: ids,
    partnerKeys: new Set(
      name === undefined ? [] : ids.map((p) => pythonDumps([name, 'res.partner', p])),
    ),
  };
}
