/**
 * Access to the recordings of a real Odoo 17 that live beside the project (`../shared/fixtures`).
 * Tests read them as data; fakes of Odoo answer with these shapes.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Folder of the shared recordings; SHARED_DIR overrides it (CI keeps `shared` beside the clone). */
export const sharedDir = process.env.SHARED_DIR ?? resolve(here, '../../../shared');

export function fixturePath(...parts: string[]): string {
  return resolve(sharedDir, 'fixtures', ...parts);
}

export function readFixture<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
}

export function readFixtureText(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
