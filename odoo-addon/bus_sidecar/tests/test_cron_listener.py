# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import select
from unittest import mock

import odoo
import odoo.sql_db
from odoo.service import server
from odoo.tests.common import TransactionCase, tagged

from .. import patches, settings
from .common import configured, direct_connection_info


def innermost(function):
    while hasattr(function, '__wrapped__'):
        function = function.__wrapped__
    return function


@tagged('post_install', '-at_install', 'bus_sidecar')
class TestCronListener(TransactionCase):

    def test_direct_address(self):
        base = {'db_host': 'pgbouncer', 'db_port': 6432}
        cases = [
            ('nothing set', {}, {}, None),
            ('odoo.conf', {'imdispatcher_db_host': 'db-1', 'imdispatcher_db_port': '5432'}, {},
             ('db-1', 5432)),
            ('environment', {}, {'IMDISPATCHER_DB_HOST': 'db-2', 'IMDISPATCHER_DB_PORT': '5433'},
             ('db-2', 5433)),
            ('environment of bus_alt_connection', {},
             {'ODOO_IMDISPATCHER_DB_HOST': 'db-3', 'ODOO_IMDISPATCHER_DB_PORT': '5434'},
             ('db-3', 5434)),
            ('environment wins over odoo.conf',
             {'imdispatcher_db_host': 'db-1', 'imdispatcher_db_port': '5432'},
             {'IMDISPATCHER_DB_HOST': 'db-2'}, ('db-2', 5432)),
            ('IMDISPATCHER_* wins over ODOO_IMDISPATCHER_*', {},
             {'IMDISPATCHER_DB_HOST': 'db-2', 'ODOO_IMDISPATCHER_DB_HOST': 'db-3'},
             ('db-2', 6432)),
            ('host only: port from db_port', {'imdispatcher_db_host': 'db-1'}, {},
             ('db-1', 6432)),
            ('port only: host from db_host', {}, {'IMDISPATCHER_DB_PORT': '5432'},
             ('pgbouncer', 5432)),
            ('port only, no db_host: local socket', {'db_host': False},
             {'IMDISPATCHER_DB_PORT': '5432'}, (None, 5432)),
            ('odoo.conf False is unset', {'imdispatcher_db_host': False}, {}, None),
            ('odoo.conf text False is unset (19.0)', {'imdispatcher_db_host': 'False'}, {}, None),
            ('empty environment is unset', {}, {'IMDISPATCHER_DB_HOST': ' '}, None),
        ]
        for name, conf, environ, expected in cases:
            with self.subTest(name):
                self.assertEqual(settings.direct_address(dict(base, **conf), environ), expected)
        with self.assertRaises(ValueError):
            settings.direct_address(dict(base, imdispatcher_db_port='5432x'), {})

    def test_direct_connection_info(self):
        info = {'database': 'postgres', 'application_name': 'odoo-1', 'host': 'pgbouncer',
                'port': 6432, 'user': 'odoo', 'password': 'secret', 'sslmode': 'prefer'}
        self.assertEqual(patches.direct_connection_info(info, ('db-1', 5432)),
                         dict(info, host='db-1', port=5432))
        local = patches.direct_connection_info(info, (None, 5432))
        self.assertNotIn('host', local)
        self.assertEqual(info['host'], 'pgbouncer', 'the given info is left alone')

    def test_patched_where_odoo_opens_the_listener(self):
        self.assertTrue(hasattr(odoo.sql_db.db_connect, 'bus_sidecar_original'))
        codes = patches.cron_listener_codes()
        self.assertIn(innermost(server.WorkerCron.start).__code__, codes, 'prefork')
        self.assertIn(innermost(server.ThreadedServer.cron_thread).__code__, codes, 'threaded')

    def test_other_connections_keep_db_host_and_port(self):
        with configured(environ={'IMDISPATCHER_DB_HOST': 'direct.invalid',
                                 'IMDISPATCHER_DB_PORT': '1'}):
            dsn = odoo.sql_db.db_connect('postgres').dsn
        _db, expected = odoo.sql_db.connection_info_for('postgres')
        self.assertEqual(dsn.get('host'), expected.get('host'))
        self.assertEqual(dsn.get('port'), expected.get('port'))

    def _start_cron_worker(self):
        """Run the prefork cron worker's start() in this process, without its process set-up."""
        master = server.PreforkServer(odoo.http.root)
        worker = server.WorkerCron(master)
        self.addCleanup(worker.close)
        with mock.patch.object(server.Worker, 'start'), mock.patch.object(server.os, 'nice'):
            worker.start()
        self.addCleanup(worker.stop)
        return worker

    def _assert_listens(self, worker):
        """Odoo's own wake-up (ir.cron._notifydb, through db_host/db_port) reaches the worker."""
        connection = worker.dbcursor._cnx
        self.env['ir.cron']._notifydb()
        select.select([connection], [], [], 5)
        connection.poll()
        payloads = [notify.payload for notify in connection.notifies
                    if notify.channel == 'cron_trigger']
        self.assertIn(self.env.cr.dbname, payloads, 'the cron worker was woken up')

    def test_prefork_cron_worker_listens_directly(self):
        # The address PostgreSQL itself answers on: imdispatcher_db_* of this run if set (then a
        # pooler in transaction mode on db_host/db_port makes this test fail without the patch),
        # else db_host/db_port.
        info = direct_connection_info()
        host, port = info.get('host'), str(info.get('port') or 5432)
        ways = [
            ('odoo.conf', {'imdispatcher_db_host': host, 'imdispatcher_db_port': port}, {}),
            ('IMDISPATCHER_DB_*', {}, {'IMDISPATCHER_DB_HOST': host or '',
                                        'IMDISPATCHER_DB_PORT': port}),
            ('ODOO_IMDISPATCHER_DB_*', {}, {'ODOO_IMDISPATCHER_DB_HOST': host or '',
                                             'ODOO_IMDISPATCHER_DB_PORT': port}),
        ]
        for name, options, environ in ways:
            with self.subTest(name), configured(options, environ):
                worker = self._start_cron_worker()
                parameters = worker.dbcursor._cnx.get_dsn_parameters()
                self.assertEqual(parameters['port'], port)
                if host:
                    self.assertEqual(parameters['host'], host)
                self._assert_listens(worker)

    def test_prefork_cron_worker_without_setting(self):
        with configured():
            worker = self._start_cron_worker()
            parameters = worker.dbcursor._cnx.get_dsn_parameters()
        _db, expected = odoo.sql_db.connection_info_for('postgres')
        self.assertEqual(parameters['port'], str(expected.get('port') or 5432))
