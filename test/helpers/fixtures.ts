/**
 * Access to the recordings of real Odoo servers, committed with the project under
 * `test/fixtures/<version>/` (`odoo17`, `odoo19`; each folder's README says how it was recorded).
 * Tests read them as data; fakes of Odoo answer with these shapes. Nothing is read from outside the
 * repository, so a clean clone runs the suite as it is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Recordings committed with the project. */
export const repoFixturesDir = resolve(here, '../fixtures');

export function fixturePath(...parts: string[]): string {
  const path = resolve(repoFixturesDir, ...parts);
  if (!existsSync(path)) {
    throw new Error(
      `recording ${parts.join('/')} is not in test/fixtures (it must be committed with the tests)`,
    );
  }
  return path;
}

export function readFixture<T = unknown>(...parts: string[]): T {
  return JSON.parse(readFileSync(fixturePath(...parts), 'utf8')) as T;
}

export function readFixtureText(...parts: string[]): string {
  return readFileSync(fixturePath(...parts), 'utf8');
}
