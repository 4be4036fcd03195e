# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib
import json
import logging
import os
import threading
from unittest import mock

import odoo
from odoo.tests.common import HttpCase, TransactionCase, new_test_user, tagged

from .. import contract, patches, revocation
from .common import listening

PASSWORD = 'bus-sidecar-test-password'


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestRevocation(HttpCase):

    def setUp(self):
        super().setUp()
        self.user = new_test_user(self.env, login='bus_sidecar_user', password=PASSWORD)
        self.other = new_test_user(self.env, login='bus_sidecar_other', password=PASSWORD)
        self.db = self.env.cr.dbname
        # Creating a user with a password announces its partner when committed: not under test.
        self.env.cr.postcommit.clear()

    def _ours(self, payload):
        # Other Odoo servers may share this PostgreSQL cluster, and so the channel.
        return payload['db'] == self.db

    def _json_rpc(self, route, params=None):
        return self.url_open(route, data=json.dumps({
            'jsonrpc': '2.0', 'method': 'call', 'id': 1, 'params': params or {},
        }), headers={'Content-Type': 'application/json'})

    def _assert_session_revoked(self, end_session):
        """Log in, end the session with ``end_session()``, return the payload that named it."""
        self.authenticate(self.user.login, PASSWORD)
        sid = self.session.sid
        expected = contract.session_hash(sid)
        store = odoo.http.root.session_store
        existed_when_sent = []
        send = revocation.send

        def checked_send(*args, **kwargs):
            existed_when_sent.append(os.path.exists(store.get_session_filename(sid)))
            return send(*args, **kwargs)

        with listening() as listener, \
                self.assertLogs('odoo.addons.bus_sidecar', logging.DEBUG) as logs, \
                mock.patch.object(revocation, 'send', side_effect=checked_send):
            end_session()
            payload = listener.wait_for(lambda p: expected in p['sessions'])
        self.assertEqual(payload, {'db': self.db, 'sessions': [expected], 'partners': []})
        self.assertEqual(existed_when_sent, [False], 'sent once, after the session was deleted')
        for text in listener.received:
            self.assertNotIn(sid, text)
        for line in logs.output:
            self.assertNotIn(sid, line)
        return payload

    def test_logout(self):
        def logout():
            response = self.url_open('/web/session/logout', allow_redirects=False)
            self.assertEqual(response.status_code, 303)
        self._assert_session_revoked(logout)

    def test_destroy(self):
        def destroy():
            response = self._json_rpc('/web/session/destroy')
            self.assertEqual(response.status_code, 200)
            self.assertNotIn('error', response.json())
        self._assert_session_revoked(destroy)

    def test_new_session_is_not_announced(self):
        store = odoo.http.root.session_store
        session = store.new()
        with listening() as listener:
            store.delete(session)
            self.assertEqual([p for p in listener.all() if self._ours(p)], [])

    def test_password_change(self):
        partner = self.user.partner_id.id
        with listening() as listener:
            self.user.with_user(self.user).change_password(PASSWORD, PASSWORD + '-2')
            self.assertEqual([p for p in listener.all() if self._ours(p)], [],
                             'nothing before the commit')
            self.env.cr.postcommit.run()  # what a commit does; the test transaction never commits
            payload = listener.wait_for(lambda p: partner in p['partners'])
        self.assertEqual(payload, {'db': self.db, 'sessions': [], 'partners': [partner]})

    def test_one_announcement_per_transaction(self):
        partners = sorted([self.user.partner_id.id, self.other.partner_id.id])
        with listening() as listener:
            self.user.password = PASSWORD + '-2'
            self.other.write({'password': PASSWORD + '-2'})
            self.user.write({'active': False})
            self.env.cr.postcommit.run()
            listener.wait_for(self._ours)
            ours = [payload for payload in listener.all() if self._ours(payload)]
        self.assertEqual(ours, [{'db': self.db, 'sessions': [], 'partners': partners}])

    def test_user_deletion(self):
        partner = self.other.partner_id.id
        with listening() as listener:
            self.other.unlink()
            self.env.cr.postcommit.run()
            payload = listener.wait_for(self._ours)
        self.assertEqual(payload, {'db': self.db, 'sessions': [], 'partners': [partner]})

    def test_other_changes_are_not_announced(self):
        with listening() as listener:
            self.user.write({'name': 'Renamed', 'tz': 'Europe/Brussels'})
            self.env.cr.postcommit.run()
            self.assertEqual([p for p in listener.all() if self._ours(p)], [])

    def test_device_revocation(self):
        if 'res.device' not in self.env:
            self.skipTest('no res.device before 18.0')
        identifier = 'A' * contract.SESSION_HASH_PREFIX_LENGTH
        store = odoo.http.root.session_store
        with listening() as listener, \
                mock.patch.object(threading.current_thread(), 'dbname', self.db, create=True):
            store.delete_from_identifiers([identifier])
            payload = listener.wait_for(self._ours)
        self.assertEqual(payload['sessions'], [contract.session_hash(identifier)])


class FakeStore(object):
    """A session store with the methods 19.0's has, recording what it deleted."""

    def __init__(self):
        self.deleted = []

    def delete(self, session):
        self.deleted.append(session.sid)

    def delete_from_identifiers(self, identifiers):
        self.deleted.extend(identifiers)

    def delete_old_sessions(self, session):
        self.delete_from_identifiers([session.sid[:contract.SESSION_HASH_PREFIX_LENGTH]])


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestRevocationUnits(TransactionCase):

    def test_session_store_patch(self):
        store_cls = type('Store', (FakeStore,), {})
        self.assertTrue(patches.patch_session_store(store_cls))
        store = store_cls()
        session = mock.Mock(sid='s' * 84, db='db1', is_new=False)
        with mock.patch.object(revocation, 'send_sessions') as send_sessions:
            store.delete(session)
            send_sessions.assert_called_once_with('db1', ['s' * 84])
            send_sessions.reset_mock()
            store.delete(mock.Mock(sid='n' * 84, db='db1', is_new=True))
            send_sessions.assert_not_called()
            with mock.patch.object(threading.current_thread(), 'dbname', 'db2', create=True):
                store.delete_from_identifiers(['i' * 42])
                send_sessions.assert_called_once_with('db2', ['i' * 42])
                send_sessions.reset_mock()
                store.delete_old_sessions(session)  # 19.0: the session lives on
                send_sessions.assert_not_called()
        self.assertEqual(store.deleted, ['s' * 84, 'n' * 84, 'i' * 42, 's' * 42])
        wrapped = store_cls.delete
        patches.patch_session_store(store_cls)
        self.assertIs(store_cls.delete, wrapped, 'patched once')

    def test_payloads_fit_in_a_notify(self):
        sessions = [contract.session_hash(str(n)) for n in range(300)]
        partners = list(range(1, 3000))
        payloads = revocation.payloads('db', sessions, partners)
        self.assertGreater(len(payloads), 1)
        decoded = [json.loads(payload) for payload in payloads]
        for payload, body in zip(payloads, decoded):
            self.assertLess(len(payload.encode('utf-8')), revocation.PAYLOAD_LIMIT)
            self.assertEqual(body['db'], 'db')
        self.assertEqual([s for body in decoded for s in body['sessions']], sessions)
        self.assertEqual([p for body in decoded for p in body['partners']], partners)

    def test_session_hash(self):
        sid40, sid84 = 'a' * 40, 'b' * 84
        self.assertEqual(contract.session_hash(sid40), hashlib.sha256(sid40.encode()).hexdigest())
        self.assertEqual(contract.session_hash(sid84),
                         hashlib.sha256(sid84[:42].encode()).hexdigest())
