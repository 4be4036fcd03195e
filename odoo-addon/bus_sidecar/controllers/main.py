# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
import hmac
import json
import logging

from odoo import http, release
from odoo.http import request

from .. import contract, longpolling, patches, settings

_logger = logging.getLogger(__name__)

NOT_CONFIGURED_MESSAGE = (
    "The bus sidecar's shared secret is not configured in Odoo: set %s in the [options] of "
    "odoo.conf, or the environment variable %s, to the value the sidecar sends in %s, and "
    "restart Odoo." % (contract.SECRET_OPTION, contract.SECRET_ENV, contract.SECRET_HEADER)
)
REFUSED_MESSAGE = 'Missing or wrong %s header.' % contract.SECRET_HEADER


def websocket_worker_version():
    """``WebsocketConnectionHandler._VERSION`` of the bus, or None when this Odoo has none.

    Late 17.0 and 18.0+ have one (the client sends it as ``?version=``); 16.0 and early 17.0
    builds have none, and 12.0-15.0 have no websocket at all.
    """
    try:
        from odoo.addons.bus.websocket import WebsocketConnectionHandler
    except ImportError:
        return None
    return getattr(WebsocketConnectionHandler, '_VERSION', None)


def features():
    """What this addon does for the sidecar beyond the basics, by ``contract`` name."""
    names = []
    store_cls = getattr(http, 'FilesystemSessionStore', None)
    if store_cls is not None and hasattr(getattr(store_cls, 'rotate', None), patches._ORIGINAL):
        names.append(contract.FEATURE_KEEPS_SESSION_IDS)
    return names


def server_info(now=None):
    """What ``/bus_sidecar/info`` tells the sidecar."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {
        'server_version': release.version,
        'server_version_info': list(release.version_info),
        'websocket_worker_version': websocket_worker_version(),
        'features': features(),
        'server_time': now.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (now.microsecond // 1000),
    }


def secret_refusal(given, expected):
    """None when ``given`` is the shared secret, else the JSON body of the 403 answer."""
    if expected is None:
        return {'error': 'secret_not_configured', 'message': NOT_CONFIGURED_MESSAGE}
    if given is None or not hmac.compare_digest(
            given.strip().encode('utf-8'), expected.encode('utf-8')):
        return {'error': 'forbidden', 'message': REFUSED_MESSAGE}
    return None


def _json_response(body, status):
    return http.Response(
        json.dumps(body),
        status=status,
        content_type='application/json; charset=utf-8',
        headers=[('Cache-Control', 'no-store')],
    )


class BusSidecarController(http.Controller):

    # auth='none': the sidecar has no Odoo session and the route must answer without a database
    # (the module is loaded server-wide). save_session=False: no session cookie either.
    @http.route(contract.INFO_ROUTE, type='http', auth='none', methods=['GET'],
                save_session=False)
    def bus_sidecar_info(self):
        refusal = secret_refusal(
            request.httprequest.headers.get(contract.SECRET_HEADER), settings.shared_secret())
        if refusal is not None:
            _logger.warning(
                "bus_sidecar: refused %s from %s: %s", contract.INFO_ROUTE,
                request.httprequest.remote_addr, refusal['error'])
            return _json_response(refusal, 403)
        return _json_response(server_info(), 200)


if longpolling.LONGPOLLING:

    class BusController(http.Controller):
        """The sidecar's side of ``/longpolling/poll`` (12.0-15.0).

        Named like the bus's controller, with a ``poll`` method like its own, so that a call
        without ``channels`` or ``last`` fails with Odoo's very message.
        """

        # Called by the sidecar for each /longpolling/poll, with the browser's cookies: public like
        # Odoo's own poll route, and saving the session like it. The sidecar holds the poll.
        @http.route(contract.POLL_ROUTE, type='json', auth='public')
        def poll(self, channels, last, options=None, force_status=False):
            return longpolling.poll(request, channels, last, options, force_status)
