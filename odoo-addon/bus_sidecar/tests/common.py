# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Helpers shared by the tests: a direct LISTEN on database ``postgres``, clean settings."""
import contextlib
import json
import os
import select
import time
from unittest import mock

import psycopg2

import odoo
import odoo.sql_db

from .. import contract, patches, revocation, settings

#: Every odoo.conf option and environment variable the addon reads.
OPTIONS = (contract.SECRET_OPTION, settings.KEEP_GEVENT_OPTION,
           settings.DIRECT_HOST_OPTION, settings.DIRECT_PORT_OPTION)
ENV_NAMES = (
    (contract.SECRET_ENV, settings.KEEP_GEVENT_ENV)
    + settings.DIRECT_HOST_ENV + settings.DIRECT_PORT_ENV
)


def _options():
    """The dict that holds odoo.conf options (19.0: the first map of a ChainMap, for runtime
    values, which shadows the others; patching the ChainMap itself would not restore it)."""
    options = odoo.tools.config.options
    maps = getattr(options, 'maps', None)
    return maps[0] if maps else options


@contextlib.contextmanager
def configured(options=None, environ=None):
    """Run with only these settings of the addon: odoo.conf ``options`` and ``environ``.

    Other odoo.conf options (e.g. ``http_enable``) may be given too.
    """
    conf = dict.fromkeys(OPTIONS)
    conf.update(options or {})
    with mock.patch.dict(_options(), conf), mock.patch.dict(os.environ):
        for name in ENV_NAMES:
            os.environ.pop(name, None)
        os.environ.update(environ or {})
        yield


@contextlib.contextmanager
def shared_secret(value):
    """Run with ``value`` (None: none) as the shared secret, other settings as configured."""
    with mock.patch.dict(_options(), {contract.SECRET_OPTION: value}), \
            mock.patch.dict(os.environ):
        os.environ.pop(contract.SECRET_ENV, None)
        yield


def direct_connection_info(dbname=revocation.NOTIFY_DATABASE):
    """libpq keywords for ``dbname`` on PostgreSQL itself: through ``imdispatcher_db_*`` when
    configured (as the sidecar connects), else through ``db_host``/``db_port``."""
    _name, info = odoo.sql_db.connection_info_for(dbname)
    address = settings.direct_address()
    return patches.direct_connection_info(info, address) if address else info


class Listener(object):
    """A LISTEN on its own direct connection, like the sidecar's."""

    def __init__(self, channel):
        self.channel = channel
        self.received = []  # raw payload texts, in arrival order
        self.connection = psycopg2.connect(**direct_connection_info())
        self.connection.autocommit = True
        with self.connection.cursor() as cr:
            cr.execute('LISTEN "%s"' % channel)

    def wait_for(self, predicate, timeout=5.0):
        """The first decoded payload (received so far or within ``timeout``) that matches."""
        deadline = time.time() + timeout
        seen = 0
        while True:
            for text in self.received[seen:]:
                payload = json.loads(text)
                if predicate(payload):
                    return payload
            seen = len(self.received)
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            select.select([self.connection], [], [], remaining)
            self.connection.poll()
            while self.connection.notifies:
                notify = self.connection.notifies.pop(0)
                if notify.channel == self.channel:
                    self.received.append(notify.payload)

    def all(self, timeout=0.5):
        """Every decoded payload received so far or within ``timeout``."""
        self.wait_for(lambda payload: False, timeout)
        return [json.loads(text) for text in self.received]

    def close(self):
        self.connection.close()


@contextlib.contextmanager
def listening(channel=contract.REVOKE_CHANNEL):
    listener = Listener(channel)
    try:
        yield listener
    finally:
        listener.close()
