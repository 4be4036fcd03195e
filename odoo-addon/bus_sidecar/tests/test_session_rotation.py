# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import inspect
import json
import time

import odoo.http
from odoo.tests.common import HttpCase, tagged

from .. import contract, patches
from ..controllers.main import features
from .common import configured

SECRET = 'bus-sidecar-test-secret'
PEEK = '/websocket/peek_notifications'


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestSessionRotation(HttpCase):
    """19.0+: Odoo rotates a session softly (new id, same first 42 characters) on the first
    request made 3 hours after its creation. A request of the sidecar must not be that one."""

    def setUp(self):
        super().setUp()
        store = odoo.http.root.session_store
        rotate = getattr(type(store), 'rotate', None)
        if rotate is None or 'soft' not in inspect.signature(rotate).parameters:
            self.skipTest('no soft session rotation in this version')
        self.assertTrue(patches.patch_session_rotation())
        self.authenticate('admin', 'admin')
        self.store = store

    def _age(self):
        """The session was created 3 hours and a minute ago."""
        session = self.store.get(self.session.sid)
        session['create_time'] = time.time() - 3 * 3600 - 60
        self.store.save(session)

    def _peek(self, secret=None, first=False):
        # Always the first id, as a browser that has not seen the answers: the test client
        # would otherwise take the rotated id from Set-Cookie.
        jar = self.opener.cookies
        for cookie in list(jar):
            if cookie.name == 'session_id':
                jar.clear(cookie.domain, cookie.path, cookie.name)
        jar.set('session_id', self.session.sid)
        headers = {'Content-Type': 'application/json'}
        if secret is not None:
            headers[contract.SECRET_HEADER] = secret
        params = {'channels': [], 'last': 0}
        if first:
            params['is_first_poll'] = True
        body = {'jsonrpc': '2.0', 'method': 'call', 'id': 1, 'params': params}
        response = self.url_open(PEEK, data=json.dumps(body), headers=headers)
        self.assertEqual(response.status_code, 200)
        self.assertIn('result', response.json())
        return response

    def _issued_sid(self, response):
        cookies = response.headers.get('Set-Cookie', '')
        for part in cookies.split(','):
            part = part.strip()
            if part.startswith('session_id='):
                return part.split(';')[0][len('session_id='):]
        return None

    def test_sidecar_request_keeps_the_id(self):
        with configured({contract.SECRET_OPTION: SECRET}):
            self._peek(SECRET, first=True)
            self._age()
            response = self._peek(SECRET)
        issued = self._issued_sid(response)
        self.assertIn(issued, (None, self.session.sid))
        self.assertNotIn('next_sid', self.store.get(self.session.sid))

    def test_browser_request_still_rotates(self):
        with configured({contract.SECRET_OPTION: SECRET}):
            self._peek(SECRET, first=True)
            self._age()
            for secret in (None, 'wrong-secret'):
                response = self._peek(secret)
                issued = self._issued_sid(response)
                self.assertTrue(issued)
                self.assertNotEqual(issued, self.session.sid)
                self.assertEqual(issued[:42], self.session.sid[:42])
        self.assertEqual(self.store.get(self.session.sid).get('next_sid'), issued)

    def test_sidecar_follows_a_rotation_that_happened(self):
        with configured({contract.SECRET_OPTION: SECRET}):
            self._peek(SECRET, first=True)
            self._age()
            rotated = self._issued_sid(self._peek())
            # The sidecar still holds the old id: it is answered as the new session.
            response = self._peek(SECRET)
        self.assertEqual(self._issued_sid(response), rotated)

    def test_without_a_configured_secret_nothing_is_kept(self):
        with configured():
            self._peek(first=True)
            self._age()
            issued = self._issued_sid(self._peek(SECRET))
        self.assertTrue(issued)
        self.assertNotEqual(issued, self.session.sid)

    def test_info_route_names_the_feature(self):
        self.assertIn(contract.FEATURE_KEEPS_SESSION_IDS, features())
