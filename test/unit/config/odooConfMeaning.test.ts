/**
 * An odoo.conf means to the sidecar what it means to Odoo (`odoo/tools/config.py`, and
 * `odoo/sql_db.py`'s `connection_info_for`, which hands libpq only the options that are set).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';

function odooConf(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sidecar-conf-')), 'odoo.conf');
  writeFileSync(path, `[options]\n${text}\n`);
  return path;
}

function load(conf: string, env: NodeJS.ProcessEnv = {}, argv: string[] = []) {
  const path = odooConf(conf);
  return { path, ...loadConfig({ argv: ['--odoo-config', path, ...argv], env }) };
}

describe("Debian's packaged odoo.conf (db_host = False, db_port = False, db_password = False)", () => {
  const debian = 'db_host = False\ndb_port = False\ndb_user = odoo\ndb_password = False';

  it('connects as libpq does for Odoo: the local Unix socket, port 5432, no password', () => {
    const { config, sources, path } = load(debian);
    expect(config.dbHost).toBe('/var/run/postgresql');
    expect(config.dbPort).toBe(5432);
    expect(config.dbPassword).toBeUndefined();
    expect(config.listenDbHost).toBe('/var/run/postgresql');
    expect(config.readDbHost).toBe('/var/run/postgresql');
    expect(sources.dbHost).toBe(
      `default: the local Unix socket, as libpq (${path} [options] db_host = False)`,
    );
    expect(sources.listenDbHost).toBe(`dbHost ← ${sources.dbHost}`);
  });

  it("takes libpq's environment (PGHOST, PGPORT, PGUSER) where odoo.conf sets nothing", () => {
    const { config, sources } = load('db_host = False\ndb_port = False', {
      PGHOST: '/run/pg',
      PGPORT: '5433',
      PGUSER: 'erp',
    });
    expect(config.dbHost).toBe('/run/pg');
    expect(config.dbPort).toBe(5433);
    expect(config.dbUser).toBe('erp');
    expect(sources.dbHost).toBe('PGHOST (libpq)');
    // odoo.conf wins over libpq's environment, as in Odoo, which hands libpq what it sets.
    expect(load('db_host = pg.internal', { PGHOST: '/run/pg' }).config.dbHost).toBe('pg.internal');
  });

  it('without db_user (or PGUSER) the role is the OS user, as for peer authentication', () => {
    const { config, sources } = load('db_host = False');
    expect(config.dbUser).toBe(userInfo().username);
    expect(sources.dbUser).toMatch(/^default: the OS user/);
  });
});

describe('db_sslmode', () => {
  it("is Odoo's default `prefer`, and read from odoo.conf or PGSSLMODE", () => {
    expect(load('').config.dbSslMode).toBe('prefer');
    const ca = odooConf(''); // any existing file stands for the CA here
    expect(load('db_sslmode = verify-full', { PGSSLROOTCERT: ca }).config.dbSslMode).toBe(
      'verify-full',
    );
    // libpq refuses to check a certificate without a CA, and so does the sidecar, at start.
    expect(() => load('db_sslmode = verify-full')).toThrow(/dbSslMode .*PGSSLROOTCERT/);
    expect(load('', { PGSSLMODE: 'require' }).config.dbSslMode).toBe('require');
    expect(() => load('db_sslmode = sometimes')).toThrow(/dbSslMode/);
  });
});

describe('proxy_mode', () => {
  it('is off unless odoo.conf or the setting turns it on, as in Odoo', () => {
    expect(loadConfig({ argv: [], env: {} }).config.proxyMode).toBe(false);
    expect(load('').config.proxyMode).toBe(false);
    const on = load('proxy_mode = True');
    expect(on.config.proxyMode).toBe(true);
    expect(on.sources.proxyMode).toBe(`${on.path} [options] proxy_mode`);
    expect(loadConfig({ argv: [], env: {} }).config.trustedProxies).toEqual(['127.0.0.0/8', '::1']);
  });
});

describe('workers', () => {
  it("keeps the calls to Odoo below Odoo's prefork workers", () => {
    const { config, sources, warnings } = load('workers = 4');
    expect(config.odooWorkers).toBe(4);
    expect(config.odooConcurrency).toBe(2);
    expect(sources.odooConcurrency).toMatch(/odooWorkers/);
    expect(warnings).toEqual([]);
    expect(load('workers = 2').config.odooConcurrency).toBe(1);
    expect(load('workers = 0').config.odooConcurrency).toBe(4);
  });

  it('warns when odooConcurrency is set at or above them', () => {
    const { config, warnings } = load('workers = 2', { SIDECAR_ODOO_CONCURRENCY: '2' });
    expect(config.odooConcurrency).toBe(2);
    expect(warnings.join('\n')).toMatch(/odooConcurrency.*2.*workers.*2/);
  });
});

describe('gevent_port', () => {
  it('is the listen port only when no --port is given; the source says which', () => {
    const fromConf = load('gevent_port = 9072');
    expect(fromConf.config.port).toBe(9072);
    expect(fromConf.sources.port).toBe(`${fromConf.path} [options] gevent_port`);
    const fromFlag = load('gevent_port = 9072', {}, ['--port', '9100']);
    expect(fromFlag.config.port).toBe(9100);
    expect(fromFlag.sources.port).toBe('--port');
    // Odoo's deprecated alias, 0 meaning unset.
    expect(load('longpolling_port = 0\ngevent_port = 9072').config.port).toBe(9072);
    expect(load('longpolling_port = 9073\ngevent_port = 9072').config.port).toBe(9073);
  });
});
