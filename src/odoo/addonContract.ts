/**
 * What the sidecar and the `bus_sidecar` Odoo addon agree on. The addon declares the same values in
 * `odoo-addon/bus_sidecar/contract.py`; a test compares both files so neither side drifts.
 */

/** Route of the addon that tells the sidecar Odoo's version and websocket worker version. */
export const INFO_ROUTE = '/bus_sidecar/info';

/**
 * Route (12.0-15.0) that runs Odoo's `BusController._poll` chain for the browser whose cookies the
 * sidecar forwards, and answers at once with `{"db", "channels", "notifications", "version"}`: the
 * channels Odoo grants, the catch-up of `last`, and Odoo's major version.
 */
export const POLL_ROUTE = '/bus_sidecar/poll';

/**
 * Header carrying the shared secret on every call from the sidecar to the addon's routes, and on
 * the sidecar's calls to Odoo's own routes on behalf of a browser.
 */
export const SECRET_HEADER = 'X-Bus-Sidecar-Secret';

/**
 * Named in the info route's `features` when Odoo never rotates a session softly (19+) in answer to
 * a request of the sidecar: a browser would not get the new session id.
 */
export const FEATURE_KEEPS_SESSION_IDS = 'keeps_session_ids_on_sidecar_calls';

/** odoo.conf option and environment variable holding the shared secret, on both sides. */
export const SECRET_OPTION = 'bus_sidecar_secret';
export const SECRET_ENV = 'BUS_SIDECAR_SECRET';

/**
 * LISTEN/NOTIFY channel, on the same database as `imbus` (`postgres`), on which the addon announces
 * revoked sessions. Payload:
 * `{"db": <name>, "partners": [<id>...], "sessions": [<session hash>...], "sig": <signature>}`;
 * `sessions` are closed at once (4001), the sockets of `partners` are re-validated with Odoo.
 * `sig` is `revocationSignature` (`src/odoo/revocation.ts`), left out when the addon has no secret.
 */
export const REVOKE_CHANNEL = 'bus_sidecar_revoke';

/** Key of a revocation payload holding its HMAC-SHA256 under the shared secret. */
export const REVOCATION_SIGNATURE_FIELD = 'sig';

/**
 * How a session is named in a revocation: never the session id itself, but the lowercase hex
 * SHA-256 of its first 42 characters (Odoo 19 keeps those stable when it rotates a session; older
 * session ids are 40 characters long, so the whole id is hashed).
 */
export const SESSION_HASH_PREFIX_LENGTH = 42;
