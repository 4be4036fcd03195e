/**
 * Access to the recordings of real Odoo servers. Those kept in the repository
 * (`test/fixtures/<version>/`, e.g. `odoo19`) win; the others live beside the project
 * (`../shared/fixtures/`, e.g. `odoo17`). Tests read them as data; fakes of Odoo answer with these
 * shapes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Folder of the shared recordings; SHARED_DIR overrides it (CI keeps `shared` beside the clone). */
export const sharedDir = process.env.SHARED_DIR ?? resolve(here, '../../../shared');

/** Recordings committed with the project. */
export const repoFixturesDir = resolve(here, '../fixtures');

export function fixturePath(...parts: string[]): string {
  const [version] = parts;
  if (version !== undefined && existsSync(resolve(repoFixturesDir, version))) {
    return resolve(repoFixturesDir, ...parts);
  }
  return resolve(sharedDir, 'fixtures', ...parts);
}

export function readFixture<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
}

export function readFixtureText(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
