/**
 * The routes Odoo itself serves under `/websocket/` and `/longpolling/`, per major version (the
 * table and its sources: `odoo/generations.ts`). The standard proxy configuration sends both
 * prefixes to the bus port, so these must keep working through the sidecar; they are the only paths
 * it forwards. Anything else under the prefixes is answered werkzeug's 404 (what Odoo answers for a
 * route it does not have) without reaching Odoo: a path that a proxy routes here as a bus path
 * never becomes another route of Odoo's.
 */
import { GENERATIONS, isOdooMajor } from '../odoo/generations.js';

export const ODOO_BUS_ROUTES: Readonly<Record<number, readonly string[]>> = Object.fromEntries(
  Object.values(GENERATIONS).map((generation) => [generation.major, generation.routes]),
);

const byMajor = new Map<number, ReadonlySet<string>>(
  Object.values(GENERATIONS).map((generation) => [generation.major, new Set(generation.routes)]),
);
const anyVersion: ReadonlySet<string> = new Set(Object.values(ODOO_BUS_ROUTES).flat());

/**
 * The routes forwarded to an Odoo of this major version: every version's while it is unknown, or
 * a major this build has no table entry for (an Odoo newer than 19 may still serve any of them).
 */
export function busRoutesOf(major: number | undefined): ReadonlySet<string> {
  return (major !== undefined && isOdooMajor(major) ? byMajor.get(major) : undefined) ?? anyVersion;
}
