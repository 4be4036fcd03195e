# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What the sidecar needs from Odoo 12.0 to 15.0 to serve ``/longpolling/poll`` in its place.

Odoo authorizes a poll in ``BusController._poll``, the method every module overrides to add its
channels (bus, mail, guests in 15.0, livechat, ...); the bus's own ``_poll`` applies the presence
update the poll carries, and ends with ``dispatch.poll(dbname, channels, last, options)``: the
dispatcher reads ``bus_bus`` and waits. On 12.0/13.0 prefork HTTP workers that dispatcher does not
exist ("bus.Bus unavailable"); on 14.0/15.0 its wait would block an HTTP worker for 50 s.

``poll()`` below runs the same override chain with that last call captured instead of made (see
``DispatchProxy``), then reads the catch-up once, as the dispatcher's first read does, and returns
at once. Nothing here imports the bus before a request needs it.
"""
import contextlib
import importlib
import inspect
import threading

import odoo
from odoo import release

#: The Odoo series that deliver the bus by long polling.
LONGPOLLING = release.version_info[0] <= 15

#: Odoo's own message for a poll whose channels are not all strings (12.0-15.0).
ONLY_STRINGS = 'bus.Bus only string channels are allowed.'

_BUS_CONTROLLER_MODULE = 'odoo.addons.bus.controllers.main'
_BUS_MODEL_MODULE = 'odoo.addons.bus.models.bus'
_install_lock = threading.Lock()
_leaf_classes = {}


class DispatchProxy(object):
    """Stands where the bus controller looks ``dispatch`` up, in place of Odoo's dispatcher.

    Everything is passed to the dispatcher it replaced, except the ``poll()`` of a thread that is
    capturing: that call is recorded and answered with an empty list, the same for every thread
    (gevent's monkey-patching makes ``threading.local`` per greenlet). Its truth value is the
    dispatcher's, so Odoo's own ``/longpolling/poll`` still says "bus.Bus unavailable" where it
    did (12.0/13.0 prefork workers).
    """

    def __init__(self, original):
        self.bus_sidecar_original = original
        self._local = threading.local()

    def __bool__(self):
        return bool(self.bus_sidecar_original)

    __nonzero__ = __bool__

    def __getattr__(self, name):
        return getattr(self.bus_sidecar_original, name)

    def poll(self, *args, **kwargs):
        captured = getattr(self._local, 'captured', None)
        if captured is None:
            return self.bus_sidecar_original.poll(*args, **kwargs)
        captured.append(_poll_arguments(*args, **kwargs))
        return []

    @contextlib.contextmanager
    def capturing(self):
        """Within this block, this thread's ``dispatch.poll()`` calls are recorded, not made."""
        captured = []
        previous = getattr(self._local, 'captured', None)
        self._local.captured = captured
        try:
            yield captured
        finally:
            self._local.captured = previous


def _poll_arguments(dbname, channels, last, options=None, timeout=None):
    """The arguments of ``ImDispatch.poll`` (12.0-15.0), by name."""
    return {
        'dbname': dbname,
        'channels': list(channels),
        'last': last,
        'options': options if options is not None else {},
    }


def dispatch_proxy():
    """The proxy in the bus controller's module, put there on first use."""
    module = importlib.import_module(_BUS_CONTROLLER_MODULE)
    with _install_lock:
        current = getattr(module, 'dispatch', None)
        if not isinstance(current, DispatchProxy):
            current = DispatchProxy(current)
            module.dispatch = current
    return current


def bus_controller(registry):
    """A ``BusController`` with every ``_poll`` override of the modules loaded in ``registry``.

    Odoo builds the controller of ``/longpolling/poll`` the same way: the most derived subclasses
    defined by loaded modules (installed ones and server-wide ones), combined in one class.
    """
    base = importlib.import_module(_BUS_CONTROLLER_MODULE).BusController
    modules = frozenset(registry._init_modules) | frozenset(odoo.conf.server_wide_modules or ())
    key = (base, modules)
    cls = _leaf_classes.get(key)
    if cls is None:
        leaves = [leaf for leaf in _leaves(base, modules) if leaf is not base]
        cls = type('BusController (bus_sidecar)', tuple(reversed(leaves)), {}) if leaves else base
        _leaf_classes[key] = cls
    return cls()


def _leaves(cls, modules):
    def loaded(klass):
        path = klass.__module__.split('.')
        return path[:2] == ['odoo', 'addons'] and len(path) > 2 and path[2] in modules

    found = []
    for subclass in cls.__subclasses__():
        if loaded(subclass):
            for leaf in _leaves(subclass, modules):
                if leaf not in found:
                    found.append(leaf)
    if not found and loaded(cls):
        found = [cls]
    return found


def final_channels(dbname, channels):
    """The channel values the dispatcher polls: 15.0 prefixes the database, 12.0-14.0 do not."""
    channel_with_db = getattr(importlib.import_module(_BUS_MODEL_MODULE), 'channel_with_db', None)
    if channel_with_db is None:
        return [_plain(channel) for channel in channels]
    return [_plain(channel_with_db(dbname, channel)) for channel in channels]


def _plain(channel):
    return list(channel) if isinstance(channel, tuple) else channel


def catch_up(dbname, channels, last, options, force_status=False):
    """What the dispatcher's first read returns: ``bus.bus._poll`` (15.0) or ``poll`` (12-14).

    ``force_status`` is 12.0's second read after a wait: it adds the im_status of
    ``options['bus_presence_partner_ids']`` even when there is no notification.
    """
    # Imported here: this runs on 12.0-15.0 only, and 19.0's ``odoo`` has no ``SUPERUSER_ID``.
    from odoo import SUPERUSER_ID, api

    with odoo.registry(dbname).cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        bus = env['bus.bus']
        read = getattr(bus, '_poll', None) or bus.poll
        if force_status and 'force_status' in inspect.signature(read).parameters:
            return read(channels, last, options, force_status=True)
        return read(channels, last, options)


def poll(request, channels, last, options=None, force_status=False):
    """The answer of ``/bus_sidecar/poll``: ``{"db", "channels", "notifications", "version"}``.

    ``channels`` are what the browser asked for; the answer's ``channels`` are those Odoo grants
    after every module's ``_poll``; ``notifications`` are what Odoo's own poll would return at once
    for ``last``, in this version's shape. ``options`` go to the ``_poll`` chain as the browser
    sent them: the presence update happens when they hold ``bus_inactivity``.
    """
    if options is None:
        options = {}
    # Odoo's own check, and what follows it: any iterable of strings is a list of channels.
    if [c for c in channels if not isinstance(c, str)]:
        raise Exception(ONLY_STRINGS)
    channels = list(channels)
    proxy = dispatch_proxy()
    controller = bus_controller(request.registry)
    with proxy.capturing() as captured:
        controller._poll(request.db, channels, last, options)
    if not captured:
        raise Exception(
            "bus_sidecar: this Odoo's BusController._poll chain did not end in dispatch.poll")
    call = captured[-1]
    dbname = call['dbname']
    polled = final_channels(dbname, call['channels'])
    notifications = catch_up(dbname, polled, call['last'], call['options'], force_status)
    return {
        'db': dbname,
        'channels': polled,
        'notifications': notifications,
        'version': release.version_info[0],
    }
