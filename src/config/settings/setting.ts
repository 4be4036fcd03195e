/**
 * How one setting is declared (`setting`: its zod type with default, its sources, its sentence in
 * the README) and the zod types the areas share. The areas are the other files of this directory,
 * gathered in order by `../settings.ts`.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export interface SettingSource {
  /** Environment variables, first one set wins. */
  env: readonly string[];
  /** `[options]` keys of an odoo.conf, first one set wins. */
  odoo?: readonly string[];
  /**
   * libpq's environment variable for the same thing, read as libpq reads it for Odoo: only when
   * neither the sidecar's own sources nor odoo.conf give a value.
   */
  libpq?: string;
  /** Long command-line flag without the leading dashes. */
  flag: string;
}

export const port = z.coerce.number().int().min(0).max(65535);
export const positiveInt = z.coerce.number().int().positive();
export const nonNegative = z.coerce.number().min(0);
export const bool = z.union([z.boolean(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'boolean') return value;
  const text = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  ctx.addIssue({ code: 'custom', message: `expected a boolean, got "${value}"` });
  return z.NEVER;
});
export const optionalText = z
  .string()
  .transform((v) => (v.trim() === '' ? undefined : v))
  .optional();
export const list = z
  .union([z.string(), z.array(z.string())])
  .transform((v) =>
    (Array.isArray(v) ? v : v.split(',')).map((item) => item.trim()).filter((item) => item !== ''),
  );

/** Addresses or CIDR ranges (`10.0.0.0/8`, `::1`): the reverse proxies whose headers are believed. */
export const addressList = list.superRefine((items, ctx) => {
  for (const item of items) {
    const [address = '', bits, ...rest] = item.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    const validBits =
      bits === undefined ||
      (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits && rest.length === 0);
    if (family === 0 || !validBits) {
      ctx.addIssue({ code: 'custom', message: `"${item}" is not an IP address or CIDR range` });
    }
  }
});

export function setting<T extends z.ZodType>(
  schema: T,
  source: SettingSource,
  description: string,
  /** The default as the README shows it, when the schema's own default does not tell it. */
  shownDefault?: string,
) {
  return { schema, source, description, shownDefault };
}
