/**
 * Reads the `[options]` section of an Odoo configuration file (INI, as Python's ConfigParser reads
 * it), so that an admin can point the sidecar at the odoo.conf Odoo already uses.
 */
import { readFileSync } from 'node:fs';

export class OdooConfError extends Error {
  override name = 'OdooConfError';
}

/** Odoo writes unset options as `False`; ConfigParser semantics make those "not set" here. */
const UNSET = new Set(['false', 'none', '']);

export function parseOdooConf(text: string, origin = 'odoo.conf'): Record<string, string> {
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
  for (const [key, value] of Object.entries(options)) {
    if (UNSET.has(value.trim().toLowerCase())) delete options[key];
  }
  return options;
}

export function readOdooConf(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OdooConfError(
      `cannot read the Odoo configuration ${path}: ${(error as Error).message}`,
    );
  }
  return parseOdooConf(text, path);
}
