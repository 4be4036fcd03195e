# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from unittest import mock

import odoo.http
import odoo.sql_db
from odoo.service import server
from odoo.tests.common import TransactionCase, tagged

from .. import patches, settings
from .common import configured


class FakeMaster(object):
    def long_polling_spawn(self):
        self.spawned = True


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestGeventSpawn(TransactionCase):

    def test_keep_gevent_setting(self):
        option, env = settings.KEEP_GEVENT_OPTION, settings.KEEP_GEVENT_ENV
        cases = [
            ('unset', {}, {}, False),
            ('odoo.conf True', {option: True}, {}, True),
            ('odoo.conf False', {option: False}, {}, False),
            ('odoo.conf yes', {option: 'yes'}, {}, True),
            ('environment 1', {}, {env: '1'}, True),
            ('environment on', {}, {env: 'ON'}, True),
            ('environment wins over odoo.conf', {option: True}, {env: 'off'}, False),
            ('empty environment is unset', {option: True}, {env: ''}, True),
        ]
        for name, conf, environ, expected in cases:
            with self.subTest(name):
                self.assertEqual(settings.keep_gevent(conf, environ), expected)
        with self.assertLogs('odoo.addons.bus_sidecar.settings', logging.WARNING):
            self.assertFalse(settings.keep_gevent({option: 'maybe'}, {}))

    def test_prefork_master_spawns_no_evented_process(self):
        if settings.keep_gevent():
            self.skipTest('%s is set in this run' % settings.KEEP_GEVENT_OPTION)
        self.assertTrue(hasattr(server.PreforkServer.long_polling_spawn, 'bus_sidecar_original'))
        master = server.PreforkServer(odoo.http.root)
        master.population = 2
        spawned = []

        def worker_spawn(klass, registry):
            registry[len(spawned)] = klass
            spawned.append(klass)

        # (19.0's process_spawn() also closes every connection before forking: not this test's.)
        with configured({'http_enable': True, 'max_cron_threads': 1}), \
                mock.patch.object(server.subprocess, 'Popen') as popen, \
                mock.patch.object(master, 'worker_spawn', side_effect=worker_spawn), \
                mock.patch.object(odoo.sql_db, 'close_all'):
            master.process_spawn()
            master.process_spawn()  # a later beat spawns nothing either
        popen.assert_not_called()
        self.assertIsNone(master.long_polling_pid)
        # the HTTP and cron workers are spawned as usual
        self.assertEqual(spawned.count(server.WorkerHTTP), 2)
        self.assertEqual(spawned.count(server.WorkerCron), 1)

    def test_what_is_disabled_is_the_evented_process(self):
        original = getattr(server.PreforkServer.long_polling_spawn, 'bus_sidecar_original', None)
        if original is None:
            self.skipTest('%s is set in this run' % settings.KEEP_GEVENT_OPTION)
        master = server.PreforkServer(odoo.http.root)
        with mock.patch.object(server.subprocess, 'Popen') as popen:
            original(master)
        command = popen.call_args[0][0]
        self.assertIn('gevent', command)

    def test_patch_follows_the_setting(self):
        patched = type('PatchedMaster', (FakeMaster,), {})
        with self.assertLogs('odoo.addons.bus_sidecar.patches', logging.INFO) as logs:
            self.assertTrue(patches.patch_gevent_spawn(patched, keep=False))
        self.assertIn('will not spawn', logs.output[0])
        master = patched()
        master.long_polling_spawn()
        self.assertFalse(hasattr(master, 'spawned'))
        wrapper = patched.long_polling_spawn
        patches.patch_gevent_spawn(patched, keep=False)
        self.assertIs(patched.long_polling_spawn, wrapper, 'patched once')

        kept = type('KeptMaster', (FakeMaster,), {})
        with self.assertLogs('odoo.addons.bus_sidecar.patches', logging.INFO) as logs:
            self.assertFalse(patches.patch_gevent_spawn(kept, keep=True))
        self.assertIn('still spawns', logs.output[0])
        master = kept()
        master.long_polling_spawn()
        self.assertTrue(master.spawned)
