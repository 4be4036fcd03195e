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
from .common import listening, shared_secret

PASSWORD = 'bus-sidecar-test-password'
SECRET = 'bus-sidecar-test-secret'


def signed(db, sessions=(), partners=()):
    """The payload the addon sends for these names, signed with ``SECRET``."""
    sessions, partners = list(sessions), list(partners)
    return {'db': db, 'sessions': sessions, 'partners': partners,
            'sig': contract.revocation_signature(SECRET, db, sessions, partners)}


def pending(registry):
    """Whether this thread invalidated caches that Odoo has not signalled to its workers yet."""
    return bool(registry.registry_invalidated or registry.cache_invalidated)


def clear_invalidation_flags(registry):
    """Forget this thread's pending invalidations (16.0: booleans; 17.0+: a set of names)."""
    registry.registry_invalidated = False
    if isinstance(registry.cache_invalidated, set):
        registry.cache_invalidated.clear()
    else:
        registry.cache_invalidated = False


def with_secret(case, secret=SECRET):
    """Run the rest of ``case`` with ``secret`` as the only addon setting."""
    settings_patch = shared_secret(secret)
    settings_patch.__enter__()
    case.addCleanup(settings_patch.__exit__, None, None, None)


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestRevocation(HttpCase):

    def setUp(self):
        super().setUp()
        self.user = new_test_user(self.env, login='bus_sidecar_user', password=PASSWORD)
        self.other = new_test_user(self.env, login='bus_sidecar_other', password=PASSWORD)
        self.db = self.env.cr.dbname
        # Creating a user with a password announces its partner when committed: not under test.
        self.env.cr.postcommit.clear()
        with_secret(self)

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
        self.assertEqual(payload, signed(self.db, sessions=[expected]))
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
        self.assertEqual(payload, signed(self.db, partners=[partner]))

    def test_partners_announced_once_the_invalidation_is_signalled(self):
        # Each HTTP worker caches session tokens; another worker drops its cached ones only
        # when Odoo signals the invalidation. A NOTIFY sent before that signal makes the
        # sidecar's re-check reach a worker that still calls the old session valid.
        registry = self.env.registry
        events = []
        signal_changes = registry.signal_changes
        send = revocation.send

        def recorded_signal():
            events.append(('signal', pending(registry)))
            return signal_changes()

        def recorded_send(*args, **kwargs):
            events.append(('send', pending(registry)))
            return send(*args, **kwargs)

        clear_invalidation_flags(registry)
        with mock.patch.object(registry, 'signal_changes', side_effect=recorded_signal), \
                mock.patch.object(revocation, 'send', side_effect=recorded_send), \
                listening() as listener:
            self.user.with_user(self.user).change_password(PASSWORD, PASSWORD + '-2')
            self.assertTrue(pending(registry), 'the password change invalidated the session tokens')
            self.env.cr.postcommit.run()
            listener.wait_for(lambda p: self.user.partner_id.id in p['partners'])
        self.assertEqual(events, [('signal', True), ('send', False)])

    def test_rehash_invalidates_cached_session_tokens(self):
        # A login that upgrades an outdated hash writes the password without write(), which
        # is what invalidates the caches otherwise.
        registry = self.env.registry
        clear_invalidation_flags(registry)
        new_hash = self.user._crypt_context().hash(PASSWORD)
        with listening() as listener:
            self.env['res.users']._set_encrypted_password(self.user.id, new_hash)
            self.assertTrue(pending(registry))
            self.env.cr.postcommit.run()
            payload = listener.wait_for(lambda p: self.user.partner_id.id in p['partners'])
        self.assertEqual(payload, signed(self.db, partners=[self.user.partner_id.id]))
        self.assertFalse(pending(registry), 'signalled before sending')

    def test_one_announcement_per_transaction(self):
        partners = sorted([self.user.partner_id.id, self.other.partner_id.id])
        with listening() as listener:
            self.user.password = PASSWORD + '-2'
            self.other.write({'password': PASSWORD + '-2'})
            self.user.write({'active': False})
            self.env.cr.postcommit.run()
            listener.wait_for(self._ours)
            ours = [payload for payload in listener.all() if self._ours(payload)]
        self.assertEqual(ours, [signed(self.db, partners=partners)])

    def test_user_deletion(self):
        partner = self.other.partner_id.id
        with listening() as listener:
            self.other.unlink()
            self.env.cr.postcommit.run()
            payload = listener.wait_for(self._ours)
        self.assertEqual(payload, signed(self.db, partners=[partner]))

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
        payloads = revocation.payloads('db', sessions, partners, secret=SECRET)
        self.assertGreater(len(payloads), 1)
        decoded = [json.loads(payload) for payload in payloads]
        for payload, body in zip(payloads, decoded):
            self.assertLess(len(payload.encode('utf-8')), revocation.PAYLOAD_LIMIT)
            self.assertEqual(body, signed('db', body['sessions'], body['partners']))
        self.assertEqual([s for body in decoded for s in body['sessions']], sessions)
        self.assertEqual([p for body in decoded for p in body['partners']], partners)

    def test_payloads_are_signed_with_the_secret_only(self):
        with_secret_payloads = revocation.payloads('db', ['h'], [7], secret=SECRET)
        self.assertEqual([json.loads(p) for p in with_secret_payloads], [signed('db', ['h'], [7])])
        self.assertEqual([json.loads(p) for p in revocation.payloads('db', ['h'], [7])],
                         [{'db': 'db', 'sessions': ['h'], 'partners': [7]}])

    def test_send_signs_with_the_configured_secret(self):
        db = self.env.cr.dbname
        for secret, expected in ((SECRET, signed(db, partners=[1])),
                                 (None, {'db': db, 'sessions': [], 'partners': [1]})):
            with shared_secret(secret), listening() as listener:
                revocation.send(db, partners=[1])
                payload = listener.wait_for(lambda p: p['db'] == db)
            self.assertEqual(payload, expected)

    def test_signal_invalidations(self):
        registry = mock.Mock(registry_invalidated=False, cache_invalidated=set(), ready=True)
        revocation.signal_invalidations(registry)
        registry.signal_changes.assert_not_called()
        registry.cache_invalidated = {'default'}
        revocation.signal_invalidations(registry)
        registry.signal_changes.assert_called_once_with()
        registry.ready = False  # being loaded: left to Odoo
        revocation.signal_invalidations(registry)
        registry.signal_changes.assert_called_once_with()
        failing = mock.Mock(registry_invalidated=True, cache_invalidated=False, ready=True)
        failing.signal_changes.side_effect = RuntimeError('no connection')
        with self.assertLogs('odoo.addons.bus_sidecar', logging.WARNING):
            revocation.signal_invalidations(failing)

    def test_session_hash(self):
        sid40, sid84 = 'a' * 40, 'b' * 84
        self.assertEqual(contract.session_hash(sid40), hashlib.sha256(sid40.encode()).hexdigest())
        self.assertEqual(contract.session_hash(sid84),
                         hashlib.sha256(sid84[:42].encode()).hexdigest())
