/**
 * Settings of PostgreSQL: where Odoo's databases are, the LISTEN connection, the reads, which
 * databases are served.
 */
import { z } from 'zod';
import { list, optionalText, port, positiveInt, setting } from './setting.js';

export const SSL_MODES = [
  'disable',
  'allow',
  'prefer',
  'require',
  'verify-ca',
  'verify-full',
] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** libpq's default socket directory in Debian's build, the one Debian's packaged Odoo uses. */
export const LIBPQ_SOCKET_DIR = '/var/run/postgresql';

/** PostgreSQL: hosts, roles, TLS, and which databases are served. */
export const databaseSettings = {
  dbHost: setting(
    z.string().min(1).default(LIBPQ_SOCKET_DIR),
    { env: ['DB_HOST'], odoo: ['db_host'], libpq: 'PGHOST', flag: 'db-host' },
    "PostgreSQL host of Odoo's databases (often PgBouncer). A path is a Unix socket directory. Unset (or `False`, as in Debian's packaged odoo.conf): the local Unix socket, as libpq connects Odoo (peer authentication works).",
  ),
  dbPort: setting(
    port.default(5432),
    { env: ['DB_PORT'], odoo: ['db_port'], libpq: 'PGPORT', flag: 'db-port' },
    'PostgreSQL port matching `dbHost`.',
  ),
  dbUser: setting(
    optionalText,
    { env: ['DB_USER'], odoo: ['db_user'], libpq: 'PGUSER', flag: 'db-user' },
    'PostgreSQL role; it needs SELECT on `bus_bus` and its sequence, nothing more.',
    'the OS user',
  ),
  dbPassword: setting(
    optionalText,
    { env: ['DB_PASSWORD'], odoo: ['db_password'], libpq: 'PGPASSWORD', flag: 'db-password' },
    'PostgreSQL password. Unset (or `False`): none, then `~/.pgpass` as libpq.',
  ),
  dbSslMode: setting(
    z.enum(SSL_MODES).default('prefer'),
    { env: ['DB_SSLMODE'], odoo: ['db_sslmode'], libpq: 'PGSSLMODE', flag: 'db-sslmode' },
    "TLS to PostgreSQL and PgBouncer, libpq's modes as Odoo passes them: `prefer` (Odoo's default) uses TLS when the server offers it, `require` insists without checking the certificate (unless `dbSslRootCert` is given), `verify-ca` checks it against `dbSslRootCert`, `verify-full` also checks the host name. Never over a Unix socket.",
  ),
  dbSslRootCert: setting(
    optionalText,
    { env: [], libpq: 'PGSSLROOTCERT', flag: 'db-sslrootcert' },
    "CA certificates (PEM file) the server's certificate must chain to; `system` for the system's CAs. Default `~/.postgresql/root.crt` when it exists, as libpq.",
  ),
  dbSslCert: setting(
    optionalText,
    { env: [], libpq: 'PGSSLCERT', flag: 'db-sslcert' },
    'Client certificate (PEM file) for certificate authentication. Default `~/.postgresql/postgresql.crt` when it exists.',
  ),
  dbSslKey: setting(
    optionalText,
    { env: [], libpq: 'PGSSLKEY', flag: 'db-sslkey' },
    'Key of `dbSslCert`. Default `~/.postgresql/postgresql.key` when it exists.',
  ),
  listenDbHost: setting(
    optionalText,
    {
      env: ['IMDISPATCHER_DB_HOST', 'ODOO_IMDISPATCHER_DB_HOST'],
      odoo: ['imdispatcher_db_host'],
      flag: 'imdispatcher-db-host',
    },
    'Host for the one LISTEN connection. Must reach PostgreSQL directly, never PgBouncer in transaction mode. Defaults to `dbHost`.',
  ),
  listenDbPort: setting(
    port.optional(),
    {
      env: ['IMDISPATCHER_DB_PORT', 'ODOO_IMDISPATCHER_DB_PORT'],
      odoo: ['imdispatcher_db_port'],
      flag: 'imdispatcher-db-port',
    },
    'Port for the LISTEN connection. Defaults to `dbPort`.',
  ),
  readDbHost: setting(
    optionalText,
    { env: ['SIDECAR_READ_DB_HOST'], flag: 'read-db-host' },
    'Host for the batched reads of `bus_bus` (PgBouncer is fine). Defaults to `dbHost`.',
  ),
  readDbPort: setting(
    port.optional(),
    { env: ['SIDECAR_READ_DB_PORT'], flag: 'read-db-port' },
    'Port for the reads of `bus_bus`. Defaults to `dbPort`.',
  ),
  readPoolSize: setting(
    positiveInt.max(20).default(2),
    { env: ['SIDECAR_READ_POOL_SIZE'], flag: 'read-pool-size' },
    'Connections kept per Odoo database for reading `bus_bus`.',
  ),
  notifyDatabase: setting(
    z.string().min(1).default('postgres'),
    { env: ['SIDECAR_NOTIFY_DB'], odoo: ['db_system'], flag: 'notify-db' },
    'Database on which Odoo sends `NOTIFY imbus` (Odoo always uses `postgres`).',
  ),
  databases: setting(
    list.default([]),
    { env: ['SIDECAR_DB_NAME'], odoo: ['db_name'], flag: 'db-name' },
    'Comma-separated Odoo databases this sidecar serves; empty serves any.',
  ),
  dbFilter: setting(
    optionalText,
    { env: ['SIDECAR_DBFILTER'], odoo: ['dbfilter'], flag: 'dbfilter' },
    "Regular expression the served databases must match, as Odoo's `dbfilter` (`%h`/`%d` forms are left to Odoo).",
  ),
} as const;
