# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The addon's settings: odoo.conf ``[options]`` and environment variables.

An environment variable, when set and not empty, wins over the odoo.conf option, as in the OCA
module ``bus_alt_connection``. Every function takes the configuration and the environment as
optional arguments so that tests can pass their own.
"""
import logging
import os

from odoo.tools import config as odoo_config

from . import contract

_logger = logging.getLogger(__name__)

#: odoo.conf option / environment variable that keeps Odoo's own evented (gevent) process.
KEEP_GEVENT_OPTION = 'bus_sidecar_keep_gevent'
KEEP_GEVENT_ENV = 'BUS_SIDECAR_KEEP_GEVENT'

#: Where the direct (not pooled) connections to PostgreSQL go: the names that the OCA module
#: ``bus_alt_connection`` made familiar, shared with the sidecar's own LISTEN connection.
DIRECT_HOST_OPTION = 'imdispatcher_db_host'
DIRECT_PORT_OPTION = 'imdispatcher_db_port'
DIRECT_HOST_ENV = ('IMDISPATCHER_DB_HOST', 'ODOO_IMDISPATCHER_DB_HOST')
DIRECT_PORT_ENV = ('IMDISPATCHER_DB_PORT', 'ODOO_IMDISPATCHER_DB_PORT')

_TRUE_WORDS = ('1', 'true', 'yes', 'on')
_FALSE_WORDS = ('0', 'false', 'no', 'off')


def _text_setting(option, env_names, conf=None, environ=None):
    """The setting as a stripped string, or None when it is unset or empty.

    In odoo.conf, ``False`` and ``None`` mean unset too: Odoo up to 18.0 turns these words into
    False and None, 19.0 keeps the options it does not know as text.
    """
    environ = os.environ if environ is None else environ
    conf = odoo_config if conf is None else conf
    for name in env_names:
        value = (environ.get(name) or '').strip()
        if value:
            return value
    value = conf.get(option)
    if value is None or value is False:
        return None
    value = str(value).strip()
    if value in ('', 'False', 'false', 'None'):
        return None
    return value


def shared_secret(conf=None, environ=None):
    """The secret the sidecar must send in ``X-Bus-Sidecar-Secret``, or None if not configured."""
    return _text_setting(contract.SECRET_OPTION, (contract.SECRET_ENV,), conf, environ)


def keep_gevent(conf=None, environ=None):
    """Whether the prefork master should still spawn Odoo's evented process (default: no)."""
    value = _text_setting(KEEP_GEVENT_OPTION, (KEEP_GEVENT_ENV,), conf, environ)
    if value is None:
        # odoo.conf `bus_sidecar_keep_gevent = False` arrives as False: unset and false agree.
        return False
    word = value.lower()
    if word in _TRUE_WORDS:
        return True
    if word not in _FALSE_WORDS:
        _logger.warning(
            "bus_sidecar: %s / %s = %r is not a boolean (use 1/0, true/false, yes/no, on/off); "
            "Odoo's evented process stays disabled",
            KEEP_GEVENT_OPTION, KEEP_GEVENT_ENV, value,
        )
    return False


def direct_address(conf=None, environ=None):
    """``(host, port)`` of PostgreSQL itself, bypassing a connection pooler, or None.

    None means neither ``imdispatcher_db_host`` nor ``imdispatcher_db_port`` is set, so there is
    nothing to change. When only one is set, the other comes from ``db_host`` / ``db_port``;
    ``host`` or ``port`` may then be None (libpq's default: the Unix socket, port 5432).
    Raises ValueError when the port is not a number.
    """
    conf = odoo_config if conf is None else conf
    host = _text_setting(DIRECT_HOST_OPTION, DIRECT_HOST_ENV, conf, environ)
    port = _text_setting(DIRECT_PORT_OPTION, DIRECT_PORT_ENV, conf, environ)
    if host is None and port is None:
        return None
    if host is None:
        host = conf.get('db_host') or None
    if port is None:
        port = conf.get('db_port') or None
    if port is not None:
        try:
            port = int(port)
        except ValueError:
            raise ValueError(
                '%s / %s must be a port number, not %r'
                % (DIRECT_PORT_OPTION, DIRECT_PORT_ENV[0], port)
            ) from None
    return host, port


def gevent_port(conf=None):
    """The port of Odoo's evented process: ``gevent_port`` (16+) or ``longpolling_port`` (≤15)."""
    conf = odoo_config if conf is None else conf
    return conf.get('gevent_port') or conf.get('longpolling_port')
