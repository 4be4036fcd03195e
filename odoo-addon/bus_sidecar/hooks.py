# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

import odoo
import odoo.tools

from . import contract, patches, settings

_logger = logging.getLogger(__name__)

_applied = []


def post_load():
    """Apply the patches, once per process, when Odoo loads the module.

    Loaded server-wide (``server_wide_modules = base,web,bus_sidecar``), this runs in the master
    process before it spawns anything, which the first two patches need. Each patch logs what it
    does, so the start-up log tells how the bus is set up.
    """
    if _applied:
        return
    _applied.append(True)
    if 'bus_sidecar' not in server_wide_modules():
        _logger.warning(
            "bus_sidecar: not loaded server-wide: add it to server_wide_modules "
            "(server_wide_modules = base,web,bus_sidecar or --load=base,web,bus_sidecar) so "
            "that its patches apply before Odoo starts its evented process and cron workers")
    patches.patch_gevent_spawn()
    if patches.patch_cron_listener():
        _log_cron_listener()
    patches.patch_session_store()
    if patches.patch_session_rotation():
        _logger.info(
            "bus_sidecar: sessions are not rotated in answer to the bus sidecar's requests; "
            "the browser's own requests rotate them")
    if settings.shared_secret() is None:
        _logger.warning(
            "bus_sidecar: %s / %s is not set: the bus sidecar cannot use %s until it is",
            contract.SECRET_OPTION, contract.SECRET_ENV, contract.INFO_ROUTE,
        )


def server_wide_modules():
    """The modules loaded server-wide: ``odoo.conf`` up to 18.0, the configuration in 19.0."""
    modules = getattr(getattr(odoo, 'conf', None), 'server_wide_modules', None)
    if modules is None:
        modules = odoo.tools.config.get('server_wide_modules')
    return modules or []


def _log_cron_listener():
    try:
        address = settings.direct_address()
    except ValueError as error:
        _logger.error("bus_sidecar: %s; the cron wake-up listener uses db_host/db_port", error)
        return
    if address is None:
        _logger.warning(
            "bus_sidecar: %s / %s are not set: the cron wake-up listener (LISTEN cron_trigger) "
            "connects through db_host/db_port; behind PgBouncer in transaction mode its "
            "wake-ups are lost",
            settings.DIRECT_HOST_OPTION, settings.DIRECT_PORT_OPTION,
        )
        return
    host, port = address
    _logger.info(
        "bus_sidecar: the cron wake-up listener (LISTEN cron_trigger) connects directly to "
        "PostgreSQL at %s:%s",
        host or '(local socket)', port or '(default port)',
    )
