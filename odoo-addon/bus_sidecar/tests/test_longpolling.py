# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The long-polling route of 12.0-15.0 (``/bus_sidecar/poll``); skipped from 16.0 on."""
import json
import unittest
from unittest import mock

from odoo import release
from odoo.tests.common import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .. import contract, longpolling

PASSWORD = 'bus-sidecar-test-password'
MAJOR = release.version_info[0]

try:
    from odoo.addons.bus.controllers.main import BusController as _BusController
except ImportError:
    _BusController = None

if longpolling.LONGPOLLING and _BusController is not None:

    class ExtraChannelController(_BusController):
        """Stands for any installed module's ``_poll`` override (this module is loaded)."""

        def _poll(self, dbname, channels, last, options):
            if options.get('bus_sidecar_test_extra'):
                channels = list(channels) + [(dbname, 'bus_sidecar.test', 1)]
            return super(ExtraChannelController, self)._poll(dbname, channels, last, options)


def _db_channel(db, channel):
    """A channel as the dispatcher of this version polls it: 15.0 prefixes strings."""
    if MAJOR >= 15 and isinstance(channel, str):
        return [db, channel]
    return list(channel) if isinstance(channel, tuple) else channel


@unittest.skipUnless(longpolling.LONGPOLLING, 'long polling is for 12.0-15.0')
@tagged('post_install', '-at_install', 'bus_sidecar')
class TestLongpollingRoute(HttpCase):

    def setUp(self):
        super(TestLongpollingRoute, self).setUp()
        self.user = new_test_user(self.env, login='bus_sidecar_poller', password=PASSWORD)
        self.db = self.env.cr.dbname

    def _poll(self, params):
        response = self.url_open(contract.POLL_ROUTE, data=json.dumps({
            'jsonrpc': '2.0', 'method': 'call', 'id': 1, 'params': params,
        }), headers={'Content-Type': 'application/json'})
        self.assertEqual(response.status_code, 200)
        return response.json()

    def _send(self, target, payload):
        """A notification as this version's bus writes it; returns its channel value."""
        bus = self.env['bus.bus']
        if hasattr(bus, '_sendone'):
            bus._sendone(target, 'bus_sidecar/test', payload)
            return _db_channel(self.db, target)
        bus.sendone(target, payload)
        return list(target) if isinstance(target, tuple) else target

    def test_channels_are_those_of_the_poll_chain(self):
        self.authenticate(self.user.login, PASSWORD)
        partner = self.user.partner_id
        answer = self._poll({'channels': ['a-client-string'], 'last': 0, 'options': {}})
        self.assertNotIn('error', answer)
        result = answer['result']
        self.assertEqual(result['db'], self.db)
        self.assertEqual(result['version'], MAJOR)
        channels = result['channels']
        self.assertIn(_db_channel(self.db, 'a-client-string'), channels)
        if 'mail.channel' in self.env:
            self.assertIn([self.db, 'res.partner', partner.id], channels)
        if MAJOR >= 15:
            self.assertIn([self.db, 'broadcast'], channels)
        else:
            self.assertNotIn('broadcast', channels)

    def test_other_modules_overrides_take_part(self):
        answer = self._poll({'channels': [], 'last': 0, 'options': {'bus_sidecar_test_extra': 1}})
        self.assertIn([self.db, 'bus_sidecar.test', 1], answer['result']['channels'])
        answer = self._poll({'channels': [], 'last': 0, 'options': {}})
        self.assertNotIn([self.db, 'bus_sidecar.test', 1], answer['result']['channels'])

    def test_catch_up_in_this_versions_shape(self):
        self.authenticate(self.user.login, PASSWORD)
        target = (self.db, 'res.partner', self.user.partner_id.id) if MAJOR < 15 \
            else self.user.partner_id
        channel = self._send(target, {'n': 'h\u00e9llo'})
        result = self._poll({'channels': [], 'last': 0, 'options': {}})['result']
        ours = [n for n in result['notifications'] if n['id'] > 0]
        self.assertTrue(ours)
        last = ours[-1]
        if MAJOR >= 15:
            self.assertEqual(set(last), {'id', 'message'})
            self.assertEqual(last['message'], {'type': 'bus_sidecar/test', 'payload': {'n': 'h\u00e9llo'}})
        else:
            self.assertEqual(set(last), {'id', 'channel', 'message'})
            self.assertEqual(last['channel'], channel)
            self.assertEqual(last['message'], {'n': 'h\u00e9llo'})
        after = self._poll({'channels': [], 'last': last['id'], 'options': {}})['result']
        self.assertEqual([n for n in after['notifications'] if n['id'] > 0], [])

    @mute_logger('odoo.http')
    def test_non_string_channels_are_refused_as_odoo_refuses_them(self):
        answer = self._poll({'channels': ['ok', 7], 'last': 0})
        self.assertEqual(answer['error']['data']['message'], longpolling.ONLY_STRINGS)
        self.assertEqual(answer['error']['data']['name'], 'builtins.Exception')
        answer = self._poll({'channels': []})
        self.assertIn("missing 1 required positional argument: 'last'",
                      answer['error']['data']['message'])

    def test_presence_is_written_only_when_the_poll_carries_it(self):
        self.authenticate(self.user.login, PASSWORD)
        presence = self.env['bus.presence'].search([('user_id', '=', self.user.id)])
        presence.unlink()
        self._poll({'channels': [], 'last': 0, 'options': {}})
        self.assertFalse(self.env['bus.presence'].search([('user_id', '=', self.user.id)]))
        self._poll({'channels': [], 'last': 0, 'options': {'bus_inactivity': 1000}})
        presence = self.env['bus.presence'].search([('user_id', '=', self.user.id)])
        self.assertTrue(presence.last_poll)

    def test_odoo_dispatcher_keeps_serving_odoo(self):
        self._poll({'channels': [], 'last': 0, 'options': {}})
        from odoo.addons.bus.controllers import main as bus_main
        proxy = bus_main.dispatch
        self.assertIsInstance(proxy, longpolling.DispatchProxy)
        self.assertEqual(bool(proxy), bool(proxy.bus_sidecar_original))


@unittest.skipUnless(longpolling.LONGPOLLING, 'long polling is for 12.0-15.0')
@tagged('post_install', '-at_install', 'bus_sidecar')
class TestDispatchProxy(TransactionCase):

    def test_capture_is_per_thread_and_the_rest_goes_to_odoo(self):
        original = mock.Mock()
        original.poll.return_value = ['from odoo']
        original.channels = {'x': 1}
        proxy = longpolling.DispatchProxy(original)
        self.assertEqual(proxy.poll('db', ['c'], 5, {}), ['from odoo'])
        self.assertEqual(proxy.channels, {'x': 1})
        with proxy.capturing() as captured:
            self.assertEqual(proxy.poll('db', ('c', 'd'), 7, {'peek': True}), [])
        self.assertEqual(captured, [{'dbname': 'db', 'channels': ['c', 'd'], 'last': 7,
                                     'options': {'peek': True}}])
        self.assertEqual(original.poll.call_count, 1)
        self.assertFalse(longpolling.DispatchProxy(None))

    def test_the_controller_has_every_loaded_override(self):
        controller = longpolling.bus_controller(self.env.registry)
        self.assertIsInstance(controller, _BusController)
        if 'mail' in self.env.registry._init_modules:
            from odoo.addons.mail.controllers.bus import MailChatController
            self.assertIsInstance(controller, MailChatController)
        self.assertIsInstance(controller, ExtraChannelController)

    def test_twelve_adds_im_status_items_when_forced(self):
        if MAJOR != 12:
            self.skipTest('bus_presence_partner_ids is 12.0 only')
        partner = new_test_user(self.env, login='bus_sidecar_watched').partner_id
        items = longpolling.catch_up(self.env.cr.dbname, [], 0, {
            'bus_presence_partner_ids': [partner.id]}, force_status=True)
        self.assertEqual(items[-1]['id'], -1)
        self.assertEqual(items[-1]['message']['id'], partner.id)
