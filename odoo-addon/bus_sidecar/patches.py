# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The monkeypatches of this addon, applied once by ``hooks.post_load``.

Each one wraps the narrowest point of Odoo that has to behave differently, says why, keeps what
it replaced in the wrapper's ``bus_sidecar_original`` attribute, and does nothing when the point
does not exist in the running version (it logs that instead).
"""
import functools
import hmac
import inspect
import logging
import sys
import threading

import odoo
import odoo.http
import odoo.release
import odoo.sql_db
from odoo.service import server as odoo_server

from . import contract, revocation, settings

_logger = logging.getLogger(__name__)

_ORIGINAL = 'bus_sidecar_original'


def _patched(function):
    return hasattr(function, _ORIGINAL)


# ---------------------------------------------------------------------------------------------
# 1. No evented process
# ---------------------------------------------------------------------------------------------

def _wrap_long_polling_spawn(original):
    @functools.wraps(original)
    def long_polling_spawn(self):
        # Spawn nothing: the bus sidecar serves the websocket (16+) or long polling (<=15) in
        # its place. The prefork master calls this at every beat while `long_polling_pid` is
        # unset; leaving it unset keeps stop() and worker_pop() as they are (no process to kill).
        return None

    setattr(long_polling_spawn, _ORIGINAL, original)
    return long_polling_spawn


def patch_gevent_spawn(server_cls=None, keep=None):
    """Stop the prefork master from spawning Odoo's evented (gevent) process.

    Why: that process holds port 8072 (``gevent_port``), which belongs to the sidecar, and it
    LISTENs ``imbus`` through ``db_host``/``db_port``; behind PgBouncer in transaction mode every
    notification is lost. ``bus_sidecar_keep_gevent`` keeps it (e.g. while migrating).

    :returns: True when the master will not spawn the process
    """
    server_cls = odoo_server.PreforkServer if server_cls is None else server_cls
    keep = settings.keep_gevent() if keep is None else keep
    port = settings.gevent_port()
    if keep:
        _logger.info(
            "bus_sidecar: %s is set: Odoo's prefork master still spawns its evented (gevent) "
            "process on port %s; the bus sidecar must listen elsewhere",
            settings.KEEP_GEVENT_OPTION, port,
        )
        return False
    original = getattr(server_cls, 'long_polling_spawn', None)
    if original is None:
        _logger.warning(
            "bus_sidecar: this Odoo's prefork server has no long_polling_spawn(); "
            "its evented process, if any, is left as it is")
        return False
    if not _patched(original):
        server_cls.long_polling_spawn = _wrap_long_polling_spawn(original)
    _logger.info(
        "bus_sidecar: Odoo's prefork master will not spawn its evented (gevent) process: "
        "port %s is left to the bus sidecar (set %s = True to keep it)",
        port, settings.KEEP_GEVENT_OPTION,
    )
    return True


# ---------------------------------------------------------------------------------------------
# 2. Direct cron wake-up listener
# ---------------------------------------------------------------------------------------------

def cron_listener_codes():
    """Code objects of the functions that open the cron wake-up listener (``LISTEN cron_trigger``).

    In 14.0 to 19.0 the prefork ``WorkerCron.start`` and the threaded
    ``ThreadedServer.cron_thread`` call ``odoo.sql_db.db_connect('postgres')`` themselves and
    LISTEN on that connection. A function that does not (any more) name ``db_connect`` is left
    out, so a future Odoo that moves the call makes this patch inert, not wrong.
    """
    codes = set()
    for class_name, method_name in (('WorkerCron', 'start'), ('ThreadedServer', 'cron_thread')):
        function = getattr(getattr(odoo_server, class_name, None), method_name, None)
        while function is not None:
            code = getattr(function, '__code__', None)
            if code is not None and 'db_connect' in code.co_names:
                codes.add(code)
            function = getattr(function, '__wrapped__', None)
    return frozenset(codes)


def direct_connection_info(connection_info, address):
    """``connection_info`` (Odoo's libpq keywords) with host and port replaced by ``address``."""
    host, port = address
    info = dict(connection_info)
    for key, value in (('host', host), ('port', port)):
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
    return info


def _direct(connection, to):
    try:
        address = settings.direct_address()
    except ValueError as error:
        _logger.error("bus_sidecar: %s; the cron wake-up listener uses db_host/db_port", error)
        return connection
    if address is None:
        return connection
    dbname, info = odoo.sql_db.connection_info_for(to)
    if 'dsn' in info:
        return connection  # a connection URI: not one that Odoo's cron opens
    _logger.debug("bus_sidecar: the cron wake-up listener connects directly to %s:%s", *address)
    return odoo.sql_db.Connection(odoo.sql_db._Pool, dbname, direct_connection_info(info, address))


def patch_cron_listener():
    """Make the cron wake-up listener connect to PostgreSQL itself, not through a pooler.

    Why: cron workers LISTEN ``cron_trigger`` on database ``postgres``; through PgBouncer in
    transaction mode the listening server connection goes back to the pool at COMMIT and every
    wake-up (``ir.cron._trigger``, "Run manually") is silently lost: crons then only start at
    their periodic poll. Only a ``db_connect()`` called by the listener functions themselves
    (see ``cron_listener_codes``) changes; every other connection keeps ``db_host``/``db_port``,
    including the cron's own queries and the NOTIFYs it sends.

    :returns: True when the listener connects directly whenever an address is configured
    """
    current = odoo.sql_db.db_connect
    if _patched(current):
        return True
    if odoo.release.version_info[0] < 14:
        # 12.0 and 13.0 cron workers poll for jobs; ir.cron._trigger and its LISTEN came in 14.0.
        _logger.info(
            "bus_sidecar: this Odoo version has no cron wake-up listener (crons are polled); "
            "nothing to connect directly")
        return False
    codes = cron_listener_codes()
    if not codes:
        _logger.warning(
            "bus_sidecar: could not find where this Odoo version opens its cron wake-up "
            "listener; it keeps connecting through db_host/db_port")
        return False

    @functools.wraps(current)
    def db_connect(to, *args, **kwargs):
        connection = current(to, *args, **kwargs)
        if sys._getframe(1).f_code in codes:
            return _direct(connection, to)
        return connection

    setattr(db_connect, _ORIGINAL, current)
    odoo.sql_db.db_connect = db_connect
    return True


# ---------------------------------------------------------------------------------------------
# 3. Revocation of deleted sessions
# ---------------------------------------------------------------------------------------------

def current_db(session=None):
    """The database a deleted session belonged to: its own, the request's, or the thread's."""
    db = session.db if session is not None else None
    if not db:
        try:
            request = odoo.http.request
            db = request.db if request else None
        except (AttributeError, RuntimeError):
            db = None
    return db or getattr(threading.current_thread(), 'dbname', None)


def _announce(db, sids):
    if db:
        revocation.send_sessions(db, sids)
    else:
        _logger.debug("bus_sidecar: %d deleted session(s) belong to no database", len(sids))


def _is_new(session):
    """Whether ``session`` was created by the current request.

    16.0+ call that ``is_new``; the werkzeug sessions of 12.0-15.0 call it ``new``, and answer any
    other attribute name with None (``OpenERPSession.__getattr__`` reads the session's data).
    """
    is_new = getattr(session, 'is_new', None)
    if is_new is None:
        is_new = getattr(session, 'new', False)
    return bool(is_new)


def _wrap_delete(original):
    @functools.wraps(original)
    def delete(self, session):
        # Read the sid now: rotate() gives the session its new sid right after this call.
        sid = session.sid
        result = original(self, session)
        # A session created by this very request was never sent to a browser: no socket has it.
        if not _is_new(session):
            _announce(current_db(session), [sid])
        return result

    setattr(delete, _ORIGINAL, original)
    return delete


#: Set while Odoo collects the files a session left behind (19.0+), which ends no session.
_collecting = threading.local()


def _wrap_delete_from_identifiers(original):
    @functools.wraps(original)
    def delete_from_identifiers(self, identifiers):
        # 18.0+: "log out" of a device deletes every session whose first 42 characters are the
        # identifier, which is exactly what a session hash covers.
        identifiers = list(identifiers)
        result = original(self, identifiers)
        if not getattr(_collecting, 'active', False):
            _announce(current_db(), identifiers)
        return result

    setattr(delete_from_identifiers, _ORIGINAL, original)
    return delete_from_identifiers


def _wrap_delete_old_sessions(original):
    @functools.wraps(original)
    def delete_old_sessions(self, session):
        # 19.0+: some time after a soft rotation (new sid, same first 42 characters), Odoo
        # deletes the files of the session's previous sids by that identifier. The session lives
        # on under its new sid, so this must not be announced as the end of the session.
        _collecting.active = True
        try:
            return original(self, session)
        finally:
            _collecting.active = False

    setattr(delete_old_sessions, _ORIGINAL, original)
    return delete_old_sessions


def session_store_class():
    """The class of Odoo's filesystem session store in this version, or None.

    16.0+ have ``odoo.http.FilesystemSessionStore``; 14.0 and 15.0 (and late 13.0) the copy of
    werkzeug's in ``odoo.tools._vendor.sessions``, imported by ``odoo.http`` as ``sessions``;
    12.0 and 13.0 werkzeug's own ``werkzeug.contrib.sessions``.
    """
    store_cls = getattr(odoo.http, 'FilesystemSessionStore', None)
    if store_cls is None:
        store_cls = getattr(getattr(odoo.http, 'sessions', None), 'FilesystemSessionStore', None)
    if store_cls is None:
        try:
            from werkzeug.contrib.sessions import FilesystemSessionStore as store_cls
        except ImportError:
            store_cls = None
    return store_cls


def patch_session_store(store_cls=None):
    """Announce every session Odoo deletes from its session store, after it is deleted.

    Why: the sidecar authenticates a socket when it opens and re-checks it only now and then,
    while Odoo's own websocket re-reads the session at each message and closes it (4001) once
    the session is gone; on 12.0-15.0 a long poll it holds for that session is answered at once,
    so that the next poll is authorized again. Deletion happens on logout, on ``/web/session/destroy``, at the session
    rotation of a login or of a failed session check, and (18+) when a device is logged out;
    not when 19.0 collects the files left by a soft rotation, which keeps the session alive.
    The sid is read before the deletion and only its hash leaves the process.

    :returns: True when deletions are announced
    """
    store_cls = session_store_class() if store_cls is None else store_cls
    if store_cls is None or not hasattr(store_cls, 'delete'):
        _logger.info(
            "bus_sidecar: no filesystem session store found in this Odoo version; deleted "
            "sessions are not announced to the bus sidecar")
        return False
    if not _patched(store_cls.delete):
        store_cls.delete = _wrap_delete(store_cls.delete)
    for name, wrap in (('delete_from_identifiers', _wrap_delete_from_identifiers),
                       ('delete_old_sessions', _wrap_delete_old_sessions)):
        method = getattr(store_cls, name, None)
        if method is not None and not _patched(method):
            setattr(store_cls, name, wrap(method))
    return True


# ---------------------------------------------------------------------------------------------
# 4. No soft rotation in answer to the sidecar (19.0+)
# ---------------------------------------------------------------------------------------------

def from_sidecar(request=None):
    """Whether the current HTTP request was made by the sidecar: it carries the shared secret."""
    try:
        request = odoo.http.request if request is None else request
        headers = request.httprequest.headers if request else None
    except (AttributeError, RuntimeError):
        headers = None  # no request in this thread
    if headers is None:
        return False
    given = headers.get(contract.SECRET_HEADER)
    expected = settings.shared_secret()
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.strip().encode('utf-8'), expected.encode('utf-8'))


def _wrap_rotate(original):
    @functools.wraps(original)
    def rotate(self, session, env, soft=False):
        # A soft rotation gives the session a new id in the answer's Set-Cookie, and the old id
        # works for 120 s more. The sidecar calls Odoo with the browser's cookie (subscribe,
        # presence, re-checks), but the browser never sees the answer: an idle tab would keep the
        # old id and be logged out at its next click. So the sidecar's requests leave the id as
        # it is; the browser's own next request rotates it, and the sidecar follows `next_sid`
        # like any request. Following a rotation that already happened is left to Odoo.
        if soft and from_sidecar() and 'next_sid' not in self.get(session.sid):
            if session.is_dirty:
                self.save(session)
            return None
        return original(self, session, env, soft)

    setattr(rotate, _ORIGINAL, original)
    return rotate


def patch_session_rotation(store_cls=None):
    """Never rotate a session softly in answer to a request of the sidecar (19.0+).

    :returns: True when the sidecar's requests keep session ids (the info route says so)
    """
    store_cls = getattr(odoo.http, 'FilesystemSessionStore', None) if store_cls is None \
        else store_cls
    rotate = getattr(store_cls, 'rotate', None) if store_cls is not None else None
    if rotate is None or 'soft' not in inspect.signature(rotate).parameters:
        return False  # no soft rotation in this version: nothing to keep
    if not _patched(rotate):
        store_cls.rotate = _wrap_rotate(rotate)
    return True
