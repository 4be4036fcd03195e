/**
 * `--check-config` as an admin runs it: the real entry point, an odoo.conf, the printed JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function checkConfig(conf: string, env: Record<string, string> = {}) {
  const path = join(mkdtempSync(join(tmpdir(), 'sidecar-conf-')), 'odoo.conf');
  writeFileSync(path, `[options]\n${conf}\n`);
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join(repoRoot, 'src/main.ts'), '--odoo-config', path, '--check-config'],
    { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
  );
  return {
    path,
    report: JSON.parse(out) as {
      config: Record<string, unknown>;
      sources: Record<string, string>;
      warnings: string[];
    },
  };
}

describe('--check-config', () => {
  it('prints typed values and the source of every value, derived ones included', () => {
    const { path, report } = checkConfig(
      'db_host = False\ndb_port = 6432\ndb_password = secret-pw\nworkers = 4\nbus_sidecar_secret = s3',
    );
    const { config, sources } = report;
    expect(config.dbPort).toBe(6432);
    expect(config.port).toBe(8072);
    expect(config.listenDbPort).toBe(6432);
    expect(config.odooConcurrency).toBe(2);
    expect(config.proxyMode).toBe(false);
    expect(config.databases).toEqual([]);
    expect(config.listenDbHost).toBe('/var/run/postgresql');
    // Unset is null, never the string "undefined"; secrets are never printed.
    expect(config.dbFilter).toBeNull();
    expect(config.workerVersion).toBeNull();
    expect(config.dbPassword).toBe('[set]');
    expect(config.secret).toBe('[set]');
    expect(JSON.stringify(report)).not.toContain('secret-pw');
    expect(Object.keys(sources).sort()).toEqual(Object.keys(config).sort());
    expect(sources.dbPort).toBe(`${path} [options] db_port`);
    expect(sources.listenDbPort).toBe(`dbPort ← ${path} [options] db_port`);
    expect(sources.listenDbHost).toBe(
      `dbHost ← default: the local Unix socket, as libpq (${path} [options] db_host = False)`,
    );
    expect(sources.port).toBe('default');
  });
});
