/**
 * What a failed PostgreSQL (or PgBouncer) connection or read means to an admin, and what to change.
 * The LISTEN connection, the read pools and the readiness check all classify through here, so the
 * same mistake reads the same everywhere.
 *
 * Permanent causes (a wrong password, a missing database or role) do not go away by retrying; they
 * get one error line that names the setting and the fix. Transient ones (a server restarting, a
 * refused connection) get one warning. Either way the caller keeps retrying with its backoff, and
 * the same cause again is logged at debug level only (`FailureLog`).
 */
import type { Logger } from '../observability/logger.js';

export type FailureCause =
  | 'database-missing'
  | 'password-failed'
  | 'password-missing'
  | 'role-missing'
  | 'auth-refused'
  | 'tls'
  | 'permission'
  | 'table-missing'
  | 'unreachable'
  | 'server-busy'
  | 'other';

export interface ConnectFailure {
  permanent: boolean;
  cause: FailureCause;
  /** What is wrong, in one sentence. */
  problem: string;
  /** What to change, naming the setting (permanent causes, and some transient ones). */
  fix: string | undefined;
  /** The server's or the driver's own words, cut short. */
  detail: string;
}

export interface ConnectTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** Which connection: the one LISTEN (on the notify database) or the reads of `bus_bus`. */
  purpose: 'listen' | 'read';
}

interface PgLikeError {
  code?: unknown;
  message?: unknown;
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOENT',
  'EPIPE',
]);

const CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;

function hostSetting(target: ConnectTarget): string {
  return target.purpose === 'listen'
    ? 'IMDISPATCHER_DB_HOST/PORT (imdispatcher_db_host/port), else DB_HOST/DB_PORT (db_host/db_port)'
    : 'SIDECAR_READ_DB_HOST/PORT, else DB_HOST/DB_PORT (db_host/db_port)';
}

function where(target: ConnectTarget): string {
  const address = target.host.startsWith('/')
    ? `the Unix socket ${target.host}/.s.PGSQL.${target.port}`
    : `${target.host}:${target.port}`;
  return `${address} (database "${target.database}", role "${target.user}")`;
}

export function classifyConnectError(error: unknown, target: ConnectTarget): ConnectFailure {
  const { code, message } = (error ?? {}) as PgLikeError;
  const text = typeof message === 'string' ? message : String(error);
  const sqlState = typeof code === 'string' ? code : '';
  const detail = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  const at = where(target);
  const permanent = (cause: FailureCause, problem: string, fix: string): ConnectFailure => ({
    permanent: true,
    cause,
    problem,
    fix,
    detail,
  });
  const transient = (cause: FailureCause, problem: string, fix?: string): ConnectFailure => ({
    permanent: false,
    cause,
    problem,
    fix,
    detail,
  });

  if (sqlState === '3D000' || /no such database|database ".*" does not exist/i.test(text)) {
    return permanent(
      'database-missing',
      `database "${target.database}" does not exist on ${at}`,
      target.purpose === 'listen'
        ? 'set SIDECAR_NOTIFY_DB or db_system to the database Odoo sends its NOTIFYs on (Odoo: postgres)'
        : `check SIDECAR_DB_NAME or db_name (the databases served; with none, the readiness check reads SIDECAR_NOTIFY_DB or db_system), or point ${hostSetting(target)} at the server that holds it (behind PgBouncer: list it in its [databases])`,
    );
  }
  // PostgreSQL: 28P01 "password authentication failed"; PgBouncer: "SASL authentication failed".
  if (
    sqlState === '28P01' ||
    /password authentication failed|SASL authentication failed/i.test(text)
  ) {
    // PostgreSQL says the same for a role that does not exist, so as not to tell which.
    return permanent(
      'password-failed',
      `password authentication failed for role "${target.user}" on ${at} (or there is no such role)`,
      `set DB_PASSWORD or db_password to the password of role "${target.user}" (behind PgBouncer: the one in its auth_file), and DB_USER or db_user to the role Odoo uses`,
    );
  }
  if (/client password must be a string|password must be a string/i.test(text)) {
    return permanent(
      'password-missing',
      `the server asks role "${target.user}" for a password and none is given, on ${at}`,
      'set DB_PASSWORD or db_password (or PGPASSWORD, or a ~/.pgpass line)',
    );
  }
  if (/role ".*" does not exist/i.test(text)) {
    return permanent(
      'role-missing',
      `role "${target.user}" does not exist on ${at}`,
      'set DB_USER or db_user to the role Odoo uses (unset, it is the OS user, as for libpq)',
    );
  }
  if (/peer authentication failed/i.test(text)) {
    return permanent(
      'auth-refused',
      `peer authentication refused role "${target.user}" on ${at}: the OS user running the sidecar is not that role`,
      'run the sidecar as the OS user of the role (Debian: odoo), or set DB_USER/db_user to it, or DB_HOST/db_host to a TCP address with DB_PASSWORD',
    );
  }
  if (sqlState === '28000' || /pg_hba\.conf/i.test(text)) {
    return permanent(
      'auth-refused',
      `the server refuses role "${target.user}" on ${at} (pg_hba.conf)`,
      /no encryption/i.test(text)
        ? 'the server takes this role only over TLS: set DB_SSLMODE or db_sslmode to require (or prefer)'
        : `allow role "${target.user}" from the sidecar's address in pg_hba.conf`,
    );
  }
  if (/does not support SSL/i.test(text)) {
    return permanent(
      'tls',
      `${at} does not speak TLS, and dbSslMode requires it`,
      'set DB_SSLMODE or db_sslmode to prefer (TLS when offered) or disable',
    );
  }
  if (CERTIFICATE.test(sqlState) || /certificate/i.test(text)) {
    return permanent(
      'tls',
      `the TLS certificate of ${at} does not check out (${sqlState || 'certificate'})`,
      "set PGSSLROOTCERT (--db-sslrootcert) to the CA of the server's certificate, or DB_SSLMODE/db_sslmode to require (no check)",
    );
  }
  if (sqlState === '42501') {
    return permanent(
      'permission',
      `role "${target.user}" may not read bus_bus in database "${target.database}"`,
      `GRANT SELECT ON bus_bus TO "${target.user}" (and SELECT, USAGE ON SEQUENCE bus_bus_id_seq) in that database`,
    );
  }
  if (sqlState === '42P01') {
    return permanent(
      'table-missing',
      `database "${target.database}" has no bus_bus table: not an Odoo database, or its bus module is not installed`,
      'leave it out of SIDECAR_DB_NAME/db_name (or SIDECAR_DBFILTER/dbfilter)',
    );
  }
  const errno = sqlState || '';
  if (
    UNREACHABLE_CODES.has(errno) ||
    /timeout|terminated unexpectedly|Connection terminated|connect ECONN/i.test(text)
  ) {
    return transient(
      'unreachable',
      `could not connect to ${at} (${errno || detail})`,
      target.host.startsWith('/') && errno === 'ENOENT'
        ? `no PostgreSQL socket there: start PostgreSQL, or set ${hostSetting(target)} (db_host = False means the local Unix socket)`
        : `is the server up? The address comes from ${hostSetting(target)}`,
    );
  }
  if (['57P03', '57P01', '57P02', '53300', '53400'].includes(sqlState)) {
    return transient('server-busy', `${at} does not take connections now (${detail})`);
  }
  return transient('other', `${at}: ${detail}`);
}

/**
 * Logs a sequence of failures of one thing as an admin wants to read it: the first failure of a
 * kind once (an error naming the fix when permanent, a warning otherwise), the same again at debug
 * level, a change of cause once more, the recovery once.
 */
export class FailureLog {
  private lastCause: FailureCause | undefined;
  private lastProblem: string | undefined;

  constructor(
    private readonly logger: Logger,
    /** What failed, as the log line starts: "LISTEN connection", "reads of bus_bus in odoo17". */
    private readonly subject: string,
  ) {}

  get failing(): boolean {
    return this.lastCause !== undefined;
  }

  /** The last failure and its fix, while failing (readiness reports it). */
  get problem(): string | undefined {
    return this.lastProblem;
  }

  /** `verb`: "could not connect", "connection lost", "read failed"... */
  failed(failure: ConnectFailure, verb: string, extra: Record<string, unknown> = {}): void {
    const repeated = failure.cause === this.lastCause;
    this.lastCause = failure.cause;
    this.lastProblem = `${failure.problem}${failure.fix === undefined ? '' : `; ${failure.fix}`}`;
    const fields = {
      cause: failure.cause,
      ...(failure.fix === undefined ? {} : { fix: failure.fix }),
      detail: failure.detail,
      ...extra,
    };
    const line = `${this.subject}: ${verb}: ${failure.problem}${failure.fix === undefined ? '' : `; ${failure.fix}`}; retrying`;
    if (repeated) this.logger.debug(fields, line);
    else if (failure.permanent) this.logger.error(fields, line);
    else this.logger.warn(fields, line);
  }

  recovered(message: string, extra: Record<string, unknown> = {}): void {
    if (this.lastCause === undefined) return;
    this.reset();
    this.logger.info(extra, `${this.subject}: ${message}`);
  }

  /** Forgets the last cause without a line (the caller logs the recovery its own way). */
  reset(): void {
    this.lastCause = undefined;
    this.lastProblem = undefined;
  }
}
