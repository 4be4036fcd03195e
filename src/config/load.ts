/**
 * Builds the one configuration object of the process: defaults < libpq's environment (`PGHOST`...,
 * read as libpq reads it for Odoo) < odoo.conf `[options]` < environment < command-line flags.
 * Parsed once at start; a bad value stops start-up with a message naming the setting and where its
 * value came from. Every value's source is kept, derived ones included, for `--check-config` and
 * the start-up log.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from './configError.js';
import { deriveConfig } from './derived.js';
import { type OdooConfOptions, readOdooConf } from './odooConf.js';
import { configSchema, type RawConfig, type SettingKey, settings } from './settings.js';

export interface Config
  extends Omit<
    RawConfig,
    | 'listenDbHost'
    | 'listenDbPort'
    | 'readDbHost'
    | 'readDbPort'
    | 'dbFilter'
    | 'dbUser'
    | 'odooConcurrency'
  > {
  listenDbHost: string;
  listenDbPort: number;
  readDbHost: string;
  readDbPort: number;
  dbUser: string;
  odooConcurrency: number;
  /** Compiled `dbFilter`, or undefined when every database is accepted by it. */
  dbFilter: RegExp | undefined;
}

export { ConfigError };

export interface LoadOptions {
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

export type ConfigSources = Record<SettingKey, string>;

export interface LoadResult {
  config: Config;
  /** Where each value came from (`default`, a flag, a variable, an odoo.conf line, a derivation). */
  sources: ConfigSources;
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

/** What a default means where it is not obvious (libpq's own defaults, as Odoo gets them). */
const DEFAULT_MEANING: Partial<Record<SettingKey, string>> = {
  dbHost: 'the local Unix socket, as libpq',
  dbUser: 'the OS user, as libpq',
  dbPassword: 'none',
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

/** An odoo.conf value as Odoo reads it: `longpolling_port = 0` is Odoo's "not set". */
function odooValue(conf: OdooConfOptions, key: string): string | undefined {
  const value = conf.options[key];
  if (key === 'longpolling_port' && value?.trim() === '0') return undefined;
  return value;
}

function defaultSource(key: SettingKey, conf: OdooConfOptions, confPath: string | undefined) {
  const meaning = DEFAULT_MEANING[key];
  const base = meaning === undefined ? 'default' : `default: ${meaning}`;
  const unsetKey = settings[key].source.odoo?.find((name) => conf.unset.has(name));
  return unsetKey === undefined
    ? base
    : `${base} (${confPath} [options] ${unsetKey} = ${conf.unset.get(unsetKey) || '""'})`;
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
  const confPath = (flags['odoo-config'] as string | undefined) ?? env.ODOO_RC;
  const conf: OdooConfOptions = confPath
    ? readOdooConf(confPath)
    : { options: {}, unset: new Map() };
  const isSet = (name: string) => env[name] !== undefined && env[name] !== '';

  const input: Record<string, unknown> = {};
  const sources = {} as ConfigSources;
  const given = new Set<SettingKey>();
  for (const [key, s] of Object.entries(settings) as Array<
    [SettingKey, (typeof settings)[SettingKey]]
  >) {
    const source = s.source;
    const fromFlag = flags[source.flag];
    const envName = source.env.find(isSet);
    const odooKey = source.odoo?.find((name) => odooValue(conf, name) !== undefined);
    if (typeof fromFlag === 'string') {
      input[key] = fromFlag;
      sources[key] = `--${source.flag}`;
    } else if (envName) {
      input[key] = env[envName];
      sources[key] = envName;
    } else if (odooKey) {
      input[key] = odooValue(conf, odooKey);
      sources[key] = `${confPath} [options] ${odooKey}`;
    } else if (source.libpq !== undefined && isSet(source.libpq)) {
      input[key] = env[source.libpq];
      sources[key] = `${source.libpq} (libpq)`;
    } else {
      sources[key] = defaultSource(key, conf, confPath);
      continue;
    }
    given.add(key);
  }
  if (typeof input.logLevel === 'string') {
    input.logLevel = ODOO_LOG_LEVELS[input.logLevel.toLowerCase()] ?? input.logLevel.toLowerCase();
  }
  // odoo.conf knows the HTTP port of Odoo, not its URL: derive the default from it.
  if (input.odooUrl === undefined && conf.options.http_port) {
    input.odooUrl = `http://127.0.0.1:${conf.options.http_port}`;
    sources.odooUrl = `${confPath} [options] http_port`;
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
  const { config, warnings } = deriveConfig(result.data, sources, given);
  return {
    config: Object.freeze(config),
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
