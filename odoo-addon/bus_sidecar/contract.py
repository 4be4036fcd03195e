# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What this addon and the bus sidecar agree on.

The sidecar declares the same values in ``src/odoo/addonContract.ts``; a test of the sidecar
reads this file as text and fails when a value differs, so keep each one a plain literal.
This module imports nothing from Odoo, so that it can be loaded without it.
"""
import hashlib
import hmac
import json

#: Route that tells the sidecar Odoo's version and websocket worker version.
INFO_ROUTE = '/bus_sidecar/info'

#: Route (12.0-15.0) that runs Odoo's ``BusController._poll`` chain for the browser whose cookies
#: the sidecar forwards, and answers at once with ``{"db", "channels", "notifications",
#: "version"}``: the channels Odoo grants, the catch-up of ``last``, and Odoo's major version.
POLL_ROUTE = '/bus_sidecar/poll'

#: Header carrying the shared secret on every call from the sidecar to this addon's routes, and
#: on the sidecar's calls to Odoo's own routes on behalf of a browser.
SECRET_HEADER = 'X-Bus-Sidecar-Secret'

#: Named in the info route's ``features`` when Odoo never rotates a session softly (19.0+) in
#: answer to a request of the sidecar: a browser would not get the new session id.
FEATURE_KEEPS_SESSION_IDS = 'keeps_session_ids_on_sidecar_calls'

#: odoo.conf option and environment variable holding the shared secret, on both sides.
SECRET_OPTION = 'bus_sidecar_secret'
SECRET_ENV = 'BUS_SIDECAR_SECRET'

#: LISTEN/NOTIFY channel, on the same database as ``imbus`` (``postgres``), on which this addon
#: announces revoked sessions. Payload:
#: ``{"db": <name>, "partners": [<partner id>...], "sessions": [<session hash>...], "sig": <hex>}``;
#: the sockets of ``sessions`` are closed at once (4001), those of ``partners`` re-validated.
#: ``sig`` is ``revocation_signature``, left out when no secret is configured.
REVOKE_CHANNEL = 'bus_sidecar_revoke'

#: Key of a revocation payload holding its HMAC-SHA256 under the shared secret.
REVOCATION_SIGNATURE_FIELD = 'sig'

#: A session is named by the lowercase hex SHA-256 of its first 42 characters, never by its id.
#: Odoo 18+ session ids have 84 characters, of which Odoo stores the first 42 as the session
#: identifier (and 19 keeps them when it rotates a session); older ids have 40, hashed whole.
SESSION_HASH_PREFIX_LENGTH = 42


def session_hash(sid):
    """Name under which a revoked session is announced on ``REVOKE_CHANNEL``."""
    prefix = sid[:SESSION_HASH_PREFIX_LENGTH]
    return hashlib.sha256(prefix.encode('utf-8')).hexdigest()


def revocation_signature(secret, db, sessions, partners):
    """The ``sig`` of a revocation payload: the sidecar acts only on payloads it can verify.

    Lowercase hex HMAC-SHA256, keyed with the shared secret (without surrounding whitespace), of
    the compact, ASCII-only JSON text of ``[REVOKE_CHANNEL, db, sessions, partners]``. The
    channel name keeps this use of the secret apart from its use as a request header.

    :param str secret: the shared secret (``SECRET_OPTION`` / ``SECRET_ENV``)
    :param str db: the database the payload names
    :param sessions: the session hashes, in the payload's order
    :param partners: the partner ids (integers), in the payload's order
    """
    message = json.dumps(
        [REVOKE_CHANNEL, db, list(sessions), list(partners)],
        separators=(',', ':'), ensure_ascii=True,
    )
    key = secret.strip().encode('utf-8')
    return hmac.new(key, message.encode('utf-8'), hashlib.sha256).hexdigest()
