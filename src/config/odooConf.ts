/**
 * Reads the `[options]` section of an Odoo configuration file (INI, as Python's ConfigParser reads
 * it), so that an admin can point the sidecar at the odoo.conf Odoo already uses.
 */
import { readFileSync } from 'node:fs';

export class OdooConfError extends Error {
  override name = 'OdooConfError';
}

/**
 * Odoo writes unset options as `False` (its `my_default` for most of them, which `--save` wrote
 * out); `odoo/sql_db.py` hands libpq only the options that are set, so `db_host = False` means
 * libpq's own default. `None` is unset to Odoo 19 too, and an empty value is as good as unset.
 */
const UNSET = new Set(['false', 'none', '']);

export interface OdooConfOptions {
  /** `[options]` that are set, by key. */
  options: Record<string, string>;
  /** Keys present but unset (`False`, `None`, empty) with their text, for messages. */
  unset: ReadonlyMap<string, string>;
}

export function parseOdooConf(text: string, origin = 'odoo.conf'): Record<string, string> {
  return readOptions(text, origin).options;
}

function readOptions(text: string, origin: string): OdooConfOptions {
  const options: Record<string, string> = {};
  let section: string | undefined;
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    if (/^\s*([#;]|$)/.test(raw)) return;
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(raw);
    if (header) {
      section = header[1]?.trim();
      lastKey = undefined;
      return;
    }
    // ConfigParser continuation lines are indented; they extend the previous value.
    if (/^\s/.test(raw) && lastKey !== undefined && section === 'options') {
      options[lastKey] = `${options[lastKey] ?? ''}\n${raw.trim()}`;
      return;
    }
    const pair = /^\s*([^=:]+?)\s*[=:]\s*(.*?)\s*$/.exec(raw);
    if (!pair) throw new OdooConfError(`${origin}:${index + 1}: cannot read "${raw.trim()}"`);
    lastKey = pair[1]?.toLowerCase();
    if (section === 'options' && lastKey !== undefined) options[lastKey] = pair[2] ?? '';
  });
  const unset = new Map<string, string>();
  for (const [key, value] of Object.entries(options)) {
    if (UNSET.has(value.trim().toLowerCase())) {
      delete options[key];
      unset.set(key, value.trim());
    }
  }
  return { options, unset };
}

export function readOdooConf(path: string): OdooConfOptions {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OdooConfError(
      `cannot read the Odoo configuration ${path}: ${(error as Error).message}`,
    );
  }
  return readOptions(text, path);
}
