# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Revocation NOTIFYs: tell the sidecar at once which sessions ended and whose to re-check.

A payload names sessions by their hash (``contract.session_hash``), never by their id, and
partners by id. It is sent on ``contract.REVOKE_CHANNEL`` on database ``postgres``, the database
on which Odoo's bus sends its ``imbus`` NOTIFYs and the sidecar LISTENs. With a shared secret,
each payload carries its signature (``contract.revocation_signature``): anyone who may connect
to ``postgres`` can NOTIFY, and the sidecar acts only on what it can verify.

Partners are announced only once Odoo's other workers can know that their session tokens
changed (see ``send_partners_after_commit``).
"""
import functools
import json
import logging
import os

import odoo

from . import contract, settings

_logger = logging.getLogger(__name__)

#: The database of Odoo's own ``imbus`` NOTIFYs (``odoo.sql_db.db_connect('postgres')``).
NOTIFY_DATABASE = 'postgres'

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; Odoo's bus splits at the same size.
PAYLOAD_LIMIT = 8000

#: Key of the partners announced when the current transaction commits (``cr.postcommit.data``).
_PENDING_KEY = 'bus_sidecar.revoked_partner_ids'


def payloads(db, sessions=(), partners=(), limit=PAYLOAD_LIMIT, secret=None):
    """The JSON payloads announcing ``sessions`` (hashes) and ``partners`` (ids) of ``db``.

    One payload unless it would reach ``limit`` bytes; then the names are halved until each
    payload fits (one name always fits: a hash is 64 characters). Each payload is signed with
    ``secret`` when one is given.
    """
    names = [('sessions', name) for name in sessions] + [('partners', name) for name in partners]
    return _split(db, names, limit, secret)


def _split(db, names, limit, secret):
    body = {
        'db': db,
        'sessions': [value for key, value in names if key == 'sessions'],
        'partners': [value for key, value in names if key == 'partners'],
    }
    if secret is not None:
        body[contract.REVOCATION_SIGNATURE_FIELD] = contract.revocation_signature(
            secret, db, body['sessions'], body['partners'])
    payload = json.dumps(body, sort_keys=True, separators=(',', ':'))
    if len(names) < 2 or len(payload.encode('utf-8')) < limit:
        return [payload]
    half = (len(names) + 1) // 2
    return _split(db, names[:half], limit, secret) + _split(db, names[half:], limit, secret)


def _notify_statement():
    # Odoo's bus calls the function named by ODOO_NOTIFY_FUNCTION instead of pg_notify when it is
    # set (a deployment may route NOTIFYs through a wrapper); announce revocations the same way.
    function = os.environ.get('ODOO_NOTIFY_FUNCTION') or 'pg_notify'
    return 'SELECT "%s"(%%s, %%s)' % function.replace('"', '""')


def send(db, sessions=(), partners=()):
    """NOTIFY the revocation now, on a connection of its own; log and go on if that fails.

    :param str db: the Odoo database the sessions and partners belong to
    :param sessions: session hashes (``contract.session_hash``), never session ids
    :param partners: ids of ``res.partner`` whose sockets the sidecar must re-validate
    """
    sessions = sorted(set(sessions))
    partners = sorted(set(partners))
    if not sessions and not partners:
        return
    try:
        statement = _notify_statement()
        signed = payloads(db, sessions, partners, secret=settings.shared_secret())
        with odoo.sql_db.db_connect(NOTIFY_DATABASE).cursor() as cr:
            for payload in signed:
                cr.execute(statement, (contract.REVOKE_CHANNEL, payload))
    except Exception:
        # Never let a failed announcement break a logout or a password change: the sidecar
        # still re-validates every socket periodically.
        _logger.warning(
            "bus_sidecar: could not announce %d revoked session(s) and %d partner(s) of "
            "database %s to the bus sidecar",
            len(sessions), len(partners), db, exc_info=True,
        )
        return
    _logger.debug(
        "bus_sidecar: announced %d revoked session(s) and %d partner(s) of database %s",
        len(sessions), len(partners), db,
    )


def send_sessions(db, sids):
    """Announce the end of the sessions ``sids`` (ids; only their hashes are sent)."""
    send(db, sessions=[contract.session_hash(sid) for sid in sids])


def pending_invalidations(registry):
    """Whether this thread invalidated caches (or the registry) that Odoo has not signalled yet.

    Odoo keeps these flags per thread and tells its other workers about them in
    ``Registry.signal_changes()``; a worker reads that signal at the start of its next request
    (``check_signaling``) and only then drops its cached session tokens.
    """
    return bool(getattr(registry, 'registry_invalidated', False)
                or getattr(registry, 'cache_invalidated', False))


def signal_invalidations(registry):
    """Signal this thread's pending invalidations to Odoo's other workers now.

    Odoo 16.0-19.0 signal them after the request's commit (``service.model.retrying``, the
    cron's ``_process_job``), and the commit runs the post-commit hooks first: a revocation sent
    from one would reach the sidecar, whose re-check would reach a worker that still has the old
    session token cached and calls the session valid. Signalling here, right after the commit
    that made the change, is what Odoo does a moment later; it then finds nothing left to
    signal. A registry that is not ready (being loaded) is left to Odoo.
    """
    if registry is None or not pending_invalidations(registry):
        return
    if not getattr(registry, 'ready', True):
        return
    try:
        registry.signal_changes()
    except Exception:
        # The sidecar still asks again shortly after the announcement, and periodically.
        _logger.warning(
            "bus_sidecar: could not signal the cache invalidation of database %s before "
            "announcing revoked partners", getattr(registry, 'db_name', '?'), exc_info=True)


def send_partners_after_commit(cr, partner_ids, registry=None):
    """Announce ``partner_ids`` once the transaction of ``cr`` commits; never if it rolls back.

    Their sessions only become invalid (for Odoo's session check) at that commit, so asking the
    sidecar to re-validate them any earlier would find them still valid. And Odoo's other
    workers only stop accepting them once the invalidation of their cached session tokens is
    signalled, so ``registry`` (the one whose caches this thread invalidated) is signalled
    first (``signal_invalidations``). All the partners of one transaction go into one
    announcement.
    """
    partner_ids = set(partner_ids)
    if not partner_ids:
        return
    announce = functools.partial(_signal_then_send, registry, cr.dbname)
    postcommit = getattr(cr, 'postcommit', None)
    data = getattr(postcommit, 'data', None)
    if data is not None:
        pending = data.get(_PENDING_KEY)
        if pending is None:
            pending = data[_PENDING_KEY] = set()
            postcommit.add(functools.partial(announce, pending))
        pending.update(partner_ids)
    elif postcommit is not None:
        postcommit.add(functools.partial(announce, partner_ids))
    else:
        # 12.0 and 13.0 have no postcommit callbacks, only cr.after().
        cr.after('commit', functools.partial(announce, partner_ids))


def _signal_then_send(registry, db, partner_ids):
    signal_invalidations(registry)
    send(db, (), partner_ids)
