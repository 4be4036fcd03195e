/**
 * The configuration as an admin reads it: `--check-config` prints every value typed (numbers as
 * numbers, unset as null) beside where it came from, and the start-up log names the sources of the
 * values that decide where the sidecar listens and connects. Secrets are never printed.
 */
import type { ConfigSources, LoadResult } from './load.js';
import { type SettingKey, settings } from './settings.js';

type Shown = string | number | boolean | null | readonly string[];

const SECRETS = new Set<string>(['dbPassword', 'secret']);

function shown(key: string, value: unknown): Shown {
  if (value === undefined || value === null) return null;
  if (SECRETS.has(key)) return '[set]';
  if (value instanceof RegExp) return value.source;
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string')
    return value;
  return String(value);
}

export interface ConfigReport {
  config: Record<string, Shown>;
  sources: ConfigSources;
  warnings: string[];
}

export function configReport(loaded: LoadResult): ConfigReport {
  const values = loaded.config as unknown as Record<string, unknown>;
  const config = Object.fromEntries(
    Object.keys(settings).map((key) => [key, shown(key, values[key])]),
  );
  return { config, sources: loaded.sources, warnings: loaded.warnings };
}

/** The values that decide where the sidecar listens and what it trusts, each with its source. */
const STARTUP_KEYS: readonly SettingKey[] = [
  'host',
  'port',
  'listenDbHost',
  'listenDbPort',
  'readDbHost',
  'readDbPort',
  'dbUser',
  'dbSslMode',
  'odooUrl',
  'proxyMode',
  'trustedProxies',
  'odooConcurrency',
  'secret',
];

/** One log object: `{ port: { value: 8072, from: "/etc/odoo/odoo.conf [options] gevent_port" } ...}`. */
export function startupSummary(loaded: LoadResult): Record<string, { value: Shown; from: string }> {
  const config = loaded.config as unknown as Record<string, unknown>;
  return Object.fromEntries(
    STARTUP_KEYS.map((key) => [key, { value: shown(key, config[key]), from: loaded.sources[key] }]),
  );
}
