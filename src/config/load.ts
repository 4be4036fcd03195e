/**
 * Builds the one configuration object of the process: defaults < odoo.conf `[options]` <
 * environment < command-line flags. Parsed once at start; a bad value stops start-up with a message
 * naming the setting and where its value came from.
 */
import { parseArgs } from 'node:util';
import { readOdooConf } from './odooConf.js';
import { configSchema, type RawConfig, type SettingKey, settings } from './settings.js';

export interface Config
  extends Omit<
    RawConfig,
    'listenDbHost' | 'listenDbPort' | 'readDbHost' | 'readDbPort' | 'dbFilter'
  > {
  listenDbHost: string;
  listenDbPort: number;
  readDbHost: string;
  readDbPort: number;
  /** Compiled `dbFilter`, or undefined when every database is accepted by it. */
  dbFilter: RegExp | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export interface LoadResult {
  config: Config;
  /** Where each value came from, for the start-up summary and error messages. */
  sources: Partial<Record<SettingKey, string>>;
  /** Flags that are actions rather than settings. */
  actions: { help: boolean; checkConfig: boolean };
  warnings: string[];
}

const ODOO_LOG_LEVELS: Record<string, string> = {
  debug_rpc_answer: 'debug',
  debug_rpc: 'debug',
  debug_sql: 'debug',
  notset: 'info',
  critical: 'fatal',
  warning: 'warn',
};

function flagOptions() {
  const options: Record<string, { type: 'string' | 'boolean' }> = {
    'odoo-config': { type: 'string' },
    help: { type: 'boolean' },
    'check-config': { type: 'boolean' },
  };
  for (const s of Object.values(settings)) options[s.source.flag] = { type: 'string' };
  return options;
}

export function loadConfig(options: LoadOptions = {}): LoadResult {
  const env = options.env ?? process.env;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...(options.argv ?? process.argv.slice(2))],
      options: flagOptions(),
      allowPositionals: false,
      strict: true,
    });
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (see --help)`);
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  const odooConfPath = (flags['odoo-config'] as string | undefined) ?? env.ODOO_RC;
  const odooOptions = odooConfPath ? readOdooConf(odooConfPath) : {};

  const input: Record<string, unknown> = {};
  const sources: Partial<Record<SettingKey, string>> = {};
  for (const [key, s] of Object.entries(settings) as Array<
    [SettingKey, (typeof settings)[SettingKey]]
  >) {
    const fromFlag = flags[s.source.flag];
    if (typeof fromFlag === 'string') {
      input[key] = fromFlag;
      sources[key] = `--${s.source.flag}`;
      continue;
    }
    const envName = s.source.env.find((name) => env[name] !== undefined && env[name] !== '');
    if (envName) {
      input[key] = env[envName];
      sources[key] = envName;
      continue;
    }
    const odooKey = s.source.odoo?.find((name) => odooOptions[name] !== undefined);
    if (odooKey) {
      input[key] = odooOptions[odooKey];
      sources[key] = `${odooConfPath} [options] ${odooKey}`;
    }
  }
  if (typeof input.logLevel === 'string') {
    input.logLevel = ODOO_LOG_LEVELS[input.logLevel.toLowerCase()] ?? input.logLevel.toLowerCase();
  }
  // odoo.conf knows the HTTP port of Odoo, not its URL: derive the default from it.
  if (input.odooUrl === undefined && odooOptions.http_port) {
    input.odooUrl = `http://127.0.0.1:${odooOptions.http_port}`;
    sources.odooUrl = `${odooConfPath} [options] http_port`;
  }

  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path[0] as SettingKey | undefined;
      const where = key ? (sources[key] ?? 'default') : 'configuration';
      return `  ${key ?? '?'} (${where}): ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const raw = result.data;
  const warnings: string[] = [];

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
  if (raw.statusAuth === 'secret' && raw.secret === undefined) {
    throw new ConfigError(
      `invalid configuration:\n  statusAuth (${sources.statusAuth}): "secret" needs the shared secret (secret)`,
    );
  }
  if (raw.statusAuth === 'basic' && raw.statusPassword === undefined) {
    throw new ConfigError(
      `invalid configuration:\n  statusAuth (${sources.statusAuth}): "basic" needs statusPassword`,
    );
  }
  if (raw.listenDbHost === undefined && sources.dbHost !== undefined) {
    warnings.push(
      'IMDISPATCHER_DB_HOST is not set: the LISTEN connection uses dbHost, which must then be PostgreSQL itself, not PgBouncer in transaction mode',
    );
  }

  const config: Config = Object.freeze({
    ...raw,
    listenDbHost: raw.listenDbHost ?? raw.dbHost,
    listenDbPort: raw.listenDbPort ?? raw.dbPort,
    readDbHost: raw.readDbHost ?? raw.dbHost,
    readDbPort: raw.readDbPort ?? raw.dbPort,
    dbFilter,
  });
  return {
    config,
    sources,
    actions: { help: flags.help === true, checkConfig: flags['check-config'] === true },
    warnings,
  };
}

/** Settings built for embedding and tests: defaults plus overrides, no flags, env or files read. */
export function configFrom(overrides: Partial<Record<SettingKey, unknown>>): Config {
  const argv: string[] = [];
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const s = settings[key as SettingKey];
    if (!s) throw new ConfigError(`unknown setting ${key}`);
    argv.push(`--${s.source.flag}=${Array.isArray(value) ? value.join(',') : String(value)}`);
  }
  return loadConfig({ argv, env: {} }).config;
}

/** Whether the sidecar serves Odoo database `name` (`databases` list and `dbFilter`). */
export function servesDatabase(config: Config, name: string): boolean {
  if (config.databases.length > 0 && !config.databases.includes(name)) return false;
  return config.dbFilter === undefined || config.dbFilter.test(name);
}
