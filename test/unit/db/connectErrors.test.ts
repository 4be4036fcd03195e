import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  type ConnectTarget,
  classifyConnectError,
  FailureLog,
} from '../../../src/db/connectErrors.js';
import { createLogger } from '../../../src/observability/logger.js';

const read: ConnectTarget = {
  host: 'pgbouncer',
  port: 6432,
  user: 'odoo',
  database: 'prod',
  purpose: 'read',
};
const listen: ConnectTarget = {
  ...read,
  host: 'postgres',
  port: 5432,
  database: 'postgres',
  purpose: 'listen',
};

/** Errors as `pg` raises them, with PostgreSQL's or PgBouncer's words. */
function pgError(message: string, code?: string): Error {
  return Object.assign(new Error(message), code === undefined ? {} : { code });
}

describe('classifyConnectError', () => {
  it.each([
    [
      pgError('password authentication failed for user "odoo"', '28P01'),
      'password-failed',
      /DB_PASSWORD or db_password/,
    ],
    [
      pgError('SASL authentication failed', '08P01'),
      'password-failed',
      /DB_PASSWORD or db_password/,
    ],
    [
      pgError('SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string'),
      'password-missing',
      /DB_PASSWORD or db_password/,
    ],
    [pgError('role "ghost" does not exist', '28000'), 'role-missing', /DB_USER or db_user/],
    [
      pgError('database "prod" does not exist', '3D000'),
      'database-missing',
      /SIDECAR_DB_NAME or db_name/,
    ],
    [pgError('no such database: prod', '08P01'), 'database-missing', /\[databases\]/],
    [pgError('Peer authentication failed for user "odoo"', '28000'), 'auth-refused', /OS user/],
    [
      pgError(
        'no pg_hba.conf entry for host "10.0.0.2", user "odoo", database "prod", no encryption',
        '28000',
      ),
      'auth-refused',
      /db_sslmode to require/,
    ],
    [pgError('The server does not support SSL connections'), 'tls', /prefer/],
    [pgError('self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT'), 'tls', /PGSSLROOTCERT/],
    [
      pgError('permission denied for table bus_bus', '42501'),
      'permission',
      /GRANT SELECT ON bus_bus/,
    ],
    [pgError('relation "bus_bus" does not exist', '42P01'), 'table-missing', /db_name/],
  ])('%s is permanent, %s, and says what to set', (error, cause, fix) => {
    const failure = classifyConnectError(error, read);
    expect(failure).toMatchObject({ permanent: true, cause });
    expect(failure.fix).toMatch(fix);
  });

  it('names the notify database setting for the LISTEN connection', () => {
    const failure = classifyConnectError(
      pgError('database "postgres" does not exist', '3D000'),
      listen,
    );
    expect(failure.fix).toMatch(/SIDECAR_NOTIFY_DB or db_system/);
  });

  it('calls refused connections and restarts transient: could not connect', () => {
    const refused = classifyConnectError(
      pgError('connect ECONNREFUSED 10.0.0.1:5432', 'ECONNREFUSED'),
      listen,
    );
    expect(refused).toMatchObject({ permanent: false, cause: 'unreachable' });
    expect(refused.problem).toMatch(/^could not connect to postgres:5432/);
    const socket = classifyConnectError(
      pgError('connect ENOENT /var/run/postgresql/.s.PGSQL.5432', 'ENOENT'),
      {
        ...listen,
        host: '/var/run/postgresql',
      },
    );
    expect(socket.problem).toContain('the Unix socket /var/run/postgresql/.s.PGSQL.5432');
    expect(socket.fix).toContain('db_host = False');
    expect(
      classifyConnectError(pgError('the database system is starting up', '57P03'), read),
    ).toMatchObject({
      permanent: false,
      cause: 'server-busy',
    });
  });
});

describe('FailureLog', () => {
  it('says each cause once (error when permanent), repeats at debug, the recovery once', () => {
    const lines: Array<{ level: number; msg: string; stack?: unknown }> = [];
    const logger = createLogger(
      'debug',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    const log = new FailureLog(logger, 'LISTEN connection');
    const wrong = classifyConnectError(pgError('password authentication failed', '28P01'), listen);
    for (let i = 0; i < 5; i++) log.failed(wrong, 'could not connect');
    log.failed(
      classifyConnectError(pgError('refused', 'ECONNREFUSED'), listen),
      'could not connect',
    );
    log.recovered('connected');
    log.recovered('connected');
    const levels = lines.map((line) => line.level);
    expect(levels).toEqual([50, 20, 20, 20, 20, 40, 30]);
    expect(lines[0]?.msg).toMatch(
      /^LISTEN connection: could not connect: password authentication failed .*; set DB_PASSWORD or db_password/,
    );
    expect(JSON.stringify(lines)).not.toContain('stack');
  });
});
