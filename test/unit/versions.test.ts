/**
 * One version number: the sidecar's (`package.json`) is the addon manifest's, the first entry of
 * CHANGELOG.md, and what `--version` prints. The manifest keeps it without a series (Odoo adds the
 * series it runs), and the addon is an application, listed under the Apps menu's default filter.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const packageVersion = (JSON.parse(read('package.json')) as { version: string }).version;

/** The manifest, read by Python itself (it is a Python literal, not JSON). */
function manifest(): Record<string, unknown> {
  const run = spawnSync(
    process.env.PYTHON ?? 'python3',
    [
      '-c',
      'import ast, json, sys; print(json.dumps(ast.literal_eval(open(sys.argv[1]).read())))',
      join(root, 'odoo-addon/bus_sidecar/__manifest__.py'),
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`cannot read the manifest: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

describe('the version', () => {
  it('is the same in package.json, the addon manifest, the changelog and the code', () => {
    expect(packageVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(VERSION).toBe(packageVersion);
    expect(manifest().version).toBe(packageVersion);
    const released = /^## \[(\d+\.\d+\.\d+)\]/m.exec(read('CHANGELOG.md'));
    expect(released?.[1]).toBe(packageVersion);
  });

  it('is printed by --version, without any configuration', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', '--version'], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect({ status: run.status, stdout: run.stdout }).toEqual({
      status: 0,
      stdout: `odoo-bus-sidecar ${packageVersion}\n`,
    });
  });
});

describe('the addon manifest', () => {
  it('leaves the series to Odoo, which adds the one it runs (x.y.z, at most three numbers)', () => {
    expect(String(manifest().version).split('.')).toHaveLength(3);
  });

  it('is an application, so that the Apps menu lists it under its default filter', () => {
    expect(manifest()).toMatchObject({ application: true, installable: true, license: 'LGPL-3' });
  });
});

describe('the licence', () => {
  it('is the LGPL-3.0 the package declares, with the GPL-3.0 it builds on', () => {
    expect((JSON.parse(read('package.json')) as { license: string }).license).toBe(
      'LGPL-3.0-or-later',
    );
    expect(read('LICENSE')).toMatch(
      /^\s*GNU LESSER GENERAL PUBLIC LICENSE\s+Version 3, 29 June 2007/,
    );
    expect(read('COPYING')).toMatch(/^\s*GNU GENERAL PUBLIC LICENSE\s+Version 3, 29 June 2007/);
  });
});
