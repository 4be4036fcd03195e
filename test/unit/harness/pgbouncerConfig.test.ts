import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PRODUCTION_CONFIG } from '../../helpers/servers/pgbouncer.js';
import {
  adaptForTestMachine,
  consoleUsers,
  parseConnectString,
  parseIni,
  renderConnectString,
  renderUserList,
  section,
} from '../../helpers/servers/pgbouncerConfig.js';

const production = readFileSync(PRODUCTION_CONFIG, 'utf8');

const overrides = {
  listenAddr: '127.0.0.1',
  listenPort: 40001,
  socketDir: '/tmp/x',
  logFile: '/tmp/x/pgbouncer.log',
  pidFile: '/tmp/x/pgbouncer.pid',
  authFile: '/tmp/x/userlist.txt',
  serverHost: '127.0.0.1',
  serverPort: 40002,
};

const TEST_ONLY_KEYS = [
  'listen_addr',
  'listen_port',
  'unix_socket_dir',
  'logfile',
  'pidfile',
  'auth_file',
];

describe('deploy/pgbouncer.ini', () => {
  const sections = parseIni(production);

  it('pools Odoo in transaction mode and forwards every database to the compose service', () => {
    const main = section(sections, 'pgbouncer');
    expect(main?.entries.find((e) => e.key === 'pool_mode')?.value).toBe('transaction');
    expect(section(sections, 'databases')?.entries).toEqual([
      { key: '*', value: 'host=postgres port=5432' },
    ]);
  });

  it('listens on 6432 everywhere, with a production auth type and file', () => {
    const get = (key: string): string | undefined =>
      section(sections, 'pgbouncer')?.entries.find((e) => e.key === key)?.value;
    expect(get('listen_addr')).toBe('0.0.0.0');
    expect(get('listen_port')).toBe('6432');
    expect(get('auth_type')).toBe('scram-sha-256');
    expect(get('auth_file')).toMatch(/^\//);
    expect(get('ignore_startup_parameters')).toBe('extra_float_digits,options');
    expect(consoleUsers(sections).length).toBeGreaterThan(0);
  });
});

describe('adaptForTestMachine', () => {
  const adapted = parseIni(adaptForTestMachine(production, overrides));

  it('keeps every production setting that a test machine need not change', () => {
    const original = section(parseIni(production), 'pgbouncer')?.entries ?? [];
    const test = section(adapted, 'pgbouncer')?.entries ?? [];
    for (const entry of original.filter((e) => !TEST_ONLY_KEYS.includes(e.key))) {
      expect(test).toContainEqual(entry);
    }
  });

  it('points the databases and listeners at the test machine', () => {
    expect(section(adapted, 'databases')?.entries).toEqual([
      { key: '*', value: 'host=127.0.0.1 port=40002' },
    ]);
    const test = section(adapted, 'pgbouncer')?.entries ?? [];
    expect(test).toContainEqual({ key: 'listen_port', value: '40001' });
    expect(test).toContainEqual({ key: 'logfile', value: '/tmp/x/pgbouncer.log' });
    expect(test).toContainEqual({ key: 'auth_file', value: '/tmp/x/userlist.txt' });
  });

  it('refuses a configuration that is not transaction pooling', () => {
    const session = production.replace('pool_mode = transaction', 'pool_mode = session');
    expect(() => adaptForTestMachine(session, overrides)).toThrow(/pool_mode = transaction/);
    const missing = production.replace(/^pool_mode.*$/m, '');
    expect(() => adaptForTestMachine(missing, overrides)).toThrow(/pool_mode = transaction/);
  });

  it('keeps connect-string options other than host and port', () => {
    const text =
      '[databases]\nodoo = host=db port=1 dbname=prod pool_mode=session\n[pgbouncer]\npool_mode = transaction\nadmin_users = a';
    const db = section(parseIni(adaptForTestMachine(text, overrides)), 'databases');
    expect(db?.entries[0]?.value).toBe('host=127.0.0.1 port=40002 dbname=prod pool_mode=session');
  });
});

describe('connect strings and user lists', () => {
  it('round-trips quoted values', () => {
    const pairs = parseConnectString("host=a password='x y\\'z' port=5");
    expect(pairs).toEqual([
      ['host', 'a'],
      ['password', "x y'z"],
      ['port', '5'],
    ]);
    expect(parseConnectString(renderConnectString(pairs))).toEqual(pairs);
  });

  it('writes one quoted line per user', () => {
    expect(renderUserList({ odoo: 'odoo', 'we"ird': 'p"w' })).toBe(
      '"odoo" "odoo"\n"we""ird" "p""w"\n',
    );
  });
});
