# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import datetime
from unittest import mock

import odoo.http
from odoo import release
from odoo.tests.common import HttpCase, tagged

from .. import contract
from ..hooks import server_wide_modules
from ..controllers.main import websocket_worker_version
from .common import configured

SECRET = 'bus-sidecar-test-secret'


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestInfoRoute(HttpCase):

    def _get(self, secret=None):
        headers = {} if secret is None else {contract.SECRET_HEADER: secret}
        return self.url_open(contract.INFO_ROUTE, headers=headers)

    def _assert_info(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Content-Type'].split(';')[0], 'application/json')
        self.assertEqual(response.headers.get('Cache-Control'), 'no-store')
        info = response.json()
        self.assertEqual(set(info), {'server_version', 'server_version_info',
                                     'websocket_worker_version', 'features', 'server_time'})
        self.assertIsInstance(info['features'], list)
        self.assertEqual(info['server_version'], release.version)
        self.assertEqual(info['server_version_info'], list(release.version_info))
        self.assertEqual(info['websocket_worker_version'], websocket_worker_version())
        server_time = datetime.datetime.strptime(info['server_time'], '%Y-%m-%dT%H:%M:%S.%fZ')
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        self.assertLess(abs((now - server_time).total_seconds()), 60)
        return info

    def _assert_refused(self, response, error):
        self.assertEqual(response.status_code, 403)
        body = response.json()
        self.assertEqual(body['error'], error)
        self.assertNotIn('server_version', body)
        return body

    def test_right_secret_from_odoo_conf(self):
        with configured({contract.SECRET_OPTION: SECRET}):
            response = self._get(SECRET)
        self._assert_info(response)
        self.assertNotIn('session_id', response.headers.get('Set-Cookie', ''))

    def test_right_secret_from_environment(self):
        with configured({contract.SECRET_OPTION: 'other'}, {contract.SECRET_ENV: SECRET}):
            self._assert_info(self._get(SECRET))
            self._assert_refused(self._get('other'), 'forbidden')

    def test_wrong_secret(self):
        with configured({contract.SECRET_OPTION: SECRET}):
            self._assert_refused(self._get(SECRET + 'x'), 'forbidden')
            self._assert_refused(self._get(SECRET[:-1]), 'forbidden')
            self._assert_refused(self._get(''), 'forbidden')

    def test_missing_secret(self):
        with configured({contract.SECRET_OPTION: SECRET}):
            self._assert_refused(self._get(), 'forbidden')

    def test_secret_not_configured(self):
        with configured():
            body = self._assert_refused(self._get(SECRET), 'secret_not_configured')
        self.assertIn(contract.SECRET_OPTION, body['message'])
        self.assertIn(contract.SECRET_ENV, body['message'])

    def test_answers_without_database(self):
        if 'bus_sidecar' not in server_wide_modules():
            self.skipTest('bus_sidecar is not loaded server-wide in this run')
        if not hasattr(odoo.http, 'db_list'):
            self.skipTest('no odoo.http.db_list in this version')
        with configured({contract.SECRET_OPTION: SECRET}), \
                mock.patch.object(odoo.http, 'db_list', return_value=[]):
            self._assert_info(self._get(SECRET))
            self._assert_refused(self._get(), 'forbidden')
