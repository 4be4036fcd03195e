/**
 * Every setting of the sidecar, declared once: its key, where it can come from (odoo.conf option,
 * environment variables, command-line flag), its zod type with default, and the sentence that
 * documents it. `load.ts` merges the sources, the README's configuration table is generated from
 * this list (in this order), and a test keeps the two in step. Each area is declared in its own
 * file of `settings/`.
 */
import { z } from 'zod';
import {
  capacitySettings,
  inputLimitSettings,
  longPollingSettings,
  websocketSettings,
} from './settings/clients.js';
import { databaseSettings } from './settings/database.js';
import { adminSettings, httpSettings } from './settings/http.js';
import { odooCallSettings } from './settings/odoo.js';
import { processSettings, readerSettings } from './settings/reader.js';

export { LIBPQ_SOCKET_DIR, SSL_MODES, type SslMode } from './settings/database.js';
export type { SettingSource } from './settings/setting.js';

export const settings = {
  ...databaseSettings,
  ...httpSettings,
  ...adminSettings,
  ...odooCallSettings,
  ...websocketSettings,
  ...inputLimitSettings,
  ...capacitySettings,
  ...longPollingSettings,
  ...readerSettings,
  ...processSettings,
} as const;

export type SettingKey = keyof typeof settings;

/** Settings never shown: `--check-config` and the status page say only whether they are set. */
export const SECRET_SETTINGS: ReadonlySet<SettingKey> = new Set<SettingKey>([
  'dbPassword',
  'secret',
  'statusPassword',
]);

const shape = Object.fromEntries(Object.entries(settings).map(([key, s]) => [key, s.schema])) as {
  [K in SettingKey]: (typeof settings)[K]['schema'];
};

export const configSchema = z.object(shape).strict();

export type RawConfig = z.output<typeof configSchema>;
