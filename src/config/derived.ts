/**
 * Values that follow from others when not given: the LISTEN and read connections from `dbHost` /
 * `dbPort`, the role from the OS user (as libpq), the calls to Odoo from Odoo's `workers`. Each
 * derived value's source names what it was derived from, so `--check-config` shows the chain
 * (`listenDbHost ← dbHost ← odoo.conf db_host`).
 */
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './configError.js';
import type { Config, ConfigSources } from './load.js';
import type { RawConfig, SettingKey } from './settings.js';

/** Without Odoo's `workers` (threaded Odoo, or not known), this many calls at once. */
const DEFAULT_ODOO_CONCURRENCY = 4;

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // A uid without a passwd entry (some containers): libpq would fail too; the role must be set.
    return 'postgres';
  }
}

export function deriveConfig(
  raw: RawConfig,
  sources: ConfigSources,
  given: ReadonlySet<SettingKey>,
): { config: Config; warnings: string[] } {
  const warnings: string[] = [];
  const inherit = <K extends SettingKey>(key: K, from: SettingKey) => {
    if (!given.has(key)) sources[key] = `${from} ← ${sources[from]}`;
  };
  inherit('listenDbHost', 'dbHost');
  inherit('listenDbPort', 'dbPort');
  inherit('readDbHost', 'dbHost');
  inherit('readDbPort', 'dbPort');

  let dbFilter: RegExp | undefined;
  if (raw.dbFilter !== undefined) {
    if (/%[hd]/.test(raw.dbFilter)) {
      warnings.push(
        `dbfilter "${raw.dbFilter}" depends on the request host; the sidecar leaves that choice to Odoo`,
      );
    } else {
      try {
        dbFilter = new RegExp(raw.dbFilter);
      } catch (error) {
        throw new ConfigError(
          `invalid configuration:\n  dbFilter (${sources.dbFilter}): ${(error as Error).message}`,
        );
      }
    }
  }
  if (raw.listenDbHost === undefined && given.has('dbHost')) {
    warnings.push(
      'IMDISPATCHER_DB_HOST is not set: the LISTEN connection uses dbHost, which must then be PostgreSQL itself, not PgBouncer in transaction mode',
    );
  }

  const odooConcurrency = raw.odooConcurrency ?? defaultOdooConcurrency(raw, sources);
  const odooWorkers = raw.odooWorkers ?? 0;
  if (raw.odooConcurrency !== undefined && odooWorkers > 0) {
    const total = raw.odooConcurrency * raw.workers;
    if (total >= odooWorkers) {
      warnings.push(
        `odooConcurrency ${raw.odooConcurrency}${raw.workers > 1 ? ` × ${raw.workers} worker processes` : ''} is at or above Odoo's workers = ${odooWorkers} (${sources.odooWorkers}): a burst of subscribes can take every Odoo worker and stall the web UI; keep it below`,
      );
    }
  }

  const tlsFiles = {
    dbSslRootCert: libpqFile(raw.dbSslRootCert, 'root.crt', 'dbSslRootCert', sources),
    dbSslCert: libpqFile(raw.dbSslCert, 'postgresql.crt', 'dbSslCert', sources),
    dbSslKey: libpqFile(raw.dbSslKey, 'postgresql.key', 'dbSslKey', sources),
  };
  if (
    (raw.dbSslMode === 'verify-ca' || raw.dbSslMode === 'verify-full') &&
    tlsFiles.dbSslRootCert === undefined
  ) {
    throw new ConfigError(
      `invalid configuration:\n  dbSslMode (${sources.dbSslMode}): ${raw.dbSslMode} checks the server's certificate, and there is no CA to check it with: set PGSSLROOTCERT or --db-sslrootcert to the CA's PEM file (or \`system\`), as libpq has no ${join(homedir(), '.postgresql', 'root.crt')}`,
    );
  }

  const config: Config = {
    ...raw,
    ...tlsFiles,
    listenDbHost: raw.listenDbHost ?? raw.dbHost,
    listenDbPort: raw.listenDbPort ?? raw.dbPort,
    readDbHost: raw.readDbHost ?? raw.dbHost,
    readDbPort: raw.readDbPort ?? raw.dbPort,
    dbUser: raw.dbUser ?? osUser(),
    odooConcurrency,
    dbFilter,
  };
  return { config, warnings };
}

/**
 * Half of Odoo's prefork workers, shared by the sidecar's worker processes, at least 1: subscribes
 * and presence calls never take every worker the web UI needs.
 */
function defaultOdooConcurrency(raw: RawConfig, sources: ConfigSources): number {
  const odooWorkers = raw.odooWorkers ?? 0;
  if (odooWorkers <= 0) return DEFAULT_ODOO_CONCURRENCY;
  const value = Math.max(1, Math.floor(odooWorkers / 2 / raw.workers));
  sources.odooConcurrency = `half of odooWorkers = ${odooWorkers} ← ${sources.odooWorkers}${raw.workers > 1 ? `, over ${raw.workers} worker processes` : ''}`;
  return value;
}

/** A TLS file as libpq finds it: the one given (it must exist), else its file in ~/.postgresql. */
function libpqFile(
  given: string | undefined,
  name: string,
  key: SettingKey,
  sources: ConfigSources,
): string | undefined {
  if (given !== undefined) {
    if (given !== 'system' && !existsSync(given)) {
      throw new ConfigError(`invalid configuration:\n  ${key} (${sources[key]}): no file ${given}`);
    }
    return given;
  }
  const path = join(homedir(), '.postgresql', name);
  if (!existsSync(path)) return undefined;
  sources[key] = `default: ${path}, as libpq`;
  return path;
}
