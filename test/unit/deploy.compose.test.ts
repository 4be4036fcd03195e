/**
 * The compose stack (`docker-compose.yml`) and the files it mounts, checked without a Docker
 * engine: the services and what they publish, the addresses that matter (the one LISTEN on
 * PostgreSQL itself, everything else through PgBouncer), one secret on both sides, mounts of files
 * that exist and that the integration tests run, and a sidecar image that does not run as root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { parseOdooConf } from '../../src/config/odooConf.js';
import { PRODUCTION_NGINX_CONFIG } from '../helpers/servers/nginx.js';
import { findAll, parseNginx } from '../helpers/servers/nginxSyntax.js';
import { PRODUCTION_CONFIG as PRODUCTION_PGBOUNCER_CONFIG } from '../helpers/servers/pgbouncer.js';
import { assertTransactionPooling, parseIni, setting } from '../helpers/servers/pgbouncerConfig.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  user?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  ports?: Array<string | number | { published?: string | number; target?: number }>;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
};
const odooConf = parseOdooConf(read('deploy/odoo.conf'), 'deploy/odoo.conf');
const pgbouncerIni = parseIni(read('deploy/pgbouncer.ini'));

function service(name: string): Service {
  const found = compose.services[name];
  if (found === undefined) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** `${NAME:-default}`, `${NAME-default}` and `${NAME}` as compose resolves them, from `env`. */
function interpolate(value: string, env: Record<string, string> = {}): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}/g,
    (_m, name, colon, def) => {
      const set = env[name];
      if (set !== undefined && !(colon === ':' && set === '')) return set;
      return def ?? '';
    },
  );
}

/** A service's environment as the container gets it by default (both compose spellings). */
function environment(name: string, env: Record<string, string> = {}): Record<string, string> {
  const raw = service(name).environment ?? {};
  const pairs = Array.isArray(raw)
    ? raw.map((item) => [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)])
    : Object.entries(raw).map(([key, value]) => [key, String(value ?? '')]);
  return Object.fromEntries(pairs.map(([key = '', value = '']) => [key, interpolate(value, env)]));
}

/** Bind mounts: repository file → container path. */
function bindMounts(name: string): Map<string, string> {
  const mounts = new Map<string, string>();
  for (const volume of service(name).volumes ?? []) {
    const [source, target] =
      typeof volume === 'string' ? volume.split(':') : [volume.source, volume.target];
    if (source?.startsWith('.') && target) mounts.set(target, resolve(root, source));
  }
  return mounts;
}

function published(name: string): Array<{ host: string; port: string; target: string }> {
  return (service(name).ports ?? []).map((entry) => {
    if (typeof entry === 'object') {
      return { host: '', port: String(entry.published), target: String(entry.target) };
    }
    const parts = String(entry).split(':');
    const target = parts.pop() ?? '';
    const port = parts.pop() ?? target;
    return { host: parts.join(':'), port, target };
  });
}

describe('docker-compose.yml', () => {
  it('runs PostgreSQL 15, PgBouncer, Odoo 17, the sidecar built here, and nginx', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['nginx', 'odoo', 'pgbouncer', 'postgres', 'sidecar'].sort(),
    );
    expect(service('postgres').image).toMatch(/^postgres:15(\b|$)/);
    expect(service('pgbouncer').image).toMatch(/^(edoburu|bitnami)\/pgbouncer:/);
    expect(service('odoo').image).toBe('odoo:17');
    expect(service('nginx').image).toMatch(/^nginx:/);
  });

  it("publishes nginx on 8069 and the sidecar's admin port, both on loopback, nothing else", () => {
    for (const name of ['postgres', 'pgbouncer', 'odoo']) {
      expect({ name, ports: service(name).ports }).toEqual({ name, ports: undefined });
    }
    const listen = findAll(parseNginx(read('deploy/nginx.conf')), 'listen').map((d) => d.args[0]);
    expect(published('nginx')).toEqual([{ host: '127.0.0.1', port: '8069', target: listen[0] }]);
    // The status page for the person trying the stack; the bus port only through nginx.
    const { config } = loadConfig({ argv: [], env: environment('sidecar') });
    expect(config.adminHost).toBe('0.0.0.0');
    expect(published('sidecar')).toEqual([
      { host: '127.0.0.1', port: String(config.adminPort), target: String(config.adminPort) },
    ]);
  });

  it('holds the LISTEN on PostgreSQL itself and sends the reads through PgBouncer', () => {
    const sidecar = environment('sidecar');
    expect(sidecar).toMatchObject({
      IMDISPATCHER_DB_HOST: 'postgres',
      IMDISPATCHER_DB_PORT: '5432',
      DB_HOST: 'pgbouncer',
      DB_PORT: setting(pgbouncerIni, 'listen_port'),
      SIDECAR_ODOO_URL: 'http://odoo:8069',
    });
    // Read by the sidecar's own configuration loader, as the container will.
    const { config } = loadConfig({ argv: [], env: sidecar });
    expect(config).toMatchObject({
      listenDbHost: 'postgres',
      listenDbPort: 5432,
      readDbHost: 'pgbouncer',
      readDbPort: 6432,
      odooUrl: 'http://odoo:8069',
      dbUser: odooConf.db_user,
    });
    expect(config.secret).toBeTruthy();
    // Calls to Odoo stay below its HTTP workers, so a burst of subscribes leaves one for users.
    expect(config.odooConcurrency).toBeLessThan(Number(odooConf.workers));
  });

  it("believes nginx's forwarding headers, and only from the stack's own networks", () => {
    const { config } = loadConfig({ argv: [], env: environment('sidecar') });
    expect(config.proxyMode).toBe(true);
    expect(config.trustedProxies).not.toContain('0.0.0.0/0');
    expect(config.trustedProxies.length).toBeGreaterThan(0);
  });

  it('gives both sides the same secret and database password, overridable from the environment', () => {
    const secret = (name: string) => service(name).environment as Record<string, string>;
    expect(secret('odoo').BUS_SIDECAR_SECRET).toBe(secret('sidecar').BUS_SIDECAR_SECRET);
    expect(secret('odoo').BUS_SIDECAR_SECRET).toMatch(/^\$\{BUS_SIDECAR_SECRET:-.+\}$/);
    const overridden = { BUS_SIDECAR_SECRET: 'from-the-environment' };
    expect(environment('sidecar', overridden).BUS_SIDECAR_SECRET).toBe('from-the-environment');
    expect(environment('odoo', overridden).BUS_SIDECAR_SECRET).toBe('from-the-environment');

    const passwords = [
      environment('postgres').POSTGRES_PASSWORD,
      environment('pgbouncer').DB_PASSWORD,
      environment('odoo').PASSWORD,
      environment('sidecar').DB_PASSWORD,
    ];
    expect(new Set(passwords).size).toBe(1);
    expect(passwords[0]).toBeTruthy();
    expect(environment('postgres').POSTGRES_USER).toBe(odooConf.db_user);
  });

  it('mounts the files the integration tests run, and the addon into an addons path', () => {
    expect(bindMounts('nginx').get('/etc/nginx/nginx.conf')).toBe(PRODUCTION_NGINX_CONFIG);
    expect(bindMounts('pgbouncer').get('/etc/pgbouncer/pgbouncer.ini')).toBe(
      PRODUCTION_PGBOUNCER_CONFIG,
    );
    expect(bindMounts('odoo').get('/etc/odoo/odoo.conf')).toBe(join(root, 'deploy', 'odoo.conf'));
    const addonsPaths = (odooConf.addons_path ?? '').split(',').map((p) => p.trim());
    const addonMount = [...bindMounts('odoo')].find(([target]) => addonsPaths.includes(target));
    expect(addonMount, `a mount on one of ${addonsPaths.join(', ')}`).toBeDefined();
    expect(existsSync(join(addonMount?.[1] ?? '', 'bus_sidecar', '__manifest__.py'))).toBe(true);
    for (const name of Object.keys(compose.services)) {
      for (const [target, source] of bindMounts(name)) {
        expect({ name, target, exists: existsSync(source) }).toEqual({
          name,
          target,
          exists: true,
        });
      }
    }
  });

  it('lets the PgBouncer image write the auth_file deploy/pgbouncer.ini names, as it expects', () => {
    expect(setting(pgbouncerIni, 'auth_file')).toBe('/etc/pgbouncer/userlist.txt');
    expect(environment('pgbouncer')).toMatchObject({
      DB_USER: odooConf.db_user,
      AUTH_TYPE: setting(pgbouncerIni, 'auth_type'),
    });
  });

  it("builds the sidecar from the repository's Dockerfile, which does not run as root", () => {
    const build = service('sidecar').build;
    const context = typeof build === 'string' ? build : (build?.context ?? '.');
    const dockerfile =
      typeof build === 'object' ? (build.dockerfile ?? 'Dockerfile') : 'Dockerfile';
    expect(resolve(root, context)).toBe(root);
    expect(existsSync(join(root, dockerfile))).toBe(true);
    expect(service('sidecar').user).toBeUndefined();

    const instructions = read(dockerfile)
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((line) => /^[A-Z]+\s/.test(line));
    const users = instructions.filter((line) => line.startsWith('USER '));
    const lastUser = users.at(-1)?.split(/\s+/)[1] ?? 'root';
    expect(['root', '0', '0:0']).not.toContain(lastUser);
    expect(instructions.filter((line) => line.startsWith('FROM ')).at(-1)).toMatch(
      /^FROM node:24[-.\w]*slim/,
    );
    expect(instructions).toContain('EXPOSE 8072');
    expect(instructions).toContain('EXPOSE 9072');
    expect(instructions).toContain('ENTRYPOINT ["node", "dist/main.js"]');
    // Readiness is on the admin port.
    expect(instructions.find((line) => line.startsWith('HEALTHCHECK'))).toMatch(
      /node.*SIDECAR_ADMIN_PORT \|\| 9072.*\/readyz/,
    );
    expect(instructions.some((line) => /npm ci --omit=dev/.test(line))).toBe(true);
  });

  it('has only the top-level keys both Compose v2 and docker-compose 1.29 accept (no `name:`)', () => {
    const raw = parse(read('docker-compose.yml')) as Record<string, unknown>;
    const keys = Object.keys(raw).filter((key) => !key.startsWith('x-'));
    expect(keys.sort()).toEqual(['services', 'volumes']);
  });

  // Each Compose found here checks the file: the v2 plugin (`docker compose`) and Debian's
  // docker-compose 1.29 (which .ci/run installs). `config` needs no Docker engine.
  const tools = [
    { name: 'docker compose', command: 'docker', args: ['compose'] },
    { name: 'docker-compose', command: 'docker-compose', args: [] },
  ].map((tool) => ({
    ...tool,
    present: spawnSync(tool.command, [...tool.args, 'version'], { encoding: 'utf8' }).status === 0,
  }));
  for (const tool of tools) {
    const skipReason = `${tool.name} is not installed here (\`${tool.name} version\` failed)`;
    it(`is accepted by \`${tool.name} config\`${tool.present ? '' : ` (skipped: ${skipReason})`}`, (context) => {
      if (!tool.present) context.skip(skipReason);
      const result = spawnSync(
        tool.command,
        [...tool.args, '-f', 'docker-compose.yml', 'config', '-q'],
        { cwd: root, encoding: 'utf8' },
      );
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    });
  }
});

describe('deploy/odoo.conf', () => {
  it('loads bus_sidecar server-wide', () => {
    const modules = (odooConf.server_wide_modules ?? '').split(',').map((m) => m.trim());
    expect(modules).toEqual(expect.arrayContaining(['base', 'web', 'bus_sidecar']));
  });

  it('pools Odoo through PgBouncer and sends its long-lived LISTEN to PostgreSQL directly', () => {
    expect(odooConf).toMatchObject({
      db_host: 'pgbouncer',
      db_port: setting(pgbouncerIni, 'listen_port'),
      imdispatcher_db_host: 'postgres',
      imdispatcher_db_port: '5432',
    });
    // The sidecar pointed at the same file finds the same addresses.
    const { config } = loadConfig({
      argv: ['--odoo-config', join(root, 'deploy', 'odoo.conf')],
      env: {},
    });
    expect(config).toMatchObject({
      listenDbHost: 'postgres',
      listenDbPort: 5432,
      dbHost: 'pgbouncer',
      dbPort: 6432,
    });
  });

  it('runs prefork workers behind the proxy, with no password written in the file', () => {
    expect(Number(odooConf.workers)).toBeGreaterThan(0);
    expect(odooConf.proxy_mode).toBe('True');
    expect(odooConf.db_password).toBeUndefined();
    expect(odooConf.admin_passwd).toBeUndefined();
  });
});

describe('deploy/pgbouncer.ini', () => {
  it('keeps pool_mode = transaction, the mode the sidecar exists for', () => {
    expect(() => assertTransactionPooling(pgbouncerIni)).not.toThrow();
    expect(setting(pgbouncerIni, 'pool_mode')).toBe('transaction');
  });
});
