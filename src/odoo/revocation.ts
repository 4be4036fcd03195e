/**
 * The addon's revocation NOTIFY (`REVOKE_CHANNEL`), read and authenticated once for both transports:
 * `{"db": <name>, "partners": [<partner id>...], "sessions": [<session hash>...], "sig": <hex>}`.
 *
 * Anyone who may connect to the NOTIFY database can send on that channel, so a payload is only
 * acted upon when it names a database and, when a secret is configured, carries the HMAC-SHA256 of
 * its fields under that secret (`revocationSignature`, the addon's `contract.revocation_signature`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { pythonDumps } from '../json/pythonJson.js';
import { REVOCATION_SIGNATURE_FIELD, REVOKE_CHANNEL } from './addonContract.js';

export interface Revocation {
  db: string;
  /** Session hashes (see `sessionHash`): their sockets and polls end at once. */
  sessions: ReadonlySet<string>;
  partners: readonly number[];
  /** `bus_bus.channel` keys of the partners' own channels. */
  partnerKeys: ReadonlySet<string>;
}

/** Why a revocation NOTIFY was or was not acted upon (the `outcome` label of its metric). */
export type RevocationOutcome =
  /** Signed with the shared secret: applied. */
  | 'applied'
  /** No secret configured on the sidecar, so nothing to check it against: applied. */
  | 'unverified'
  /** Not a JSON object with the addon's fields and types. */
  | 'malformed'
  /** No database named: it could only act everywhere, so it acts nowhere. */
  | 'no_database'
  /** A database this sidecar does not serve (another Odoo on the same cluster). */
  | 'other_database'
  /** A secret is configured and the payload carries no signature. */
  | 'unsigned'
  /** A secret is configured and the signature is not the payload's. */
  | 'bad_signature';

export const REVOCATION_OUTCOMES: readonly RevocationOutcome[] = [
  'applied',
  'unverified',
  'malformed',
  'no_database',
  'other_database',
  'unsigned',
  'bad_signature',
];

export type RevocationReading =
  | { outcome: 'applied' | 'unverified'; revocation: Revocation }
  | { outcome: Exclude<RevocationOutcome, 'applied' | 'unverified'>; db?: string };

/**
 * The signature the addon puts in `sig`: lowercase hex HMAC-SHA256, keyed with the shared secret
 * (surrounding whitespace removed, as both sides read it), of the compact, ASCII-only JSON text
 * `["bus_sidecar_revoke", db, sessions, partners]` — Python's `json.dumps` of the same list with
 * `separators=(',', ':')`. The channel name keeps this use of the secret apart from any other.
 */
export function revocationSignature(
  secret: string,
  db: string,
  sessions: readonly string[],
  partners: readonly number[],
): string {
  const message = pythonDumps([REVOKE_CHANNEL, db, sessions, partners]);
  return createHmac('sha256', Buffer.from(secret.trim(), 'utf8'))
    .update(message, 'utf8')
    .digest('hex');
}

/**
 * Reads and authenticates one payload. `secret` is the sidecar's shared secret (undefined: none
 * configured); `servesDatabase` filters out the other databases before any signature is checked,
 * since every Odoo on the cluster announces on the same channel, each with its own secret.
 */
export function readRevocation(
  payload: string,
  secret: string | undefined,
  servesDatabase: (db: string) => boolean,
): RevocationReading {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return { outcome: 'malformed' };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { outcome: 'malformed' };
  }
  const fields = data as Record<string, unknown>;
  const { db, sessions = [], partners = [] } = fields;
  const signature = fields[REVOCATION_SIGNATURE_FIELD];
  if (db === undefined || db === null || db === '') return { outcome: 'no_database' };
  if (
    typeof db !== 'string' ||
    !Array.isArray(sessions) ||
    !sessions.every((s): s is string => typeof s === 'string') ||
    !Array.isArray(partners) ||
    !partners.every((p): p is number => Number.isSafeInteger(p) && p > 0) ||
    (signature !== undefined && typeof signature !== 'string')
  ) {
    return { outcome: 'malformed' };
  }
  if (!servesDatabase(db)) return { outcome: 'other_database', db };
  let outcome: 'applied' | 'unverified' = 'unverified';
  if (secret !== undefined) {
    if (signature === undefined) return { outcome: 'unsigned', db };
    const expected = Buffer.from(revocationSignature(secret, db, sessions, partners), 'utf8');
    const given = Buffer.from(signature.toLowerCase(), 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { outcome: 'bad_signature', db };
    }
    outcome = 'applied';
  }
  return {
    outcome,
    revocation: {
      db,
      sessions: new Set(sessions),
      partners,
      partnerKeys: new Set(partners.map((p) => partnerKey(db, p))),
    },
  };
}

/** The `bus_bus.channel` text of a partner's own channel, `["db","res.partner",id]`. */
export function partnerKey(db: string, partner: number): string {
  return pythonDumps([db, 'res.partner', partner]);
}
