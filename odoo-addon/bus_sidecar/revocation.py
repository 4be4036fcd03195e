# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Revocation NOTIFYs: tell the sidecar at once which sessions ended and whose to re-check.

A payload names sessions by their hash (``contract.session_hash``), never by their id, and
partners by id. It is sent on ``contract.REVOKE_CHANNEL`` on database ``postgres``, the database
on which Odoo's bus sends its ``imbus`` NOTIFYs and the sidecar LISTENs.
"""
import functools
import json
import logging
import os

import odoo

from . import contract

_logger = logging.getLogger(__name__)

#: The database of Odoo's own ``imbus`` NOTIFYs (``odoo.sql_db.db_connect('postgres')``).
NOTIFY_DATABASE = 'postgres'

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; Odoo's bus splits at the same size.
PAYLOAD_LIMIT = 8000

#: Key of the partners announced when the current transaction commits (``cr.postcommit.data``).
_PENDING_KEY = 'bus_sidecar.revoked_partner_ids'


def payloads(db, sessions=(), partners=(), limit=PAYLOAD_LIMIT):
    """The JSON payloads announcing ``sessions`` (hashes) and ``partners`` (ids) of ``db``.

    One payload unless it would reach ``limit`` bytes; then the names are halved until each
    payload fits (one name always fits: a hash is 64 characters).
    """
    names = [('sessions', name) for name in sessions] + [('partners', name) for name in partners]
    return _split(db, names, limit)


def _split(db, names, limit):
    payload = json.dumps(
        {
            'db': db,
            'sessions': [value for key, value in names if key == 'sessions'],
            'partners': [value for key, value in names if key == 'partners'],
        },
        sort_keys=True,
        separators=(',', ':'),
    )
    if len(names) < 2 or len(payload.encode('utf-8')) < limit:
        return [payload]
    half = (len(names) + 1) // 2
    return _split(db, names[:half], limit) + _split(db, names[half:], limit)


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
        with odoo.sql_db.db_connect(NOTIFY_DATABASE).cursor() as cr:
            for payload in payloads(db, sessions, partners):
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


def send_partners_after_commit(cr, partner_ids):
    """Announce ``partner_ids`` once the transaction of ``cr`` commits; never if it rolls back.

    Their sessions only become invalid (for Odoo's session check) at that commit, so asking the
    sidecar to re-validate them any earlier would find them still valid. All the partners of one
    transaction go into one announcement.
    """
    partner_ids = set(partner_ids)
    if not partner_ids:
        return
    postcommit = getattr(cr, 'postcommit', None)
    data = getattr(postcommit, 'data', None)
    if data is not None:
        pending = data.get(_PENDING_KEY)
        if pending is None:
            pending = data[_PENDING_KEY] = set()
            postcommit.add(functools.partial(send, cr.dbname, (), pending))
        pending.update(partner_ids)
    elif postcommit is not None:
        postcommit.add(functools.partial(send, cr.dbname, (), partner_ids))
    else:
        # 12.0 and 13.0 have no postcommit callbacks, only cr.after().
        cr.after('commit', functools.partial(send, cr.dbname, (), partner_ids))
