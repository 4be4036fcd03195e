# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What this addon and the bus sidecar agree on.

The sidecar declares the same values in ``src/odoo/addonContract.ts``; a test of the sidecar
reads this file as text and fails when a value differs, so keep each one a plain literal.
This module imports nothing from Odoo, so that it can be loaded without it.
"""
import hashlib

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
#: ``{"db": <name>, "sessions": [<session hash>...], "partners": [<partner id>...]}``;
#: the sockets of ``sessions`` are closed at once (4001), those of ``partners`` re-validated.
REVOKE_CHANNEL = 'bus_sidecar_revoke'

#: A session is named by the lowercase hex SHA-256 of its first 42 characters, never by its id.
#: Odoo 18+ session ids have 84 characters, of which Odoo stores the first 42 as the session
#: identifier (and 19 keeps them when it rotates a session); older ids have 40, hashed whole.
SESSION_HASH_PREFIX_LENGTH = 42


def session_hash(sid):
    """Name under which a revoked session is announced on ``REVOKE_CHANNEL``."""
    prefix = sid[:SESSION_HASH_PREFIX_LENGTH]
    return hashlib.sha256(prefix.encode('utf-8')).hexdigest()
