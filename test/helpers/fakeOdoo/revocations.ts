/**
 * The addon's revocation NOTIFY, as `odoo-addon/bus_sidecar/revocation.py` sends it: on
 * `bus_sidecar_revoke`, database `postgres`, signed with the shared secret when there is one.
 */
import { REVOKE_CHANNEL } from '../../../src/odoo/addonContract.js';
import { revocationSignature } from '../../../src/odoo/revocation.js';
import type { PgCluster } from '../servers/postgres.js';

export interface RevocationFields {
  db: string;
  sessions?: string[];
  partners?: number[];
}

/** The payload the addon sends for these names: with `sig` when `secret` is given. */
export function revocationPayload(
  { db, sessions = [], partners = [] }: RevocationFields,
  secret?: string,
): Record<string, unknown> {
  const payload: Record<string, unknown> = { db, partners, sessions };
  if (secret !== undefined) payload.sig = revocationSignature(secret, db, sessions, partners);
  return payload;
}

/** NOTIFYs `payload` (a JSON value, or a string sent as it is) on the revocation channel. */
export async function notifyRevocation(pg: PgCluster, payload: unknown): Promise<void> {
  await pg.query('postgres', 'SELECT pg_notify($1, $2)', [
    REVOKE_CHANNEL,
    typeof payload === 'string' ? payload : JSON.stringify(payload),
  ]);
}
