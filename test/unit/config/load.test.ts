import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, servesDatabase } from '../../../src/config/load.js';
import { parseOdooConf } from '../../../src/config/odooConf.js';

function odooConf(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sidecar-conf-')), 'odoo.conf');
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('has defaults that need nothing but a local PostgreSQL', () => {
    const { config } = loadConfig({ argv: [], env: {} });
    expect(config.port).toBe(8072);
    expect(config.notifyDatabase).toBe('postgres');
    expect(config.listenDbHost).toBe('/var/run/postgresql');
    expect(config.odooUrl).toBe('http://127.0.0.1:8069');
  });

  it('reads odoo.conf, lets the environment override it and flags override both', () => {
    const path = odooConf(
      '[options]\ndb_host = pgbouncer\ndb_port = 6432\ndb_user = odoo\nimdispatcher_db_host = postgres\ngevent_port = 9072\nhttp_port = 8069\ndb_name = False\n',
    );
    const { config, sources } = loadConfig({
      argv: ['--odoo-config', path, '--port', '9100'],
      env: { IMDISPATCHER_DB_PORT: '5433' },
    });
    expect(config.dbHost).toBe('pgbouncer');
    expect(config.readDbPort).toBe(6432);
    expect(config.listenDbHost).toBe('postgres');
    expect(config.listenDbPort).toBe(5433);
    expect(config.port).toBe(9100);
    expect(config.databases).toEqual([]);
    expect(sources.listenDbPort).toBe('IMDISPATCHER_DB_PORT');
    expect(sources.port).toBe('--port');
  });

  it('accepts the OCA spelling ODOO_IMDISPATCHER_DB_HOST/PORT', () => {
    const { config } = loadConfig({
      argv: [],
      env: {
        DB_HOST: 'pgbouncer',
        ODOO_IMDISPATCHER_DB_HOST: 'pg',
        ODOO_IMDISPATCHER_DB_PORT: '5434',
      },
    });
    expect(config.listenDbHost).toBe('pg');
    expect(config.listenDbPort).toBe(5434);
    expect(config.readDbHost).toBe('pgbouncer');
  });

  it('stops with a message naming the setting and its source', () => {
    expect(() => loadConfig({ argv: [], env: { SIDECAR_PORT: 'eighty' } })).toThrow(
      /port \(SIDECAR_PORT\)/,
    );
    expect(() => loadConfig({ argv: [], env: { SIDECAR_CROSS_ORIGIN: 'maybe' } })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ argv: ['--no-such-flag'], env: {} })).toThrow(ConfigError);
  });

  it('filters served databases by name list and dbfilter', () => {
    const { config } = loadConfig({ argv: ['--dbfilter', '^prod_'], env: {} });
    expect(servesDatabase(config, 'prod_a')).toBe(true);
    expect(servesDatabase(config, 'test')).toBe(false);
    const hostBased = loadConfig({ argv: ['--dbfilter', '^%d$'], env: {} });
    expect(servesDatabase(hostBased.config, 'anything')).toBe(true);
    expect(hostBased.warnings.join()).toContain('request host');
  });
});

describe('parseOdooConf', () => {
  it('reads [options] only, treats False as unset, keeps continuation lines', () => {
    const options = parseOdooConf(
      '; comment\n[options]\nadmin_passwd = x\ndb_password = False\naddons_path = /a,\n  /b\n[other]\ndb_host = nope\n',
    );
    expect(options).toEqual({ admin_passwd: 'x', addons_path: '/a,\n/b' });
  });
});
